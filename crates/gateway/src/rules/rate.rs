//! Token buckets for `rate_limit` rules: one bucket per key (an identity or a client address)
//! per process, shared by every worker through sharded locks, so the configured rate holds for
//! the whole replica however requests spread over workers (our choice; PingAccess counts per
//! engine node as well). Buckets are bounded in number: past [`MAX_KEYS`], full buckets (which
//! are the same as absent ones) are dropped first, then the least recently used.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Most keys remembered per rule.
pub const MAX_KEYS: usize = 100_000;
const SHARDS: usize = 16;

/// What a bucket is kept for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RateKey {
    Identity(String),
    Address(IpAddr),
}

/// A token bucket's parameters: `burst` tokens at most, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The buckets of one rule.
#[derive(Debug)]
pub struct Limiter {
    rate: Rate,
    shards: Vec<Mutex<HashMap<RateKey, Bucket>>>,
    hasher: std::collections::hash_map::RandomState,
    max_keys: usize,
}

impl Limiter {
    pub fn new(rate: Rate) -> Limiter {
        Limiter::with_capacity(rate, MAX_KEYS)
    }

    fn with_capacity(rate: Rate, max_keys: usize) -> Limiter {
        Limiter {
            rate,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
            max_keys,
        }
    }

    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// The key's shard (always found: the index is below the number of shards).
    fn shard(&self, key: &RateKey) -> Option<&Mutex<HashMap<RateKey, Bucket>>> {
        let i = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        self.shards.get(i)
    }

    /// Takes one token for `key` at `now`: Ok with the tokens left, or Err with how long until
    /// one is available.
    pub fn take(&self, key: &RateKey, now: Instant) -> Result<f64, Duration> {
        let rate = self.rate;
        let Some(shard) = self.shard(key) else {
            return Ok(rate.burst);
        };
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        if !shard.contains_key(key) && shard.len() >= self.max_keys / SHARDS {
            evict(&mut shard, rate, now);
        }
        let bucket = shard.entry(key.clone()).or_insert(Bucket {
            tokens: rate.burst,
            last: now,
        });
        bucket.tokens = refilled(*bucket, rate, now);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(bucket.tokens)
        } else {
            let wait = (1.0 - bucket.tokens) / rate.per_second;
            Err(Duration::from_secs_f64(wait.clamp(0.0, 86_400.0 * 365.0)))
        }
    }

    /// The tokens `key` has at `now`, taking none (for `explain`).
    pub fn peek(&self, key: &RateKey, now: Instant) -> f64 {
        let Some(shard) = self.shard(key) else {
            return self.rate.burst;
        };
        let shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        shard
            .get(key)
            .map_or(self.rate.burst, |b| refilled(*b, self.rate, now))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

fn refilled(b: Bucket, rate: Rate, now: Instant) -> f64 {
    let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
    (b.tokens + elapsed * rate.per_second).min(rate.burst)
}

/// Drops the full buckets; if none is full, the least recently used one.
fn evict(shard: &mut HashMap<RateKey, Bucket>, rate: Rate, now: Instant) {
    let before = shard.len();
    shard.retain(|_, b| refilled(*b, rate, now) < rate.burst);
    if shard.len() == before {
        if let Some(oldest) = shard
            .iter()
            .min_by_key(|(_, b)| b.last)
            .map(|(k, _)| k.clone())
        {
            shard.remove(&oldest);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn id(s: &str) -> RateKey {
        RateKey::Identity(s.into())
    }

    #[test]
    fn a_bucket_allows_its_burst_then_the_rate() {
        let l = Limiter::new(Rate {
            per_second: 2.0,
            burst: 3.0,
        });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.take(&id("a"), t0).is_ok());
        }
        let wait = l.take(&id("a"), t0).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        // Another key has its own bucket.
        assert!(l.take(&id("b"), t0).is_ok());
        assert!(l.take(&id("a"), t0 + Duration::from_millis(499)).is_err());
        assert!(l.take(&id("a"), t0 + Duration::from_millis(1000)).is_ok());
        // Over 10 s at 2/s: 20 more, never more than the burst at once.
        let mut ok = 0;
        for ms in (1000..=11_000).step_by(10) {
            if l.take(&id("a"), t0 + Duration::from_millis(ms)).is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 21, "the one left at 1 s, then 2 per second");
        assert_eq!(l.peek(&id("new"), t0), 3.0);
    }

    #[test]
    fn keys_are_bounded_and_full_buckets_go_first() {
        let l = Limiter::with_capacity(
            Rate {
                per_second: 1.0,
                burst: 1.0,
            },
            SHARDS * 4,
        );
        let t0 = Instant::now();
        for i in 0..1000 {
            let _ = l.take(
                &RateKey::Address(IpAddr::from([10, 0, (i / 256) as u8, i as u8])),
                t0,
            );
        }
        assert!(l.len() <= SHARDS * 4, "{}", l.len());
        // An empty bucket survives eviction by full ones: a limited client cannot reset its
        // bucket by making others send requests (within the bound).
        let l = Limiter::with_capacity(
            Rate {
                per_second: 0.001,
                burst: 1.0,
            },
            SHARDS * 1000,
        );
        assert!(l.take(&id("limited"), t0).is_ok());
        for i in 0..200 {
            let _ = l.take(&id(&format!("k{i}")), t0 + Duration::from_secs(2000));
        }
        assert!(l.take(&id("limited"), t0 + Duration::from_secs(1)).is_err());
    }
}
