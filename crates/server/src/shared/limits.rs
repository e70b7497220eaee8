//! The endpoints' rate limits on Redis: one GCRA bucket per endpoint and key
//! ([`super::scripts`]), the same bucket as [`RateLimiter`]'s (capacity = the per-minute
//! setting, refilled continuously), counted by every instance. When Redis does not answer, this
//! instance's own bucket decides (it is kept warm: every request Redis accepts is taken from it
//! too, so the fallback starts from this instance's recent traffic, not from a full bucket).

use super::{Redis, Unavailable};
use crate::rate_limit::{Budget, EndpointLimits, IpBudget, RateLimiter, Settings, ip_group};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;
use std::net::IpAddr;
use std::sync::Arc;

/// One endpoint's budget on Redis, with this instance's buckets as the fallback.
pub(crate) struct SharedBudget<K> {
    /// The metric label and key kind (`rl:<name>`).
    name: &'static str,
    /// Microseconds per token (rounded: at most half a microsecond off per token).
    interval_us: i64,
    /// Microseconds of the whole bucket (capacity × interval: one minute).
    burst_us: i64,
    redis: Arc<Redis>,
    local: RateLimiter<K>,
}

impl<K: std::hash::Hash + Eq> SharedBudget<K> {
    pub(crate) fn new(name: &'static str, per_minute: u32, redis: Arc<Redis>) -> Self {
        let per_minute = per_minute.max(1);
        let interval_us = (60_000_000 + i64::from(per_minute) / 2) / i64::from(per_minute);
        let interval_us = interval_us.max(1);
        Self {
            name,
            interval_us,
            burst_us: interval_us * i64::from(per_minute),
            redis,
            local: RateLimiter::per_minute(per_minute),
        }
    }

    /// Takes a token from the shared bucket of `value`.
    async fn take_shared(
        &self,
        value: &[u8],
        now: UnixTime,
    ) -> Result<Result<(), u64>, Unavailable> {
        let key = self.redis.key(&format!("rl:{}", self.name), value);
        let now_us = now.saturating_mul(1_000_000);
        let wait_us: i64 = self
            .redis
            .run(|mut c| async move {
                self.redis
                    .scripts()
                    .gcra
                    .key(key)
                    .arg(now_us)
                    .arg(self.interval_us)
                    .arg(self.burst_us)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(if wait_us <= 0 {
            Ok(())
        } else {
            Err((wait_us as u64).div_ceil(1_000_000).max(1))
        })
    }
}

#[async_trait]
impl Budget<IpAddr> for SharedBudget<IpAddr> {
    async fn take(&self, ip: &IpAddr, now: UnixTime) -> Result<(), u64> {
        let group = ip_group(*ip);
        match self.take_shared(group.to_string().as_bytes(), now).await {
            Ok(Ok(())) => {
                let _ = self.local.take_key(&group, now);
                Ok(())
            }
            Ok(Err(wait)) => Err(wait),
            Err(Unavailable) => {
                self.redis.fell_back(self.name);
                self.local.take_key(&group, now)
            }
        }
    }
}

#[async_trait]
impl Budget<str> for SharedBudget<String> {
    async fn take(&self, client_id: &str, now: UnixTime) -> Result<(), u64> {
        match self.take_shared(client_id.as_bytes(), now).await {
            Ok(Ok(())) => {
                let _ = self.local.take_key(client_id, now);
                Ok(())
            }
            Ok(Err(wait)) => Err(wait),
            Err(Unavailable) => {
                self.redis.fell_back(self.name);
                self.local.take_key(client_id, now)
            }
        }
    }
}

/// The limits of `config`, counted on `redis`.
pub(crate) fn endpoint_limits(
    config: &crate::config::ServerConfig,
    redis: &Arc<Redis>,
) -> EndpointLimits {
    let s = Settings::of(config);
    let ip = |name, n: u32| {
        (n > 0).then(|| Box::new(SharedBudget::<IpAddr>::new(name, n, redis.clone())) as IpBudget)
    };
    EndpointLimits {
        token_ip: ip("token_ip", s.token_ip),
        token_client: (s.token_client > 0).then(|| {
            Box::new(SharedBudget::<String>::new(
                "token_client",
                s.token_client,
                redis.clone(),
            )) as Box<dyn Budget<str>>
        }),
        authorize_ip: ip("authorize_ip", s.authorize_ip),
        login_ip: ip("login_ip", s.login_ip),
        register_ip: Box::new(SharedBudget::<IpAddr>::new(
            "register_ip",
            s.register_ip,
            redis.clone(),
        )),
        device_user_code: Box::new(SharedBudget::<String>::new(
            "device_user_code",
            s.device_user_code,
            redis.clone(),
        )),
    }
}
