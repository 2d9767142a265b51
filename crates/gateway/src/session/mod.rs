//! Where a request's user attributes come from: [`api`] (a bearer token), or a `web` login
//! ([`web`]: OIDC against the provider and the sealed cookie; [`login`]: its hooks in the
//! request path).

pub mod api;
pub mod login;
pub mod web;
