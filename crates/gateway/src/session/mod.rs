//! Where a request's user attributes come from: [`api`] (a bearer token) and `web` (an OIDC
//! login and a sealed cookie, in `crate::web_session`).

pub mod api;
