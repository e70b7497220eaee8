//! What the instances of one deployment share through Redis (`redis_url`): the rate limits
//! ([`limits`]), the login back-off ([`backoff`]) and the single use of assertion and proof
//! `jti`s ([`replay`]), so that N instances behind one address give an attacker one budget, not N.
//!
//! [`Redis`] is the one door: every call goes through [`Redis::run`], bounded by
//! `redis_timeout_ms` (connecting included), behind a short circuit breaker: after a failure,
//! calls fail at once for [`BREAK`], then one call probes while the others still fail at once, so
//! a Redis that is down costs a request nothing and one that comes back is used again without a
//! restart. What a failure means is each caller's: the limits and the back-off decide with the
//! instance's own counts (counted in `mcp_oauth_redis_fallbacks_total`), the replay checks refuse
//! the request (`mcp_oauth_redis_replay_refusals_total`). Log lines about it are rate-limited.
//!
//! Keys are `<prefix><kind>:<digest>`: the digest (SHA-256, 128 bits, base64url) of what the key
//! counts, so account names, addresses and client ids are not stored in the clear and every key
//! has the same size (see docs/deployment.md for the sizing). Each operation is one Lua script
//! ([`scripts`], `EVALSHA`): one round trip, atomic across instances. Times are the server
//! clock's, passed in, as everywhere else: the instances' clocks must agree (NTP), as they must
//! for token lifetimes anyway.

pub(crate) mod backoff;
pub(crate) mod limits;
pub(crate) mod replay;
pub(crate) mod scripts;

use crate::config::RedisUrl;
use crate::metrics::RedisMetrics;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long calls fail at once after a failure, before one probes again.
pub const BREAK: Duration = Duration::from_millis(500);

/// The shortest interval between two log lines about Redis being unavailable.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// The key marking when the memory of used ids began ([`replay`]).
pub(crate) const EPOCH_KEY: &str = "jti-epoch";

/// Redis did not answer within the timeout, or answered with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Redis did not answer in time")]
pub struct Unavailable;

/// Redis could not be set up from the configuration.
#[derive(Debug, thiserror::Error)]
#[error("redis_url {url}: {message}")]
pub struct RedisSetupError {
    url: String,
    message: String,
}

/// The connection to the shared Redis, its timeout, circuit breaker and key naming.
pub struct Redis {
    client: redis::Client,
    connection: tokio::sync::OnceCell<ConnectionManager>,
    timeout: Duration,
    prefix: String,
    breaker: Breaker,
    metrics: RedisMetrics,
    last_log: AtomicU64,
    scripts: scripts::Scripts,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// A handle on `url` (nothing is connected yet: the first call connects, and a Redis that is
    /// down at start is tried again as calls come).
    ///
    /// With `ca_file`, a `rediss://` server's certificate must chain to the certificates in it
    /// (PEM) rather than to the system's trust store.
    pub fn new(
        url: &RedisUrl,
        ca_file: Option<&std::path::Path>,
        timeout: Duration,
        prefix: &str,
        metrics: RedisMetrics,
    ) -> Result<Self, RedisSetupError> {
        let failed = |message: String| RedisSetupError {
            url: url.redacted(),
            message,
        };
        let client = match ca_file {
            None => redis::Client::open(url.expose()),
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| failed(format!("redis_ca_file {}: {e}", path.display())))?;
                redis::Client::build_with_tls(
                    url.expose(),
                    redis::TlsCertificates {
                        client_tls: None,
                        root_cert: Some(pem),
                    },
                )
            }
        }
        .map_err(|e| failed(e.to_string()))?;
        Ok(Self {
            client,
            connection: tokio::sync::OnceCell::new(),
            timeout,
            prefix: prefix.to_owned(),
            breaker: Breaker::new(),
            metrics,
            last_log: AtomicU64::new(0),
            scripts: scripts::Scripts::new(),
        })
    }

    /// The scripts.
    pub(crate) fn scripts(&self) -> &scripts::Scripts {
        &self.scripts
    }

    /// The key of `kind` for `value`: the prefix, the kind, and a digest of the value.
    pub(crate) fn key(&self, kind: &str, value: &[u8]) -> String {
        let digest = Sha256::digest(value);
        format!(
            "{}{kind}:{}",
            self.prefix,
            URL_SAFE_NO_PAD.encode(&digest[..16])
        )
    }

    /// A key of this deployment by its plain name.
    pub(crate) fn named_key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The connection manager, made once. Its first use marks the memory of used ids as valid
    /// since forever if no mark exists (a first deployment: nothing can have been used before);
    /// a mark that disappears later means Redis lost its data ([`replay`]).
    async fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        self.connection
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.timeout))
                    .set_response_timeout(Some(self.timeout))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(10))
                    .set_max_delay(Duration::from_millis(100));
                let mut manager =
                    ConnectionManager::new_lazy_with_config(self.client.clone(), config)?;
                redis::cmd("SET")
                    .arg(self.named_key(EPOCH_KEY))
                    .arg(0)
                    .arg("NX")
                    .query_async::<()>(&mut manager)
                    .await?;
                Ok(manager)
            })
            .await
            .cloned()
    }

    /// Runs `call` on the connection within the timeout, unless the breaker is open.
    pub(crate) async fn run<T, F, Fut>(&self, call: F) -> Result<T, Unavailable>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.breaker.allow() {
            return Err(Unavailable);
        }
        let outcome = tokio::time::timeout(self.timeout, async {
            let connection = self.connection().await?;
            call(connection).await
        })
        .await;
        match outcome {
            Ok(Ok(v)) => {
                if self.breaker.succeeded() {
                    tracing::info!(target: "mcp_oauth::redis", "Redis answers again");
                }
                self.metrics.set_up(true);
                Ok(v)
            }
            Ok(Err(e)) => {
                self.failed(&format!("{e}"));
                Err(Unavailable)
            }
            Err(_) => {
                self.failed(&format!("no answer within {} ms", self.timeout.as_millis()));
                Err(Unavailable)
            }
        }
    }

    fn failed(&self, why: &str) {
        self.breaker.failed();
        self.metrics.set_up(false);
        if self.may_log() {
            tracing::warn!(target: "mcp_oauth::redis", error = %why, "Redis unavailable: rate limits and login back-off use this instance's counts, replay-protected requests are refused");
        }
    }

    /// Counts a decision `limiter` made with this instance's own counts.
    pub(crate) fn fell_back(&self, limiter: &'static str) {
        self.metrics.fallback(limiter);
        if self.may_log() {
            tracing::warn!(target: "mcp_oauth::redis", limiter, "Redis unavailable: this limiter counts on this instance alone");
        }
    }

    /// Counts a request refused because the replay cache did not answer.
    pub(crate) fn refused(&self, kind: &'static str) {
        self.metrics.refusal(kind);
        if self.may_log() {
            tracing::warn!(target: "mcp_oauth::redis", kind, "Redis unavailable: request refused (its jti cannot be checked)");
        }
    }

    /// At most one log line per [`LOG_EVERY`].
    fn may_log(&self) -> bool {
        let now = self.breaker.millis();
        let last = self.last_log.load(Ordering::Relaxed);
        (last == 0 || now.saturating_sub(last) >= LOG_EVERY.as_millis() as u64)
            && self
                .last_log
                .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

/// Closed: calls go through. Open until a moment: calls fail at once; then one probe at a time.
struct Breaker {
    start: Instant,
    /// Milliseconds since `start` until which calls fail at once; 0 when closed.
    open_until: AtomicU64,
    probing: AtomicBool,
}

impl Breaker {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            open_until: AtomicU64::new(0),
            probing: AtomicBool::new(false),
        }
    }

    fn millis(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn allow(&self) -> bool {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        self.millis() >= until
            && self
                .probing
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// Closes the breaker; `true` when it was open.
    fn succeeded(&self) -> bool {
        let was = self.open_until.swap(0, Ordering::AcqRel) != 0;
        self.probing.store(false, Ordering::Release);
        was
    }

    fn failed(&self) {
        let until = self.millis() + BREAK.as_millis() as u64;
        self.open_until.store(until.max(1), Ordering::Release);
        self.probing.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn the_breaker_opens_then_lets_one_probe_through() {
        let b = Breaker::new();
        assert!(b.allow() && b.allow(), "closed");
        b.failed();
        assert!(!b.allow(), "open");
        // The break over (as if 500 ms had passed).
        std::thread::sleep(Duration::from_millis(2));
        b.open_until.store(1, Ordering::Release);
        assert!(b.allow(), "the probe");
        assert!(!b.allow(), "one probe at a time");
        assert!(b.succeeded());
        assert!(b.allow() && b.allow(), "closed again");
        assert!(!b.succeeded());
    }

    #[test]
    fn keys_are_prefixed_digests_of_one_size() {
        let r = Redis::new(
            &RedisUrl::new("redis://127.0.0.1:1"),
            None,
            Duration::from_millis(50),
            "t:",
            RedisMetrics::default(),
        )
        .unwrap();
        let a = r.key("bo", b"user:alice");
        let b = r.key("bo", "user:".repeat(500).as_bytes());
        assert!(a.starts_with("t:bo:"));
        assert_eq!(a.len(), b.len());
        assert_ne!(a, r.key("bo", b"user:bob"));
        assert!(!a.contains("alice"));
        assert_eq!(r.named_key(EPOCH_KEY), "t:jti-epoch");
    }
}
