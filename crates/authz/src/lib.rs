//! `signet authz`: a local PingOne-style authorization server that consumes login_hint_tokens
//! and request objects exactly as the token validators of the `pingone` crate check them.
#![forbid(unsafe_code)]
//!
//! Domain logic is plain functions over data, each module tested on its own:
//! [`config`] (TOML and its validation), [`oauth`] (authorize requests, grants, client
//! authentication, token claims), [`flow`] (the sign-on state machine), [`template`]
//! (notification rendering), [`view`] (PingOne's JSON shapes), [`store`] (bounded stores) and
//! [`error`] (PingOne's error envelope). The axum handlers in `http` only extract, call and
//! answer.
//!
//! Choices where PingOne's documentation is silent:
//! - Authorize errors: the PingOne envelope `{id, code, message, details[{code, target,
//!   message}]}` (400 `INVALID_DATA`, the detail names the parameter and the failing rule). In
//!   a redirect mode, once the client and redirect URI are trusted, the error goes to the
//!   redirect URI instead as OAuth `error`/`error_description`/`state`.
//! - The token endpoint answers OAuth's `{error, error_description}` (RFC 6749 §5.2);
//!   userinfo answers 401 with the envelope (`ACCESS_FAILED`, detail `INVALID_TOKEN`).
//! - A redirect-mode authorize that needs the user answers 302 to `/{envId}/signon/?flowId=`
//!   (a stand-in for PingOne's hosted sign-on page); one that completes at once (a token named
//!   a user without devices) redirects straight to the client with the code.
//! - A wrong passcode is 400 `INVALID_DATA`, detail `INVALID_OTP` with
//!   `innerError.failuresRemaining`; the third fails the flow (`FAILED`, then `access_denied`
//!   at resume). Five wrong passwords fail it too.
//! - Authorization codes are consumed by their first presentation, even a failing one.

pub mod certificate;
pub mod ciba;
pub mod client_auth;
pub mod clock;
pub mod config;
pub mod discovery;
pub mod error;
pub mod flow;
mod http;
pub mod lockout;
pub mod oauth;
pub mod placeholder;
pub mod random;
pub mod refresh;
pub mod request;
pub mod store;
pub mod template;
pub mod totp;
pub mod view;

pub use clock::Clock;
pub use config::{Config, ConfigError, Limits};
pub use http::{Authz, SetupError};
