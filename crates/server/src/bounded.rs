//! The one bounded map behind the server's in-memory caches: client and resource records
//! (`record_cache`), validated metadata documents (`cimd::cache`) and fetched client JWK Sets
//! (`client_keys`).
//!
//! Keys come from peers (client ids, URLs), so the map must stay bounded under any key pattern:
//! inserting a new key into a full map first drops the entries the cache says are stale, and if
//! that frees nothing, drops everything. Clearing costs one refill of what is still in use, and
//! needs no per-entry bookkeeping on the read path, which takes only a shared lock.

use std::collections::HashMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A map of string keys to `V` holding at most `capacity` entries.
#[derive(Debug)]
pub(crate) struct BoundedMap<V> {
    capacity: usize,
    map: RwLock<HashMap<Box<str>, V>>,
}

impl<V> BoundedMap<V> {
    /// An empty map of at most `capacity` (at least 1) entries.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            map: RwLock::new(HashMap::new()),
        }
    }

    /// What `read` makes of the entry for `key`, under the shared lock.
    pub(crate) fn read<R>(&self, key: &str, read: impl FnOnce(&V) -> Option<R>) -> Option<R> {
        self.shared().get(key).and_then(read)
    }

    /// What `change` makes of the entry for `key`, under the exclusive lock (a decision that
    /// must see and update the entry at once).
    pub(crate) fn modify<R>(&self, key: &str, change: impl FnOnce(&mut V) -> R) -> Option<R> {
        self.exclusive().get_mut(key).map(change)
    }

    /// Keeps `value` for `key`. A new key in a full map first drops every entry `keep` refuses,
    /// then, if the map is still full, all of them.
    pub(crate) fn insert(&self, key: &str, value: V, keep: impl Fn(&V) -> bool) {
        let mut map = self.exclusive();
        if map.len() >= self.capacity && !map.contains_key(key) {
            map.retain(|_, v| keep(v));
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(key.into(), value);
    }

    /// Forgets `key`.
    pub(crate) fn remove(&self, key: &str) {
        self.exclusive().remove(key);
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        self.exclusive().clear();
    }

    /// How many entries there are.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shared().len()
    }

    /// A poisoned lock only means a panic elsewhere while it was held; every change here is a
    /// single map operation, so the map is still whole.
    fn shared(&self) -> RwLockReadGuard<'_, HashMap<Box<str>, V>> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }

    fn exclusive(&self) -> RwLockWriteGuard<'_, HashMap<Box<str>, V>> {
        self.map.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_map_sweeps_what_is_stale_then_everything() {
        let m = BoundedMap::new(3);
        for (k, v) in [("a", 1), ("b", 2), ("c", 3)] {
            m.insert(k, v, |_| true);
        }
        // Full: only the odd values are kept by the sweep, so "b" goes and "d" fits.
        m.insert("d", 4, |v| v % 2 == 1);
        assert_eq!(m.len(), 3);
        assert_eq!(m.read("b", |v| Some(*v)), None);
        assert_eq!(m.read("a", |v| Some(*v)), Some(1));
        // Full and nothing stale: everything goes, the new entry stays.
        m.insert("e", 5, |_| true);
        assert_eq!(m.len(), 1);
        assert_eq!(m.read("e", |v| Some(*v)), Some(5));
        // Replacing a key of a full map sweeps nothing.
        m.insert("f", 6, |_| true);
        m.insert("g", 7, |_| true);
        m.insert("g", 8, |_| false);
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn read_modify_remove_clear() {
        let m = BoundedMap::new(10);
        m.insert("a", 1, |_| true);
        assert_eq!(
            m.read("a", |v| (*v > 5).then_some(*v)),
            None,
            "read decides"
        );
        assert_eq!(m.modify("a", |v| std::mem::replace(v, 7)), Some(1));
        assert_eq!(m.read("a", |v| Some(*v)), Some(7));
        assert_eq!(m.modify("zz", |v| *v), None);
        m.remove("a");
        assert_eq!(m.len(), 0);
        m.insert("b", 2, |_| true);
        m.clear();
        assert_eq!(m.len(), 0);
    }
}
