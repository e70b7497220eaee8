//! Login throttling: per account and per client IP, with exponential back-off.
//!
//! Addresses are keyed as the rate limits key them ([`ip_key`]): IPv4 by address, IPv6 by its
//! /64, since one host usually holds a whole /64 and could otherwise try from 2^64 addresses.
//! The table is bounded; when full, entries whose back-off has run out go first, then the
//! least recently seen ones, a tenth at a time, so a flood of new keys never wipes the
//! records of the accounts being guessed at (an active guesser's record stays recent).
//!
//! After `free` failures a key must wait 2, 4, 8 … seconds (capped at `max_backoff`) before the
//! next attempt counts; a success clears the account's record. [`LoginThrottle`] keeps the
//! records in memory per instance; with Redis configured, [`crate::shared::backoff`] keeps them
//! there, so that N instances give a guesser one budget, not N. Both are a [`LoginBackoff`].

use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;
use std::collections::HashMap;
use std::sync::Mutex;

/// Entries beyond this are evicted oldest-first, so a flood of usernames cannot grow memory.
const MAX_ENTRIES: usize = 100_000;

/// The throttle key of a client address: `ip:` and the address, or its /64 for IPv6.
pub fn ip_key(ip: std::net::IpAddr) -> String {
    match crate::rate_limit::ip_group(ip) {
        std::net::IpAddr::V6(net) => format!("ip:{net}/64"),
        v4 => format!("ip:{v4}"),
    }
}

/// Where the login failures are counted.
#[async_trait]
pub trait LoginBackoff: Send + Sync {
    /// Seconds to wait before `keys` may try again, or `None` if they may try now.
    async fn check(&self, keys: &[String], now: UnixTime) -> Option<u64>;
    /// Records a failed attempt for every key.
    async fn fail(&self, keys: &[String], now: UnixTime);
    /// Clears the record of `key` after a successful login.
    async fn succeed(&self, key: &str);
}

#[async_trait]
impl LoginBackoff for LoginThrottle {
    async fn check(&self, keys: &[String], now: UnixTime) -> Option<u64> {
        LoginThrottle::check(self, keys, now)
    }
    async fn fail(&self, keys: &[String], now: UnixTime) {
        LoginThrottle::fail(self, keys, now);
    }
    async fn succeed(&self, key: &str) {
        LoginThrottle::succeed(self, key);
    }
}

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
    capacity: usize,
    records: Mutex<HashMap<String, Record>>,
}

impl LoginThrottle {
    /// The number of failures allowed before back-off.
    pub fn free(&self) -> u32 {
        self.free
    }

    /// The longest back-off, in seconds.
    pub fn max_backoff(&self) -> u64 {
        self.max_backoff
    }

    /// `free` failures are allowed before back-off; waits grow to `max_backoff` seconds.
    pub fn new(free: u32, max_backoff: u64) -> Self {
        Self::with_capacity(free, max_backoff, MAX_ENTRIES)
    }

    /// [`Self::new`] holding at most `capacity` keys.
    pub fn with_capacity(free: u32, max_backoff: u64, capacity: usize) -> Self {
        Self {
            free,
            max_backoff,
            capacity: capacity.max(1),
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
        if map.len() + keys.len() > self.capacity {
            self.evict(&mut map, now, keys.len());
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

    /// Makes room for `incoming` keys: first every record whose back-off has run out and that
    /// has not been seen within `max_backoff`, then the least recently seen tenth.
    fn evict(&self, map: &mut HashMap<String, Record>, now: UnixTime, incoming: usize) {
        let horizon = now - self.max_backoff as i64;
        map.retain(|_, r| r.last_seen > horizon || r.blocked_until > now);
        if map.len() + incoming <= self.capacity {
            return;
        }
        let excess = map.len() + incoming - self.capacity;
        let drop = excess.max(self.capacity / 10).min(map.len());
        if drop == 0 {
            return;
        }
        let mut by_age: Vec<(UnixTime, String)> =
            map.iter().map(|(k, r)| (r.last_seen, k.clone())).collect();
        by_age.select_nth_unstable_by_key(drop - 1, |(t, _)| *t);
        for (_, k) in by_age.into_iter().take(drop) {
            map.remove(&k);
        }
    }

    /// The number of keys held (the tests check the bound).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.records.lock().unwrap_or_else(|p| p.into_inner()).len()
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

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a = ip_key("2001:db8:1:2::1".parse().unwrap());
        let b = ip_key("2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap());
        let c = ip_key("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, "ip:2001:db8:1:2::/64");
        assert_eq!(a, b, "one /64, one key");
        assert_ne!(a, c);
        assert_eq!(ip_key("192.0.2.7".parse().unwrap()), "ip:192.0.2.7");
        assert_ne!(
            ip_key("192.0.2.7".parse().unwrap()),
            ip_key("192.0.2.8".parse().unwrap())
        );
        assert_eq!(
            ip_key("::ffff:192.0.2.7".parse().unwrap()),
            "ip:192.0.2.7",
            "IPv4-mapped is the IPv4 address"
        );
    }

    #[test]
    fn a_full_table_evicts_the_oldest_not_everyone() {
        let t = LoginThrottle::with_capacity(1, 900, 100);
        let victim = vec!["user:alice".to_owned()];
        // The account being guessed at: blocked, and seen recently.
        t.fail(&victim, 1_000);
        t.fail(&victim, 1_000);
        assert!(t.check(&victim, 1_000).is_some());
        // A flood of fresh keys, one a second, far more than the table holds.
        for i in 0..1_000 {
            t.fail(&[format!("user:flood{i}")], 1_001 + i);
            // The guesser keeps guessing, so its record stays recent.
            if i % 50 == 0 {
                t.fail(&victim, 1_001 + i);
            }
        }
        assert!(t.len() <= 100, "bounded: {}", t.len());
        assert!(t.len() >= 80, "most records kept: {}", t.len());
        assert!(
            t.check(&victim, 2_000).is_some(),
            "the victim's back-off survives"
        );
        assert!(
            t.check(&["user:flood999".to_owned()], 2_000).is_none(),
            "one failure is free"
        );
    }
}
