//! Login throttling: per account and per client IP, with exponential back-off.
//!
//! After `free` failures a key must wait 2, 4, 8 … seconds (capped at `max_backoff`) before the
//! next attempt counts; a success clears the account's record. Kept in memory per instance: the
//! aim is to make online guessing slow, and an attacker spreading over instances still meets
//! each one's limit.

use mcp_oauth_core::clock::UnixTime;
use std::collections::HashMap;
use std::sync::Mutex;

/// Entries beyond this are evicted oldest-first, so a flood of usernames cannot grow memory.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    blocked_until: UnixTime,
    last_seen: UnixTime,
}

/// Failure counters with back-off.
#[derive(Debug)]
pub struct LoginThrottle {
    free: u32,
    max_backoff: u64,
    records: Mutex<HashMap<String, Record>>,
}

impl LoginThrottle {
    /// `free` failures are allowed before back-off; waits grow to `max_backoff` seconds.
    pub fn new(free: u32, max_backoff: u64) -> Self {
        Self {
            free,
            max_backoff,
            records: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds to wait before `keys` may try again, or `None` if they may try now.
    pub fn check(&self, keys: &[String], now: UnixTime) -> Option<u64> {
        let map = self.records.lock().unwrap_or_else(|p| p.into_inner());
        keys.iter()
            .filter_map(|k| map.get(k))
            .filter(|r| r.blocked_until > now)
            .map(|r| (r.blocked_until - now) as u64)
            .max()
    }

    /// Records a failed attempt for every key.
    pub fn fail(&self, keys: &[String], now: UnixTime) {
        let mut map = self.records.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_ENTRIES {
            let horizon = now - self.max_backoff as i64;
            map.retain(|_, r| r.last_seen > horizon);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        for k in keys {
            let r = map.entry(k.clone()).or_insert(Record {
                failures: 0,
                blocked_until: 0,
                last_seen: now,
            });
            r.failures = r.failures.saturating_add(1);
            r.last_seen = now;
            if r.failures > self.free {
                let exp = (r.failures - self.free).min(20);
                let wait = (1u64 << exp).min(self.max_backoff);
                r.blocked_until = now + wait as i64;
            }
        }
    }

    /// Clears the record of `key` after a successful login.
    pub fn succeed(&self, key: &str) {
        let mut map = self.records.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let t = LoginThrottle::new(2, 10);
        let keys = vec!["user:alice".to_owned(), "ip:127.0.0.1".to_owned()];
        t.fail(&keys, 100);
        t.fail(&keys, 100);
        assert_eq!(t.check(&keys, 100), None, "free attempts");
        t.fail(&keys, 100);
        assert_eq!(t.check(&keys, 100), Some(2));
        t.fail(&keys, 102);
        assert_eq!(t.check(&keys, 102), Some(4));
        for _ in 0..10 {
            t.fail(&keys, 200);
        }
        assert_eq!(t.check(&keys, 200), Some(10), "capped");
        assert_eq!(t.check(&keys, 211), None);
        t.succeed("user:alice");
        assert_eq!(t.check(&["user:alice".to_owned()], 200), None);
        assert!(t.check(&["ip:127.0.0.1".to_owned()], 200).is_some());
    }
}
