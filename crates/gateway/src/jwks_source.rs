//! An upstream issuer's verification keys (the `[api_session]` JWK Set, the web provider's
//! `jwks_uri`), swappable while requests run, and fetched again when a token names a key the
//! set does not have: the issuer has rotated its key, and its new tokens must not fail until
//! the next periodic fetch.
//!
//! The re-fetch is single-flight (every worker waiting for it shares one fetch), happens at
//! most once per `min_interval`, and keeps the known keys when it fails.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crate::fetch::{self, HttpClient};

/// The default of `jwks_refetch_min_interval_seconds`.
pub const DEFAULT_REFETCH_MIN_INTERVAL: Duration = Duration::from_secs(30);

/// The keys, where they come from, and the re-fetch state.
pub struct KeySource {
    /// The JWK Set URL; `None` for a file (nothing to fetch again).
    url: Option<String>,
    verifier: RwLock<Arc<jose::Verifier>>,
    /// Incremented each time the keys are replaced.
    generation: AtomicU64,
    /// When the set was last fetched because of an unknown `kid`; held during that fetch.
    refetched: tokio::sync::Mutex<Option<Instant>>,
    min_interval: Duration,
}

/// What a re-fetch for an unknown `kid` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refetch {
    /// The keys changed (by this fetch or one that ran meanwhile): verify again.
    Changed,
    /// Nothing new: no URL, fetched too recently, the fetch failed, or the same keys.
    Unchanged,
}

impl KeySource {
    pub fn new(keys: jose::KeySet, url: Option<String>, min_interval: Duration) -> KeySource {
        KeySource {
            url,
            verifier: RwLock::new(Arc::new(jose::Verifier::new(keys))),
            generation: AtomicU64::new(0),
            refetched: tokio::sync::Mutex::new(None),
            min_interval,
        }
    }

    /// The JWK Set URL, if the keys come from one.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// The current verifier.
    pub fn verifier(&self) -> Arc<jose::Verifier> {
        self.verifier
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Changes each time the keys are replaced: a token verified under another generation must
    /// be verified again.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Replaces the keys (a periodic fetch, or a re-fetch).
    pub fn set_keys(&self, keys: jose::KeySet) {
        *self
            .verifier
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(jose::Verifier::new(keys));
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// A token verified under generation `seen` named a `kid` the keys do not have: fetch the
    /// set again (once for all waiting callers, at most once per `min_interval`; the known keys
    /// stay when the fetch fails).
    pub async fn refetch_for_unknown_kid(&self, client: &HttpClient, seen: u64) -> Refetch {
        let Some(url) = &self.url else {
            return Refetch::Unchanged;
        };
        let mut last = self.refetched.lock().await;
        if self.generation() != seen {
            // Another caller's fetch (or the periodic one) replaced the keys meanwhile.
            return Refetch::Changed;
        }
        if last.is_some_and(|at| at.elapsed() < self.min_interval) {
            return Refetch::Unchanged;
        }
        *last = Some(Instant::now());
        match fetch::jwks(client, url).await {
            Ok(keys) => {
                self.set_keys(keys);
                Refetch::Changed
            }
            Err(e) => {
                eprintln!(
                    "signet gateway: fetching {url} again for an unknown kid failed, keeping the known keys: {e}"
                );
                Refetch::Unchanged
            }
        }
    }
}
