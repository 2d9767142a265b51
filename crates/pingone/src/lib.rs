//! PingOne token profiles: the `login_hint_token` and the transaction-approval `request` object
//! (the `authz` crate is a local PingOne-style authorization server that consumes them).
//!
//! Builders make the tokens PingOne documents; validators check them the way PingOne does,
//! against an application's settings, and say which rule failed ([`Error`]). All signing and
//! verification goes through `jose`.
#![forbid(unsafe_code)]

pub mod app;
mod check;
pub mod error;
pub mod login_hint;
pub mod region;
pub mod request_object;

use serde_json::{Map, Value};

pub use app::{Application, Expected, LookupFn, MatchedBy, User, UserLookup};
pub use error::{Error, Profile, UnsignedRefusal};
pub use login_hint::LoginHint;
pub use region::Region;
pub use request_object::{RequestObject, Template};

/// A token a builder made, with the header and claims it carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub token: String,
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
}
