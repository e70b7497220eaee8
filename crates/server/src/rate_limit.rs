//! A per-IP token bucket, for endpoints that strangers may call without credentials
//! (dynamic registration).
//!
//! Each address gets `per_minute` tokens, refilled continuously; a request takes one. IPv6
//! addresses are grouped by /64, because one host usually holds a whole /64 and could otherwise
//! rotate through it. Kept in memory per instance, like the login throttle: the aim is to make a
//! flood expensive, not to count exactly across a cluster. Time comes from the server's clock, so
//! tests advance it instead of sleeping.

use mcp_oauth_core::clock::UnixTime;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Buckets beyond this are dropped (full ones first), so a flood of addresses cannot grow memory.
const MAX_BUCKETS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: UnixTime,
}

/// Token buckets keyed by client address.
#[derive(Debug)]
pub struct RateLimiter {
    /// Tokens per minute, which is also the bucket size.
    capacity: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    /// `per_minute` requests per address per minute, with bursts of up to `per_minute`.
    pub fn per_minute(per_minute: u32) -> Self {
        Self {
            capacity: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `ip` at `now`: `Ok` if the request may proceed, else the seconds to
    /// wait before the next token (for `Retry-After`).
    pub fn take(&self, ip: IpAddr, now: UnixTime) -> Result<(), u64> {
        let key = group(ip);
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= MAX_BUCKETS && !map.contains_key(&key) {
            let cap = self.capacity;
            map.retain(|_, b| refilled(b, now, cap) < cap);
            if map.len() >= MAX_BUCKETS {
                map.clear();
            }
        }
        let b = map.entry(key).or_insert(Bucket {
            tokens: self.capacity,
            updated: now,
        });
        b.tokens = refilled(b, now, self.capacity);
        b.updated = now.max(b.updated);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            // Minutes to the next token, in seconds; multiplied before dividing so that whole
            // numbers stay whole.
            let wait = ((1.0 - b.tokens) * 60.0 / self.capacity).ceil();
            Err((wait as u64).max(1))
        }
    }
}

fn refilled(b: &Bucket, now: UnixTime, capacity: f64) -> f64 {
    let elapsed = (now - b.updated).max(0) as f64;
    (b.tokens + elapsed * capacity / 60.0).min(capacity)
}

/// The key an address is counted under: itself for IPv4, its /64 for IPv6.
fn group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & (u128::MAX << 64)).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_waits_then_refills() {
        let l = RateLimiter::per_minute(3);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(l.take(ip, 1000), Ok(()));
        }
        assert_eq!(l.take(ip, 1000), Err(20), "one token per 20 s");
        assert_eq!(l.take(ip, 1010), Err(10));
        assert_eq!(l.take(ip, 1020), Ok(()));
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(l.take(other, 1020), Ok(()), "addresses are counted apart");
        assert!(l.take(ip, 10_000).is_ok(), "refilled after a while");
    }

    #[test]
    fn ipv6_is_counted_per_64() {
        let l = RateLimiter::per_minute(1);
        assert!(l.take("2001:db8:1:2::1".parse().unwrap(), 0).is_ok());
        assert!(l.take("2001:db8:1:2::ffff".parse().unwrap(), 0).is_err());
        assert!(l.take("2001:db8:1:3::1".parse().unwrap(), 0).is_ok());
    }
}
