//! The JWT cache (`cache_jwt = true`): a signed backend JWT is reused for requests with the same
//! mapping, the same identity claims and the same signing key. A changed attribute changes the
//! digest and a rolled key changes the kid, so either yields a new JWT; a cached JWT is renewed
//! once less than a fifth of its lifetime is left. Bounded: when full, the oldest entry goes.
//! Sharded mutexes, so request threads rarely wait on each other.

use std::io::Write;
use std::sync::Arc;

use aws_lc_rs::digest;
use serde_json::{Map, Value};

use crate::bounded::BoundedMap;
use crate::token::IssuedJwt;

/// A cached JWT is renewed once less than `1 / RENEW_FRACTION` of its lifetime remains.
pub const RENEW_FRACTION: i64 = 5;

/// SHA-256 of the canonical serialization of a claims set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClaimsDigest([u8; 32]);

/// Digests claims canonically: object members sorted by name at every level, compact JSON, so
/// the same claims in another order give the same digest.
pub fn claims_digest(claims: &Map<String, Value>) -> ClaimsDigest {
    let mut canonical = Vec::with_capacity(256);
    write_canonical_object(claims, &mut canonical);
    let mut out = [0u8; 32];
    let hash = digest::digest(&digest::SHA256, &canonical);
    out.copy_from_slice(hash.as_ref());
    ClaimsDigest(out)
}

fn write_canonical_object(object: &Map<String, Value>, out: &mut Vec<u8>) {
    let mut members: Vec<(&String, &Value)> = object.iter().collect();
    members.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (index, (name, value)) in members.into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        // Writing JSON into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, name);
        out.push(b':');
        write_canonical(value, out);
    }
    out.push(b'}');
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(object) => write_canonical_object(object, out),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

/// What a cached JWT is for: mapping name, identity-claims digest, signing key id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    mapping: Arc<str>,
    claims: ClaimsDigest,
    kid: Arc<str>,
}

impl CacheKey {
    pub fn new(mapping: Arc<str>, claims: ClaimsDigest, kid: Arc<str>) -> CacheKey {
        CacheKey {
            mapping,
            claims,
            kid,
        }
    }
}

/// A bounded, thread-safe cache of signed backend JWTs.
#[derive(Debug)]
pub struct JwtCache {
    map: BoundedMap<CacheKey, Entry>,
}

#[derive(Debug)]
struct Entry {
    token: Arc<str>,
    renew_at: i64,
}

/// When a JWT issued at `issued_at`, expiring at `expires_at`, should be replaced.
pub fn renew_at(issued_at: i64, expires_at: i64) -> i64 {
    let lifetime = expires_at.saturating_sub(issued_at);
    expires_at.saturating_sub((lifetime / RENEW_FRACTION).max(1))
}

impl JwtCache {
    /// A cache of at most about `capacity` JWTs (0 caches nothing).
    pub fn new(capacity: usize) -> JwtCache {
        JwtCache {
            map: BoundedMap::new(capacity),
        }
    }

    /// The cached JWT for `key` if it is not yet due for renewal at `now`; a due entry is
    /// dropped.
    pub fn get(&self, key: &CacheKey, now: i64) -> Option<Arc<str>> {
        self.map.get_with(key, |e| {
            if now < e.renew_at {
                Ok(e.token.clone())
            } else {
                Err(())
            }
        })
    }

    /// Caches `jwt` for `key`, evicting the oldest entries if the cache is full.
    /// [`JwtCache::get`], with the time the JWT is due for renewal.
    pub fn get_with_renewal(&self, key: &CacheKey, now: i64) -> Option<(Arc<str>, i64)> {
        self.map.get_with(key, |e| {
            if now < e.renew_at {
                Ok((e.token.clone(), e.renew_at))
            } else {
                Err(())
            }
        })
    }

    pub fn insert(&self, key: CacheKey, jwt: &IssuedJwt) {
        self.map.insert(
            key,
            Entry {
                token: jwt.token.clone(),
                renew_at: renew_at(jwt.issued_at, jwt.expires_at),
            },
        );
    }

    /// The cached JWT for `key`, or a new one from `issue` (called without any lock held), cached.
    pub fn get_or_issue<E>(
        &self,
        key: CacheKey,
        now: i64,
        issue: impl FnOnce() -> Result<IssuedJwt, E>,
    ) -> Result<Arc<str>, E> {
        if let Some(token) = self.get(&key, now) {
            return Ok(token);
        }
        let jwt = issue()?;
        self.insert(key, &jwt);
        Ok(jwt.token)
    }

    /// Number of cached JWTs.
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
    use crate::test_support::object;
    use serde_json::json;

    const NOW: i64 = 1_764_000_000;

    fn key(mapping: &str, claims: Value, kid: &str) -> CacheKey {
        CacheKey::new(mapping.into(), claims_digest(&object(claims)), kid.into())
    }

    fn jwt(token: &str, issued_at: i64, lifetime: i64) -> IssuedJwt {
        IssuedJwt {
            token: token.into(),
            issued_at,
            expires_at: issued_at + lifetime,
        }
    }

    #[test]
    fn digest_ignores_member_order_at_every_level() {
        let a = claims_digest(&object(
            json!({"a": 1, "b": {"x": [1, {"p": 1, "q": 2}], "y": "s"}}),
        ));
        let b = claims_digest(&object(
            json!({"b": {"y": "s", "x": [1, {"q": 2, "p": 1}]}, "a": 1}),
        ));
        assert_eq!(a, b);
    }

    #[test]
    fn digest_changes_with_any_value_or_array_order() {
        let base = claims_digest(&object(json!({"a": [1, 2], "s": "x"})));
        for other in [
            json!({"a": [2, 1], "s": "x"}),
            json!({"a": [1, 2], "s": "y"}),
            json!({"a": [1, 2], "s": "x", "t": null}),
            json!({"a": [1, 2]}),
            json!({"a": "[1,2]", "s": "x"}),
        ] {
            assert_ne!(claims_digest(&object(other.clone())), base, "{other}");
        }
        // Distinct structures never share a serialization.
        assert_ne!(
            claims_digest(&object(json!({"a,\"b\":1": 2}))),
            claims_digest(&object(json!({"a": 2, "b": 1})))
        );
    }

    #[test]
    fn returns_the_cached_jwt_until_the_renewal_margin() {
        let cache = JwtCache::new(10);
        let k = key("m", json!({"sub": "u"}), "kid-1");
        assert!(cache.get(&k, NOW).is_none());
        cache.insert(k.clone(), &jwt("t1", NOW, 300));
        assert_eq!(renew_at(NOW, NOW + 300), NOW + 240);
        assert_eq!(cache.get(&k, NOW + 239).as_deref(), Some("t1"));
        assert_eq!(cache.get(&k, NOW + 240), None, "renewed before expiry");
        assert!(cache.is_empty(), "the stale entry is dropped");
    }

    #[test]
    fn renewal_margin_is_at_least_a_second() {
        assert_eq!(renew_at(NOW, NOW + 3), NOW + 2);
        assert_eq!(renew_at(NOW, NOW), NOW - 1);
    }

    #[test]
    fn a_changed_attribute_or_a_rolled_key_or_another_mapping_misses() {
        let cache = JwtCache::new(10);
        cache.insert(
            key("m", json!({"sub": "u", "role": "a"}), "kid-1"),
            &jwt("t", NOW, 300),
        );
        assert!(cache
            .get(&key("m", json!({"role": "a", "sub": "u"}), "kid-1"), NOW)
            .is_some());
        assert!(cache
            .get(&key("m", json!({"sub": "u", "role": "b"}), "kid-1"), NOW)
            .is_none());
        assert!(cache
            .get(&key("m", json!({"sub": "u", "role": "a"}), "kid-2"), NOW)
            .is_none());
        assert!(cache
            .get(&key("n", json!({"sub": "u", "role": "a"}), "kid-1"), NOW)
            .is_none());
    }

    #[test]
    fn evicts_the_oldest_when_full() {
        let cache = JwtCache::new(3);
        let keys: Vec<CacheKey> = (0..4).map(|i| key("m", json!({ "i": i }), "k")).collect();
        for (i, k) in keys.iter().take(3).enumerate() {
            cache.insert(k.clone(), &jwt(&format!("t{i}"), NOW, 300));
        }
        // Re-inserting key 0 makes it the newest; key 1 is then the oldest.
        cache.insert(keys[0].clone(), &jwt("t0b", NOW, 300));
        cache.insert(keys[3].clone(), &jwt("t3", NOW, 300));
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get(&keys[1], NOW), None);
        assert_eq!(cache.get(&keys[0], NOW).as_deref(), Some("t0b"));
        assert_eq!(cache.get(&keys[2], NOW).as_deref(), Some("t2"));
        assert_eq!(cache.get(&keys[3], NOW).as_deref(), Some("t3"));
    }

    #[test]
    fn large_caches_stay_within_capacity() {
        let cache = JwtCache::new(1000);
        for i in 0..5000 {
            cache.insert(key("m", json!({ "i": i }), "k"), &jwt("t", NOW, 300));
        }
        assert!(cache.len() <= 1000 + 16, "{}", cache.len());
        assert!(cache.len() >= 900, "{}", cache.len());
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let cache = JwtCache::new(0);
        let k = key("m", json!({}), "k");
        cache.insert(k.clone(), &jwt("t", NOW, 300));
        assert!(cache.get(&k, NOW).is_none());
    }

    #[test]
    fn get_or_issue_issues_once_then_reuses_and_passes_errors_through() {
        let cache = JwtCache::new(10);
        let k = key("m", json!({"sub": "u"}), "k");
        let mut calls = 0;
        for _ in 0..3 {
            let token = cache
                .get_or_issue(k.clone(), NOW, || {
                    calls += 1;
                    Ok::<_, ()>(jwt("t", NOW, 300))
                })
                .unwrap();
            assert_eq!(&*token, "t");
        }
        assert_eq!(calls, 1);
        let other = key("m", json!({"sub": "v"}), "k");
        assert_eq!(cache.get_or_issue(other, NOW, || Err("nope")), Err("nope"));
    }

    #[test]
    fn shared_between_threads() {
        let cache = Arc::new(JwtCache::new(4096));
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let cache = cache.clone();
                std::thread::spawn(move || {
                    for i in 0..500 {
                        let k = key("m", json!({ "i": i % 100 }), "k");
                        let token = cache
                            .get_or_issue(k, NOW, || {
                                Ok::<_, ()>(jwt(&format!("t{}", i % 100), NOW, 300))
                            })
                            .unwrap();
                        assert_eq!(&*token, format!("t{}", i % 100), "thread {t}");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(cache.len(), 100);
    }
}
