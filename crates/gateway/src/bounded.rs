//! A bounded, thread-safe map for the gateway's caches: sharded mutexes so request threads
//! rarely wait on each other, and, when a shard is full, the oldest entry goes first.

use std::borrow::Borrow;
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};
use std::sync::{Mutex, MutexGuard, PoisonError};

#[derive(Debug)]
pub struct BoundedMap<K, V> {
    shards: Vec<Mutex<Shard<K, V>>>,
    per_shard: usize,
    hasher: RandomState,
}

#[derive(Debug)]
struct Shard<K, V> {
    entries: HashMap<K, (V, u64)>,
    /// Insertion sequence → key: the first is the oldest.
    order: BTreeMap<u64, K>,
    next_sequence: u64,
}

impl<K, V> Default for Shard<K, V> {
    fn default() -> Self {
        Shard {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_sequence: 0,
        }
    }
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    /// A map of at most about `capacity` entries (0 keeps nothing). One shard per 64 entries,
    /// at most 16, so small maps evict exactly the oldest entry.
    pub fn new(capacity: usize) -> Self {
        let shards = (capacity / 64).clamp(1, 16);
        BoundedMap {
            shards: (0..shards).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(shards),
            hasher: RandomState::new(),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> Option<MutexGuard<'_, Shard<K, V>>> {
        let count = u64::try_from(self.shards.len()).ok().filter(|&n| n > 0)?;
        let index = usize::try_from(self.hasher.hash_one(key) % count).ok()?;
        let shard = self.shards.get(index)?;
        // A panic elsewhere while holding the lock cannot leave a shard inconsistent in a way
        // that matters: at worst an entry is missing from `order` and is never evicted early.
        Some(shard.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Looks `key` up and applies `f` to its value under the shard's lock. When `f` returns
    /// `Err(())` the entry is removed (it went stale) and None is returned.
    pub fn get_with<Q, R>(&self, key: &Q, f: impl FnOnce(&V) -> Result<R, ()>) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut shard = self.shard(key)?;
        let (value, _) = shard.entries.get(key)?;
        match f(value) {
            Ok(r) => Some(r),
            Err(()) => {
                shard.remove(key);
                None
            }
        }
    }

    /// Inserts or replaces `key`, evicting the oldest entries when the shard is full.
    pub fn insert(&self, key: K, value: V) {
        if self.per_shard == 0 {
            return;
        }
        let Some(mut shard) = self.shard(&key) else {
            return;
        };
        shard.remove(&key);
        while shard.entries.len() >= self.per_shard {
            let Some((_, oldest)) = shard.order.pop_first() else {
                break;
            };
            shard.entries.remove(&oldest);
        }
        let sequence = shard.next_sequence;
        shard.next_sequence = sequence.wrapping_add(1);
        shard.order.insert(sequence, key.clone());
        shard.entries.insert(key, (value, sequence));
    }

    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(mut shard) = self.shard(key) {
            shard.remove(key);
        }
    }

    pub fn clear(&self) {
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            shard.entries.clear();
            shard.order.clear();
        }
    }

    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entries
                    .len()
            })
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Hash + Eq, V> Shard<K, V> {
    fn remove<Q>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some((_, sequence)) = self.entries.remove(key) {
            self.order.remove(&sequence);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keeps_at_most_capacity_and_evicts_the_oldest() {
        let m: BoundedMap<String, u32> = BoundedMap::new(3);
        for (i, k) in ["a", "b", "c", "d"].iter().enumerate() {
            m.insert((*k).to_owned(), i as u32);
        }
        assert_eq!(m.len(), 3);
        assert_eq!(m.get_with("a", |v| Ok(*v)), None, "the oldest went");
        assert_eq!(m.get_with("d", |v| Ok(*v)), Some(3));
    }

    #[test]
    fn replacing_refreshes_and_stale_entries_are_removed() {
        let m: BoundedMap<String, u32> = BoundedMap::new(2);
        m.insert("a".into(), 1);
        m.insert("b".into(), 2);
        m.insert("a".into(), 10); // now the newest
        m.insert("c".into(), 3); // evicts b
        assert_eq!(m.get_with("a", |v| Ok(*v)), Some(10));
        assert_eq!(m.get_with("b", |v| Ok(*v)), None);
        assert_eq!(m.get_with("c", |_| Err::<u32, ()>(())), None);
        assert_eq!(m.len(), 1, "the stale entry was removed");
        m.clear();
        assert!(m.is_empty());
        let none: BoundedMap<String, u32> = BoundedMap::new(0);
        none.insert("x".into(), 1);
        assert!(none.is_empty());
    }
}
