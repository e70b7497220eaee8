//! The login back-off on Redis: the semantics of [`LoginThrottle`] (per account and per address,
//! `free` failures, then 2, 4, 8 … s up to `max_backoff`, a success clears the account), counted
//! by every instance ([`super::scripts`]). A key is forgotten [`MEMORY_FACTOR`] × `max_backoff`
//! after its last failure. Failures are recorded in this instance's table too, which decides when
//! Redis does not answer: an outage never wipes the back-off a guesser earned here.

use super::Redis;
use crate::throttle::{LoginBackoff, LoginThrottle};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;
use std::sync::Arc;

/// How many `max_backoff`s a key is remembered after its last failure.
pub const MEMORY_FACTOR: u64 = 2;

/// The label of the back-off's fallbacks.
const NAME: &str = "login_backoff";

/// [`LoginBackoff`] on Redis, with `local` as the fallback.
pub(crate) struct SharedBackoff {
    redis: Arc<Redis>,
    local: LoginThrottle,
}

impl SharedBackoff {
    pub(crate) fn new(redis: Arc<Redis>, local: LoginThrottle) -> Self {
        Self { redis, local }
    }

    fn keys(&self, keys: &[String]) -> Vec<String> {
        keys.iter()
            .map(|k| self.redis.key("bo", k.as_bytes()))
            .collect()
    }
}

#[async_trait]
impl LoginBackoff for SharedBackoff {
    async fn check(&self, keys: &[String], now: UnixTime) -> Option<u64> {
        let hashed = self.keys(keys);
        let shared = self
            .redis
            .run(|mut c| async move {
                let mut call = self.redis.scripts().backoff_check.prepare_invoke();
                for k in &hashed {
                    call.key(k);
                }
                call.arg(now).invoke_async::<i64>(&mut c).await
            })
            .await;
        match shared {
            Ok(wait) => (wait > 0).then_some(wait as u64),
            Err(_) => {
                self.redis.fell_back(NAME);
                self.local.check(keys, now)
            }
        }
    }

    async fn fail(&self, keys: &[String], now: UnixTime) {
        self.local.fail(keys, now);
        let hashed = self.keys(keys);
        let (free, max_backoff) = (self.local.free(), self.local.max_backoff());
        let shared = self
            .redis
            .run(|mut c| async move {
                let mut call = self.redis.scripts().backoff_fail.prepare_invoke();
                for k in &hashed {
                    call.key(k);
                }
                call.arg(now)
                    .arg(free)
                    .arg(max_backoff)
                    .arg(max_backoff.saturating_mul(MEMORY_FACTOR).max(1))
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await;
        if shared.is_err() {
            self.redis.fell_back(NAME);
        }
    }

    async fn succeed(&self, key: &str) {
        self.local.succeed(key);
        let hashed = self.redis.key("bo", key.as_bytes());
        let shared = self
            .redis
            .run(|mut c| async move {
                redis::cmd("DEL")
                    .arg(hashed)
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await;
        if shared.is_err() {
            self.redis.fell_back(NAME);
        }
    }
}
