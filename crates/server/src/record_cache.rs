//! A short-lived, in-process read cache of client and resource records.
//!
//! Issuing a client-credentials token needs the client (to authenticate it) and the resource
//! (for `aud` and its scopes). On SQLite each of those reads is a round trip to sqlx's
//! per-connection worker thread (two context switches and a file lock), which measured more
//! than half of the CPU time of a token. The records change only through administration, so
//! they are kept here for `record_cache_ttl_ms` (default 1 000 ms):
//! - a change made through this server (registration updates and deletes, `last_used_at`)
//!   updates or drops the entry at once;
//! - a change made elsewhere (`mcp-oauth clients remove` from another process, another
//!   instance on the same PostgreSQL database) takes effect here within the TTL.
//!
//! When a copy expires, the first request to see it reads the store again while concurrent
//! requests keep using the expiring copy (for at most one more TTL): without that, every request
//! in flight at the moment of expiry would miss at once, and under load each second would start
//! with a queue of identical reads (a latency spike measured in the benchmarks' p99).
//!
//! Absent records are cached too, so a flood of unknown client ids costs one read per id per
//! TTL. The map is bounded (`bounded::BoundedMap`): when full, expired entries are dropped, and if
//! none are, the whole map is, so memory stays bounded under any key pattern. Access tokens' revocation is not
//! cached: it is checked against the store on every introspection.
//!
//! Time is `std::time::Instant`, not the server's clock: the TTL is about how stale a copy may
//! be, which a test clock moved by days must not stretch.

use crate::bounded::BoundedMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Entries per cache before expired ones are swept.
const CAPACITY: usize = 4096;

struct Entry<T> {
    fetched: Instant,
    value: Option<Arc<T>>,
    /// When a request set out to read this record again, after the copy expired.
    refreshing: Option<Instant>,
}

/// A TTL cache of `Option<Arc<T>>` by string key. A TTL of zero turns it off.
pub struct RecordCache<T> {
    ttl: Duration,
    map: BoundedMap<Entry<T>>,
}

impl<T> RecordCache<T> {
    /// A cache keeping records for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            map: BoundedMap::new(CAPACITY),
        }
    }

    /// The cached answer for `key`: `Some(None)` is a cached absence, `None` a miss, after which
    /// the caller reads the store and calls [`RecordCache::put`].
    ///
    /// An expired copy is a miss for the first caller, which is then the one refreshing it; until
    /// its `put`, others get the expired copy, for at most one more TTL.
    pub fn get(&self, key: &str) -> Option<Option<Arc<T>>> {
        if self.ttl.is_zero() {
            return None;
        }
        let ttl = self.ttl;
        let fresh = |e: &Entry<T>| (e.fetched.elapsed() < ttl).then(|| e.value.clone());
        if let Some(hit) = self.map.read(key, fresh) {
            return Some(hit);
        }
        self.map
            .modify(key, |entry| {
                if let Some(hit) = fresh(entry) {
                    return Some(hit); // refreshed meanwhile
                }
                match entry.refreshing {
                    Some(since) if since.elapsed() < ttl => Some(entry.value.clone()),
                    _ => {
                        entry.refreshing = Some(Instant::now());
                        None
                    }
                }
            })
            .flatten()
    }

    /// Records the store's answer for `key`, read at `fetched` (taken before the read, so that
    /// a slow read cannot extend the copy's life).
    pub fn put(&self, key: &str, value: Option<Arc<T>>, fetched: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let ttl = self.ttl;
        let entry = Entry {
            fetched,
            value,
            refreshing: None,
        };
        self.map.insert(key, entry, |e| e.fetched.elapsed() < ttl);
    }

    /// Replaces a cached record in place (keeping its age), if there is one.
    pub fn update(&self, key: &str, f: impl FnOnce(&mut T))
    where
        T: Clone,
    {
        self.map.modify(key, |entry| {
            if let Some(v) = &mut entry.value {
                f(Arc::make_mut(v));
            }
        });
    }

    /// Forgets `key`.
    pub fn invalidate(&self, key: &str) {
        self.map.remove(key);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.map.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_absence_expiry_and_invalidation() {
        let c = RecordCache::new(Duration::from_millis(50));
        assert!(c.get("a").is_none());
        c.put("a", Some(Arc::new(1)), Instant::now());
        c.put("b", None, Instant::now());
        assert_eq!(c.get("a"), Some(Some(Arc::new(1))));
        assert_eq!(c.get("b"), Some(None));
        c.update("a", |v| *v = 2);
        assert_eq!(c.get("a"), Some(Some(Arc::new(2))));
        c.invalidate("a");
        assert!(c.get("a").is_none());
        std::thread::sleep(Duration::from_millis(60));
        assert!(c.get("b").is_none(), "expired");
    }

    #[test]
    fn one_caller_refreshes_an_expired_copy_while_the_others_use_it() {
        let c = RecordCache::new(Duration::from_millis(40));
        c.put("a", Some(Arc::new(1)), Instant::now());
        std::thread::sleep(Duration::from_millis(45));
        assert!(c.get("a").is_none(), "the first caller refreshes");
        assert_eq!(
            c.get("a"),
            Some(Some(Arc::new(1))),
            "the others wait on the old copy"
        );
        assert_eq!(c.get("a"), Some(Some(Arc::new(1))));
        c.put("a", Some(Arc::new(2)), Instant::now());
        assert_eq!(c.get("a"), Some(Some(Arc::new(2))));
        // A refresh that never completes is taken over after one more TTL.
        std::thread::sleep(Duration::from_millis(45));
        assert!(c.get("a").is_none());
        std::thread::sleep(Duration::from_millis(45));
        assert!(
            c.get("a").is_none(),
            "the refresher gave up: someone else reads"
        );
    }

    #[test]
    fn a_zero_ttl_caches_nothing() {
        let c = RecordCache::new(Duration::ZERO);
        c.put("a", Some(Arc::new(1)), Instant::now());
        assert!(c.get("a").is_none());
    }

    #[test]
    fn stays_bounded() {
        let c: RecordCache<u8> = RecordCache::new(Duration::from_secs(60));
        for i in 0..CAPACITY * 3 {
            c.put(&i.to_string(), None, Instant::now());
        }
        let len = c.map.len();
        assert!(len <= CAPACITY, "{len} entries");
        assert_eq!(c.get(&(CAPACITY * 3 - 1).to_string()), Some(None));
    }

    #[test]
    fn a_slow_read_does_not_extend_the_copy() {
        let c = RecordCache::new(Duration::from_millis(30));
        let before = Instant::now();
        std::thread::sleep(Duration::from_millis(40));
        c.put("a", Some(Arc::new(1)), before);
        assert!(c.get("a").is_none());
    }
}
