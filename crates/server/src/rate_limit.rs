//! Token buckets keyed by client address or by client id: `/register`, `/token`, `/authorize`
//! and `/login` (see [`EndpointLimits`]).
//!
//! Each key gets `per_minute` tokens, refilled continuously; a request takes one. IPv6
//! addresses are grouped by /64, because one host usually holds a whole /64 and could otherwise
//! rotate through it. [`RateLimiter`] keeps them in memory per instance; with Redis configured,
//! each endpoint's budget is a [`crate::shared::limits::SharedBudget`] instead, counted across
//! the instances, with this instance's buckets as the fallback. Both are a [`Budget`]. Time
//! comes from the server's clock, so
//! tests advance it instead of sleeping. A lookup by a borrowed key (`&str` for a client id)
//! allocates nothing once the key has a bucket.

use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;
use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

/// Buckets beyond this are dropped (full ones first), so a flood of addresses cannot grow memory.
const MAX_BUCKETS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: UnixTime,
}

/// Token buckets keyed by `K`: client addresses by default, or client ids (`RateLimiter<String>`).
#[derive(Debug)]
pub struct RateLimiter<K = IpAddr> {
    /// Tokens per minute, which is also the bucket size.
    capacity: f64,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq> RateLimiter<K> {
    /// `per_minute` requests per key per minute, with bursts of up to `per_minute`.
    pub fn per_minute(per_minute: u32) -> Self {
        Self {
            capacity: f64::from(per_minute.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key` at `now`: `Ok` if the request may proceed, else the seconds to
    /// wait before the next token (for `Retry-After`). The key is copied only the first time it
    /// is seen.
    pub fn take_key<Q>(&self, key: &Q, now: UnixTime) -> Result<(), u64>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !map.contains_key(key) {
            if map.len() >= MAX_BUCKETS {
                let cap = self.capacity;
                map.retain(|_, b| refilled(b, now, cap) < cap);
                if map.len() >= MAX_BUCKETS {
                    map.clear();
                }
            }
            map.insert(
                key.to_owned(),
                Bucket {
                    tokens: self.capacity,
                    updated: now,
                },
            );
        }
        let Some(b) = map.get_mut(key) else {
            return Ok(());
        };
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

/// One endpoint's budget, keyed by `Q` (an address, or a client id as `str`): where its
/// buckets live is the implementation's business.
#[async_trait]
pub trait Budget<Q: ?Sized + Sync>: Send + Sync {
    /// Takes a token for `key` at `now`: `Ok` to proceed, else the seconds to wait.
    async fn take(&self, key: &Q, now: UnixTime) -> Result<(), u64>;
}

#[async_trait]
impl Budget<IpAddr> for RateLimiter<IpAddr> {
    async fn take(&self, key: &IpAddr, now: UnixTime) -> Result<(), u64> {
        RateLimiter::take(self, *key, now)
    }
}

#[async_trait]
impl Budget<str> for RateLimiter<String> {
    async fn take(&self, key: &str, now: UnixTime) -> Result<(), u64> {
        self.take_key(key, now)
    }
}

/// A per-address budget.
pub type IpBudget = Box<dyn Budget<IpAddr>>;

impl RateLimiter<IpAddr> {
    /// Takes a token for the address `ip` (IPv6: its /64) at `now`; see [`Self::take_key`].
    pub fn take(&self, ip: IpAddr, now: UnixTime) -> Result<(), u64> {
        self.take_key(&ip_group(ip), now)
    }
}

/// The request budgets of the endpoints (`None`: no limit, configured as 0).
pub struct EndpointLimits {
    /// `POST /token` (and `/par`) per client address, checked before the body is read.
    pub token_ip: Option<IpBudget>,
    /// `POST /token` per authenticated client, checked after client authentication (checking
    /// before would let anyone spend a client's budget by naming it).
    pub token_client: Option<Box<dyn Budget<str>>>,
    /// `GET /authorize` per client address.
    pub authorize_ip: Option<IpBudget>,
    /// `POST /login` per client address, on top of the failure back-off: bounds the password
    /// hashing one address can cause.
    pub login_ip: Option<IpBudget>,
    /// `POST /register` per client address (never off: see `registration_rate_limit`).
    pub register_ip: IpBudget,
    /// User codes tried on the device page (RFC 8628 §5.1), keyed `ip:…` per client address and
    /// `user:…` per signed-in user; always on.
    pub device_user_code: Box<dyn Budget<str>>,
}

/// The endpoint budgets' names (metric labels, Redis keys) and their per-minute settings.
pub(crate) struct Settings {
    pub token_ip: u32,
    pub token_client: u32,
    pub authorize_ip: u32,
    pub login_ip: u32,
    pub register_ip: u32,
    pub device_user_code: u32,
}

impl Settings {
    pub(crate) fn of(config: &crate::config::ServerConfig) -> Self {
        Self {
            token_ip: config.token_rate_limit_per_ip,
            token_client: config.token_rate_limit_per_client,
            authorize_ip: config.authorize_rate_limit_per_ip,
            login_ip: config.login_rate_limit_per_ip,
            register_ip: config.registration_rate_limit,
            device_user_code: config.device_user_code_attempts_per_minute,
        }
    }
}

impl EndpointLimits {
    /// The per-instance limits of `config`.
    pub fn new(config: &crate::config::ServerConfig) -> Self {
        let s = Settings::of(config);
        let ip = |n: u32| (n > 0).then(|| Box::new(RateLimiter::per_minute(n)) as IpBudget);
        Self {
            token_ip: ip(s.token_ip),
            token_client: (s.token_client > 0).then(|| {
                Box::new(RateLimiter::<String>::per_minute(s.token_client)) as Box<dyn Budget<str>>
            }),
            authorize_ip: ip(s.authorize_ip),
            login_ip: ip(s.login_ip),
            register_ip: Box::new(RateLimiter::per_minute(s.register_ip)),
            device_user_code: Box::new(RateLimiter::<String>::per_minute(s.device_user_code)),
        }
    }
}

impl std::fmt::Debug for EndpointLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EndpointLimits")
    }
}

fn refilled(b: &Bucket, now: UnixTime, capacity: f64) -> f64 {
    let elapsed = (now - b.updated).max(0) as f64;
    (b.tokens + elapsed * capacity / 60.0).min(capacity)
}

/// The key an address is counted under: itself for IPv4, its /64 for IPv6.
pub fn ip_group(ip: IpAddr) -> IpAddr {
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
    fn client_ids_are_keys_too() {
        let l: RateLimiter<String> = RateLimiter::per_minute(2);
        assert!(l.take_key("a", 0).is_ok());
        assert!(l.take_key("a", 0).is_ok());
        assert_eq!(l.take_key("a", 0), Err(30));
        assert!(l.take_key("b", 0).is_ok(), "clients are counted apart");
        assert!(l.take_key("a", 30).is_ok());
    }

    #[test]
    fn ipv6_is_counted_per_64() {
        let l = RateLimiter::per_minute(1);
        assert!(l.take("2001:db8:1:2::1".parse().unwrap(), 0).is_ok());
        assert!(l.take("2001:db8:1:2::ffff".parse().unwrap(), 0).is_err());
        assert!(l.take("2001:db8:1:3::1".parse().unwrap(), 0).is_ok());
    }
}
