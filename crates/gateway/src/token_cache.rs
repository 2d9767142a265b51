//! The verified-token cache for `api` sessions: an upstream bearer token whose signature has
//! been verified is remembered (by its exact string) with its header and claims, so the same
//! token on the next request skips the signature check and the claims parse. Every hit re-runs
//! the claims validation (`exp`/`nbf` with the verifier's leeway, `iss`, `aud`, ...) against the
//! current clock, with `jose::jwt::validate`, so a cached token is refused exactly when a fresh
//! verification would refuse it. An entry is only valid for the verifier (upstream key set) that
//! checked it: replacing the keys clears the cache, and an entry from an older verifier misses.
//! Failures are never cached. Bounded: when full, the oldest entry goes. Sharded mutexes.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::bounded::BoundedMap;

/// A verified token's header and claims.
#[derive(Debug)]
pub struct VerifiedToken {
    pub header: Map<String, Value>,
    pub claims: Arc<Map<String, Value>>,
}

/// A bounded, thread-safe cache of verified upstream bearer tokens.
#[derive(Debug)]
pub struct TokenCache {
    map: BoundedMap<Arc<str>, Entry>,
}

#[derive(Debug)]
struct Entry {
    token: Arc<VerifiedToken>,
    verifier: Arc<jose::Verifier>,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens (0 caches nothing).
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            map: BoundedMap::new(capacity),
        }
    }

    /// Verifies `token` with `verifier` against `v`, or takes a cached verification by the same
    /// verifier and re-validates its claims against `v` (so `exp`/`nbf` use `v`'s clock).
    pub fn verify(
        &self,
        verifier: &Arc<jose::Verifier>,
        token: &str,
        v: &jose::Validation,
    ) -> Result<Arc<VerifiedToken>, jose::Error> {
        if let Some(cached) = self.get(verifier, token) {
            return match jose::jwt::validate(&cached.header, &cached.claims, v) {
                Ok(()) => Ok(cached),
                Err(e) => {
                    self.remove(token);
                    Err(e)
                }
            };
        }
        let jwt = verifier.verify_jwt(token, v)?;
        let verified = Arc::new(VerifiedToken {
            header: jwt.header,
            claims: Arc::new(jwt.claims),
        });
        self.insert(verifier, token, verified.clone());
        Ok(verified)
    }

    fn get(&self, verifier: &Arc<jose::Verifier>, token: &str) -> Option<Arc<VerifiedToken>> {
        self.map
            .get_with(token, |e| {
                Ok(Arc::ptr_eq(&e.verifier, verifier).then(|| e.token.clone()))
            })
            .flatten()
    }

    fn remove(&self, token: &str) {
        self.map.remove(token);
    }

    fn insert(&self, verifier: &Arc<jose::Verifier>, token: &str, verified: Arc<VerifiedToken>) {
        self.map.insert(
            Arc::from(token),
            Entry {
                token: verified,
                verifier: verifier.clone(),
            },
        );
    }

    /// Forgets every token (the upstream keys changed).
    pub fn clear(&self) {
        self.map.clear();
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use super::*;
    use jose::{Algorithm, Key, KeySet, Signer, Validation, Verifier};
    use serde_json::json;

    const NOW: i64 = 1_764_000_000;

    fn signer_and_verifier() -> (Signer, Arc<Verifier>) {
        let key = Key::generate(Algorithm::ES256).unwrap();
        let verifier = Arc::new(Verifier::new(KeySet::from(key.clone())));
        (Signer::new(key, Algorithm::ES256).unwrap(), verifier)
    }

    fn token(signer: &Signer, sub: &str, exp: i64) -> String {
        signer
            .sign_claims(&json!({"iss": "up", "aud": "gw", "sub": sub, "exp": exp}))
            .unwrap()
    }

    fn at(now: i64) -> Validation {
        Validation {
            now: Some(now),
            issuers: vec!["up".into()],
            audiences: vec!["gw".into()],
            ..Validation::default()
        }
    }

    #[test]
    fn a_hit_returns_the_same_claims() {
        let (signer, verifier) = signer_and_verifier();
        let cache = TokenCache::new(100);
        let t = token(&signer, "alice", NOW + 300);
        let first = cache.verify(&verifier, &t, &at(NOW)).unwrap();
        let second = cache.verify(&verifier, &t, &at(NOW + 1)).unwrap();
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(second.claims.get("sub"), Some(&json!("alice")));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn an_expired_token_is_refused_after_being_accepted() {
        let (signer, verifier) = signer_and_verifier();
        let cache = TokenCache::new(100);
        let exp = NOW + 300;
        let t = token(&signer, "alice", exp);
        cache.verify(&verifier, &t, &at(NOW)).unwrap();
        // Inside the leeway: still valid, as the verifier would say.
        let leeway = i64::try_from(jose::jwt::DEFAULT_LEEWAY).unwrap();
        cache.verify(&verifier, &t, &at(exp + leeway - 1)).unwrap();
        let err = cache.verify(&verifier, &t, &at(exp + leeway)).unwrap_err();
        assert!(matches!(err, jose::Error::Expired { .. }), "{err}");
        assert_eq!(
            verifier
                .verify_jwt(&t, &at(exp + leeway))
                .unwrap_err()
                .to_string(),
            err.to_string()
        );
        assert!(cache.is_empty());
    }

    #[test]
    fn claims_checks_run_on_every_hit() {
        let (signer, verifier) = signer_and_verifier();
        let cache = TokenCache::new(100);
        let t = token(&signer, "alice", NOW + 300);
        cache.verify(&verifier, &t, &at(NOW)).unwrap();
        let other_audience = Validation {
            audiences: vec!["elsewhere".into()],
            ..at(NOW)
        };
        assert!(cache.verify(&verifier, &t, &other_audience).is_err());
    }

    #[test]
    fn a_different_or_invalid_token_misses_and_failures_are_not_cached() {
        let (signer, verifier) = signer_and_verifier();
        let cache = TokenCache::new(100);
        let alice = token(&signer, "alice", NOW + 300);
        let bob = token(&signer, "bob", NOW + 300);
        cache.verify(&verifier, &alice, &at(NOW)).unwrap();
        let b = cache.verify(&verifier, &bob, &at(NOW)).unwrap();
        assert_eq!(b.claims.get("sub"), Some(&json!("bob")));
        // A tampered signature is refused, every time, and never cached.
        let mut tampered = alice.clone();
        tampered.pop();
        tampered.push(if alice.ends_with('A') { 'B' } else { 'A' });
        for _ in 0..2 {
            assert!(cache.verify(&verifier, &tampered, &at(NOW)).is_err());
        }
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn a_new_key_set_misses_and_clear_empties() {
        let (signer, verifier) = signer_and_verifier();
        let cache = TokenCache::new(100);
        let t = token(&signer, "alice", NOW + 300);
        cache.verify(&verifier, &t, &at(NOW)).unwrap();
        // Another upstream key set: the cached verification does not count.
        let (_, other) = signer_and_verifier();
        assert!(cache.verify(&other, &t, &at(NOW)).is_err());
        cache.verify(&verifier, &t, &at(NOW)).unwrap();
        assert_eq!(cache.len(), 1);
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn the_bound_is_respected() {
        let (signer, verifier) = signer_and_verifier();
        let cache = TokenCache::new(64);
        for i in 0..200 {
            let t = token(&signer, &format!("user{i}"), NOW + 300);
            cache.verify(&verifier, &t, &at(NOW)).unwrap();
            assert!(cache.len() <= 64);
        }
        assert_eq!(cache.len(), 64);
        let none = TokenCache::new(0);
        let t = token(&signer, "alice", NOW + 300);
        none.verify(&verifier, &t, &at(NOW)).unwrap();
        assert!(none.is_empty());
    }
}
