//! Bounded in-memory stores: entries with a deadline (flows, authorization codes) and the
//! notification outbox. Memory stays bounded whatever clients send: a store holds at most its
//! capacity (the entry with the earliest deadline goes first), expired entries are swept, and
//! the outbox is a ring buffer.

use std::collections::{BTreeMap, HashMap, VecDeque};

/// Entries by id, each with a deadline (Unix ms). An entry past its deadline is gone: `get_mut`
/// and `take` never return it, and `sweep` frees it. When full, inserting evicts the entry with
/// the earliest deadline; for flows, whose deadline moves with each use, that is the least
/// recently used one.
#[derive(Debug)]
pub struct Expiring<V> {
    entries: HashMap<String, (V, Slot)>,
    by_deadline: BTreeMap<Slot, String>,
    next: u64,
    capacity: usize,
}

/// (deadline, insertion sequence): unique, ordered by deadline.
type Slot = (i64, u64);

impl<V> Expiring<V> {
    pub fn new(capacity: usize) -> Expiring<V> {
        Expiring {
            entries: HashMap::new(),
            by_deadline: BTreeMap::new(),
            next: 0,
            capacity: capacity.max(1),
        }
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.by_deadline.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn slot(&mut self, deadline: i64) -> Slot {
        self.next = self.next.wrapping_add(1);
        (deadline, self.next)
    }

    /// Inserts (or replaces) an entry; returns how many entries were evicted to make room.
    pub fn insert(&mut self, id: String, value: V, deadline: i64) -> usize {
        self.remove(&id);
        let mut evicted = 0;
        while self.entries.len() >= self.capacity {
            let Some((_, oldest)) = self.by_deadline.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
            evicted += 1;
        }
        let slot = self.slot(deadline);
        self.by_deadline.insert(slot, id.clone());
        self.entries.insert(id, (value, slot));
        evicted
    }

    /// The live entry, if any (an expired one is removed).
    pub fn get_mut(&mut self, id: &str, now: i64) -> Option<&mut V> {
        let expired = self
            .entries
            .get(id)
            .map(|(_, (deadline, _))| *deadline <= now)?;
        if expired {
            self.remove(id);
            return None;
        }
        self.entries.get_mut(id).map(|(v, _)| v)
    }

    /// Moves an entry's deadline.
    pub fn touch(&mut self, id: &str, deadline: i64) {
        let slot = self.slot(deadline);
        if let Some((_, old)) = self.entries.get_mut(id) {
            let previous = std::mem::replace(old, slot);
            self.by_deadline.remove(&previous);
            self.by_deadline.insert(slot, id.to_owned());
        }
    }

    /// Removes and returns the live entry (single use: a second `take` finds nothing).
    pub fn take(&mut self, id: &str, now: i64) -> Option<V> {
        let (value, (deadline, _)) = self.remove_entry(id)?;
        (deadline > now).then_some(value)
    }

    pub fn remove(&mut self, id: &str) -> Option<V> {
        self.remove_entry(id).map(|(v, _)| v)
    }

    fn remove_entry(&mut self, id: &str) -> Option<(V, Slot)> {
        let (value, slot) = self.entries.remove(id)?;
        self.by_deadline.remove(&slot);
        Some((value, slot))
    }

    /// Frees every entry whose deadline has passed; returns how many.
    pub fn sweep(&mut self, now: i64) -> usize {
        let mut freed = 0;
        while let Some(entry) = self.by_deadline.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let id = entry.remove();
            self.entries.remove(&id);
            freed += 1;
        }
        freed
    }
}

/// A ring buffer: keeps the last `capacity` items, oldest first.
#[derive(Debug)]
pub struct Ring<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T> Ring<T> {
    pub fn new(capacity: usize) -> Ring<T> {
        Ring {
            items: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Drops everything.
    pub fn clear(&mut self) {
        self.items.clear();
    }

    pub fn push(&mut self, item: T) {
        while self.items.len() >= self.capacity {
            self.items.pop_front();
        }
        self.items.push_back(item);
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_at_their_deadline() {
        let mut s = Expiring::new(10);
        s.insert("a".into(), 1, 100);
        assert_eq!(s.get_mut("a", 99).copied(), Some(1));
        assert_eq!(s.get_mut("a", 100), None);
        assert!(s.is_empty(), "an expired entry is freed when found");
        s.insert("b".into(), 2, 100);
        s.touch("b", 200);
        assert_eq!(s.get_mut("b", 150).copied(), Some(2));
    }

    #[test]
    fn when_full_the_earliest_deadline_goes() {
        let mut s = Expiring::new(2);
        assert_eq!(s.insert("a".into(), 1, 100), 0);
        assert_eq!(s.insert("b".into(), 2, 200), 0);
        s.touch("a", 300); // a used recently: b is now the oldest
        assert_eq!(s.insert("c".into(), 3, 400), 1);
        assert!(s.get_mut("b", 0).is_none());
        assert_eq!(s.get_mut("a", 0).copied(), Some(1));
        assert_eq!(s.len(), 2);
        // Replacing an entry does not evict another.
        assert_eq!(s.insert("a".into(), 9, 500), 0);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn take_is_single_use_and_sweep_frees_expired() {
        let mut s = Expiring::new(10);
        s.insert("code".into(), "grant", 60);
        assert_eq!(s.take("code", 10), Some("grant"));
        assert_eq!(s.take("code", 10), None);
        s.insert("old".into(), "x", 60);
        assert_eq!(s.take("old", 60), None, "expired");
        for i in 0..5 {
            s.insert(format!("k{i}"), "v", 10 * i);
        }
        assert_eq!(s.sweep(20), 3);
        assert_eq!(s.len(), 2);
        assert_eq!(s.by_deadline.len(), 2);
    }

    #[test]
    fn the_ring_keeps_the_last_items() {
        let mut r = Ring::new(3);
        for i in 0..5 {
            r.push(i);
        }
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!(r.len(), 3);
    }
}
