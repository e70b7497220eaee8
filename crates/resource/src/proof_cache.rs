//! The guard's own DPoP `jti` replay cache (RFC 9449 §11.1), per process and bounded.
//!
//! A proof id is remembered until the last moment its proof could still pass the `iat` check,
//! and forgotten in the order ids expire: the ids sit in a queue sorted by expiry beside the set,
//! so forgetting costs one step per expired id, never a scan of the whole cache. (The first
//! version swept the whole map on every request once it was full: at 100 000 live entries, each
//! DPoP request paid a scan, and a busy guard refused everything; the benchmark `mcp-dpop` found
//! it.) A proof may expire before one admitted earlier (its `iat` was older); it is then
//! remembered as long as that one, which keeps the queue sorted and costs at most the window.
//! When the cache is full of live ids the caller refuses the request: forgetting a live id would
//! let its proof be replayed.

use mcp_oauth_core::clock::UnixTime;
use std::collections::{HashMap, VecDeque};

/// What [`ProofCache::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    /// Not seen in its window: remembered now.
    First,
    /// Seen before and still live: a replay.
    Replay,
    /// Not seen, but the cache is full of live ids: refuse, do not forget one.
    Full,
}

/// Live proof ids, at most `max`.
#[derive(Debug)]
pub(crate) struct ProofCache {
    max: usize,
    seen: HashMap<[u8; 32], UnixTime>,
    /// `(expires, id)` in the order admitted, which is the order of expiry.
    order: VecDeque<(UnixTime, [u8; 32])>,
}

impl ProofCache {
    /// A cache of at most `max` live ids.
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// Admits the proof `id`, live until `until` (exclusive), at `now`.
    pub(crate) fn admit(&mut self, id: [u8; 32], until: UnixTime, now: UnixTime) -> Admit {
        self.forget_expired(now);
        if self.seen.contains_key(&id) {
            return Admit::Replay;
        }
        if self.seen.len() >= self.max {
            return Admit::Full;
        }
        let until = self
            .order
            .back()
            .map_or(until, |(last, _)| until.max(*last));
        self.seen.insert(id, until);
        self.order.push_back((until, id));
        Admit::First
    }

    /// How many ids are remembered (live or not yet forgotten).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen.len()
    }

    fn forget_expired(&mut self, now: UnixTime) {
        while let Some(&(until, id)) = self.order.front() {
            if until > now {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> [u8; 32] {
        [n; 32]
    }

    #[test]
    fn an_id_is_admitted_once_until_it_expires() {
        let mut c = ProofCache::new(10);
        assert_eq!(c.admit(id(1), 100, 0), Admit::First);
        assert_eq!(c.admit(id(1), 100, 99), Admit::Replay);
        assert_eq!(c.admit(id(2), 100, 99), Admit::First);
        assert_eq!(
            c.admit(id(1), 200, 100),
            Admit::First,
            "expired, so new again"
        );
        assert_eq!(
            c.len(),
            1,
            "both expired ids were forgotten, the new one kept"
        );
    }

    #[test]
    fn a_full_cache_refuses_until_ids_expire_and_never_forgets_a_live_one() {
        let mut c = ProofCache::new(3);
        for n in 1..=3 {
            assert_eq!(c.admit(id(n), 50 + i64::from(n), 0), Admit::First);
        }
        assert_eq!(c.admit(id(4), 100, 10), Admit::Full);
        assert_eq!(
            c.admit(id(1), 100, 10),
            Admit::Replay,
            "still remembered when full"
        );
        assert_eq!(
            c.admit(id(4), 100, 51),
            Admit::First,
            "the first id expired: room"
        );
        assert_eq!(c.admit(id(2), 100, 51), Admit::Replay);
        assert_eq!(c.admit(id(5), 100, 51), Admit::Full);
    }

    #[test]
    fn an_id_expiring_before_an_earlier_one_is_kept_as_long_as_that_one() {
        let mut c = ProofCache::new(10);
        assert_eq!(c.admit(id(1), 100, 0), Admit::First);
        // An older proof (earlier iat): its own window ends at 70.
        assert_eq!(c.admit(id(2), 70, 0), Admit::First);
        assert_eq!(
            c.admit(id(2), 70, 80),
            Admit::Replay,
            "remembered past 70: safe side"
        );
        assert_eq!(c.admit(id(1), 100, 100), Admit::First);
        assert_eq!(c.admit(id(2), 200, 100), Admit::First);
    }

    #[test]
    fn ids_past_their_window_are_forgotten_as_new_ones_arrive() {
        let mut c = ProofCache::new(200_000);
        for n in 0..200_000u32 {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&n.to_le_bytes());
            assert_eq!(
                c.admit(k, i64::from(n / 1000) + 60, i64::from(n / 1000)),
                Admit::First
            );
        }
        assert_eq!(c.len(), 60_000, "only the ids of the last 60 s");
    }
}
