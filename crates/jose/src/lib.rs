//! Signet's JOSE core: strict compact JWS, keys and JWT claims, with crypto from aws-lc-rs.
//!
//! No I/O, no async, no global state. The rules this crate enforces, and the attack each one
//! defends against, are listed in `SECURITY.md` beside this crate, each with its test.
#![forbid(unsafe_code)]

pub mod alg;
pub mod b64;
mod der;
mod ed25519;
pub mod error;
pub mod json;
pub mod jws;
pub mod jwt;
pub mod key;
pub mod keyset;
mod roca;
pub mod time;

pub use alg::{Algorithm, Curve, Family};
pub use error::{Error, Part};
pub use jws::{Compact, Signer, Verified, Verifier};
pub use jwt::{Jwt, Validation};
pub use key::{Key, KeyKind};
pub use keyset::KeySet;
