//! Where a request's user attributes come from: [`api`] (a bearer token), or a `web` login
//! ([`web`]: OIDC against the provider; [`seal`] and [`cookie`]: the sealed cookies;
//! [`login`]: its hooks in the request path; [`logout`]: logout, back-channel logout and the
//! shared [`revocation`] list).

pub mod api;
pub mod cookie;
pub mod login;
pub mod logout;
pub mod revocation;
pub mod seal;
pub mod web;
