//! Feature `redis`: [`RedisReplay`], a [`ReplayStore`] several guards share, so that a DPoP proof
//! accepted by one guard is refused by every other (RFC 9449 §11.1). One `SET key 1 NX PX` per
//! proof, remembered until its `iat` leaves the window (relative to the guard's clock, so Redis's
//! own clock never enters); every call bounded by a timeout (connecting included), and a Redis
//! that does not answer refuses the request (`503`): it fails closed. After a failure Redis is
//! not asked for [`BREAK`] (those requests are refused at once), then asked again.
//!
//! A Redis restarted without its data forgets the proofs of the last window (at most
//! `proof_lifetime` + `future_leeway`, 65 s by default): run it with the append-only file, as the
//! authorization server's `redis_url` needs anyway (docs/deployment.md).

use crate::dpop::{ReplayStore, ReplayUnavailable};
use mcp_oauth_core::clock::UnixTime;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long requests are refused at once after Redis failed to answer.
pub const BREAK: Duration = Duration::from_millis(500);

/// DPoP proof ids on Redis.
pub struct RedisReplay {
    client: redis::Client,
    connection: tokio::sync::OnceCell<ConnectionManager>,
    prefix: String,
    timeout: Duration,
    start: Instant,
    /// Milliseconds since `start` until which Redis is not asked; 0 when it answers.
    broken_until: AtomicU64,
}

impl std::fmt::Debug for RedisReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReplay")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisReplay {
    /// A store on `url` (`redis://` or `rediss://`), its keys under `prefix`, each call bounded by
    /// `timeout`. Nothing is connected until the first proof.
    pub fn new(url: &str, prefix: &str, timeout: Duration) -> redis::RedisResult<Self> {
        Self::on(redis::Client::open(url)?, prefix, timeout)
    }

    /// As [`Self::new`] for a `rediss://` URL whose server certificate must chain to the CA
    /// certificates `ca_pem` (PEM) rather than to the system's trust store.
    pub fn with_root_certificates(
        url: &str,
        ca_pem: Vec<u8>,
        prefix: &str,
        timeout: Duration,
    ) -> redis::RedisResult<Self> {
        let certificates = redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(ca_pem),
        };
        Self::on(
            redis::Client::build_with_tls(url, certificates)?,
            prefix,
            timeout,
        )
    }

    fn on(client: redis::Client, prefix: &str, timeout: Duration) -> redis::RedisResult<Self> {
        Ok(Self {
            client,
            connection: tokio::sync::OnceCell::new(),
            prefix: prefix.to_owned(),
            timeout,
            start: Instant::now(),
            broken_until: AtomicU64::new(0),
        })
    }

    fn key(&self, id: &[u8; 32]) -> String {
        let mut key = String::with_capacity(self.prefix.len() + 11 + 32);
        key.push_str(&self.prefix);
        key.push_str("guard-dpop:");
        for b in &id[..16] {
            key.push_str(&format!("{b:02x}"));
        }
        key
    }

    async fn set_nx(&self, key: String, ttl_ms: i64) -> redis::RedisResult<bool> {
        let mut c = self
            .connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(1);
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await?
            .clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(key)
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut c)
            .await?;
        Ok(set.is_some())
    }
}

#[async_trait::async_trait]
impl ReplayStore for RedisReplay {
    async fn first_use(
        &self,
        id: &[u8; 32],
        until: UnixTime,
        now: UnixTime,
    ) -> Result<bool, ReplayUnavailable> {
        let millis = self.start.elapsed().as_millis() as u64;
        if millis < self.broken_until.load(Ordering::Acquire) {
            return Err(ReplayUnavailable);
        }
        let ttl_ms = until.saturating_sub(now).max(1).saturating_mul(1000);
        match tokio::time::timeout(self.timeout, self.set_nx(self.key(id), ttl_ms)).await {
            Ok(Ok(first)) => {
                self.broken_until.store(0, Ordering::Release);
                Ok(first)
            }
            Ok(Err(e)) => {
                tracing::warn!(target: "mcp_oauth::resource", error = %e, "Redis DPoP replay store failed");
                self.broken_until
                    .store(millis + BREAK.as_millis() as u64, Ordering::Release);
                Err(ReplayUnavailable)
            }
            Err(_) => {
                tracing::warn!(target: "mcp_oauth::resource", timeout_ms = self.timeout.as_millis() as u64, "Redis DPoP replay store did not answer");
                self.broken_until
                    .store(millis + BREAK.as_millis() as u64, Ordering::Release);
                Err(ReplayUnavailable)
            }
        }
    }
}
