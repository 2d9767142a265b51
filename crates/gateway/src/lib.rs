//! PingAccess-style gateway: JWT identity mapping and auth token management.
//!
//! The domain logic is plain functions over data, shared by every request thread of the proxy:
//! - [`config`]: the TOML configuration; [`check`]: every problem of one at once;
//! - [`http`]: the canonical request path and the screening of the client's header fields;
//! - [`identity_mapping`]: session attributes → backend JWT claims (inclusion/exclusion lists,
//!   dot notation);
//! - [`token`]: registered claims, the client-certificate chain claim, signing;
//! - [`keyset`]: the signing keys in a file shared by replicas, rolled by the clock, and the JWKS;
//! - [`jwt_cache`]: signed JWTs reused per mapping, attributes and signing key;
//! - [`routes`]: a checked configuration compiled into the routing table;
//! - [`proxy`]: the request pipeline (prepare, route, session, identity, upstream);
//! - [`server`]: listeners, worker threads, connections and graceful shutdown;
//! - [`runtime`]: building routes (fetching keys, discovery), refreshes, reloads, serving;
//! - [`fetch`], [`jwks_source`]: the one HTTP client for providers, and upstream keys fetched
//!   again when a token names an unknown `kid`;
//! - [`metrics`]: the counters behind `/pa/metrics`;
//! - [`tls`]: the HTTPS listener with optional client certificates, and the verified chain;
//! - [`session`]: `api` bearer tokens, `web` OIDC logins and their sealed cookie;
//! - [`upstream`]: one worker's backend connections, and the inline exchange of a request
//!   without a body (RFC 9112 framing);
//! - [`token_cache`]: upstream bearer tokens already verified;
//! - [`coarse`]: one worker's coarse deadlines.
//!
//! The semantics are documented in this crate's `README.md`.
#![forbid(unsafe_code)]

mod bounded;
mod coarse;

pub mod check;
pub mod config;
pub mod explain;
pub mod fetch;
mod http;
mod identity;
mod identity_mapping;
mod jwks_source;
mod jwt_cache;
pub mod key_seed;
pub mod keyset;
mod metrics;
pub mod proxy;
pub mod routes;
pub mod rules;
pub mod runtime;
pub mod server;
mod session;
mod shared_file;
pub mod tls;
mod token;
mod token_cache;
mod upstream;

/// The internals the fuzz targets (`fuzz/`) drive.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    pub use crate::upstream::http1::fuzzing::*;
}

pub use check::{check, Problem};
pub use config::{Config, LoadError};
pub use identity_mapping::Mapping;
pub use jwt_cache::{CacheKey, ClaimsDigest, JwtCache};
pub use keyset::{Jwks, Keyset, KeysetError, SigningKey};
pub use token::{IssuedJwt, TokenError, TokenProfile};

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod test_support {
    use std::path::PathBuf;

    use serde_json::{Map, Value};

    /// The object inside a `json!({...})`.
    pub(crate) fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    /// A fresh directory under the system temp dir, removed on drop.
    pub(crate) struct TempDir(pub(crate) PathBuf);

    impl TempDir {
        pub(crate) fn new(tag: &str) -> TempDir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let path = std::env::temp_dir().join(format!(
                "gateway-{tag}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        pub(crate) fn write(&self, name: &str, text: &str) {
            std::fs::write(self.0.join(name), text).unwrap();
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
