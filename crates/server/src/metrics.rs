//! Prometheus metrics (`GET /metrics`, OpenMetrics text): tokens issued by grant and outcome,
//! request latency per endpoint, login failures, refresh-token reuse detections, and client
//! metadata document fetches; with Redis ([`crate::shared`]), whether it answers, the requests each
//! limiter decided on this instance alone while it did not, and the requests refused because the
//! replay cache could not be asked.
//!
//! Labels are `&'static str` from fixed sets, so recording allocates nothing on the token path.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    grant: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimiterLabels {
    limiter: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StoreLabels {
    store: &'static str,
}

/// The Redis metrics, handed to [`crate::shared::Redis`] (clones share the values).
#[derive(Clone, Debug, Default)]
pub struct RedisMetrics {
    up: Gauge,
    fallbacks: Family<LimiterLabels, Counter>,
    refusals: Family<StoreLabels, Counter>,
}

impl RedisMetrics {
    /// Whether the last call to Redis was answered in time.
    pub fn set_up(&self, up: bool) {
        self.up.set(i64::from(up));
    }

    /// Counts a request `limiter` decided with this instance's own counts.
    pub fn fallback(&self, limiter: &'static str) {
        self.fallbacks
            .get_or_create(&LimiterLabels { limiter })
            .inc();
    }

    /// Counts a request refused because the replay cache `store` did not answer.
    pub fn refusal(&self, store: &'static str) {
        self.refusals.get_or_create(&StoreLabels { store }).inc();
    }
}

fn latency_histogram() -> Histogram {
    // 100 µs to ~6.5 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

/// The server's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    tokens: Family<TokenLabels, Counter>,
    latency: Family<EndpointLabels, Histogram, fn() -> Histogram>,
    login_failures: Counter,
    refresh_reuse: Counter,
    cimd_fetches: Family<OutcomeLabels, Counter>,
    pool_connections: Gauge,
    pool_idle: Gauge,
    redis: RedisMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Records the latency of one request to `endpoint` (a name from [`endpoint_name`]).
    pub fn observe_latency(&self, endpoint: &'static str, seconds: f64) {
        self.latency
            .get_or_create(&EndpointLabels { endpoint })
            .observe(seconds);
    }

    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("mcp_oauth");
        let tokens = registered(
            &mut registry,
            "token_requests",
            "Token endpoint requests by grant type and outcome (ok or the OAuth error code)",
            Family::<TokenLabels, Counter>::default(),
        );
        let latency = registered(
            &mut registry,
            "http_request_duration_seconds",
            "Request latency per endpoint",
            Family::<EndpointLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram,
            ),
        );
        let login_failures = registered(
            &mut registry,
            "login_failures",
            "Failed or throttled login attempts",
            Counter::default(),
        );
        let refresh_reuse = registered(
            &mut registry,
            "refresh_token_reuse",
            "Rotated refresh tokens presented again (the family was revoked)",
            Counter::default(),
        );
        let cimd_fetches = registered(
            &mut registry,
            "client_metadata_fetches",
            "Client ID Metadata Document fetches by outcome",
            Family::<OutcomeLabels, Counter>::default(),
        );
        let pool_connections = registered(
            &mut registry,
            "db_pool_connections",
            "Open connections of the database pool",
            Gauge::default(),
        );
        let pool_idle = registered(
            &mut registry,
            "db_pool_idle_connections",
            "Idle connections of the database pool",
            Gauge::default(),
        );
        let redis = RedisMetrics {
            up: registered(
                &mut registry,
                "redis_up",
                "1 when the last call to Redis was answered within the timeout; 0 when it was not, or no Redis is configured",
                Gauge::default(),
            ),
            fallbacks: registered(
                &mut registry,
                "redis_fallbacks",
                "Requests a limiter decided with this instance's own counts because Redis did not answer",
                Family::<LimiterLabels, Counter>::default(),
            ),
            refusals: registered(
                &mut registry,
                "redis_replay_refusals",
                "Requests refused (503) because the replay cache on Redis did not answer",
                Family::<StoreLabels, Counter>::default(),
            ),
        };
        Self {
            registry,
            redis,
            pool_connections,
            pool_idle,
            tokens,
            latency,
            login_failures,
            refresh_reuse,
            cimd_fetches,
        }
    }

    /// The Redis metrics, for [`crate::shared::Redis`].
    pub fn redis(&self) -> RedisMetrics {
        self.redis.clone()
    }

    /// Counts a token request.
    pub fn token(&self, grant: &'static str, outcome: &'static str) {
        self.tokens
            .get_or_create(&TokenLabels { grant, outcome })
            .inc();
    }

    /// Counts a failed login.
    pub fn login_failure(&self) {
        self.login_failures.inc();
    }

    /// Counts a refresh-token reuse detection.
    pub fn refresh_reuse(&self) {
        self.refresh_reuse.inc();
    }

    /// Counts a client metadata document fetch (`ok`, `cached`, `refused`, `failed`, `invalid`).
    pub fn cimd_fetch(&self, outcome: &'static str) {
        self.cimd_fetches
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Sets the database pool gauges (read at scrape time).
    pub fn set_pool(&self, open: u32, idle: u32) {
        self.pool_connections.set(i64::from(open));
        self.pool_idle.set(i64::from(idle));
    }

    /// The OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// The endpoint name of a matched route, from a fixed set.
pub(crate) fn endpoint_name(path: &str) -> &'static str {
    const NAMES: [&str; 11] = [
        "authorize",
        "login",
        "consent",
        "token",
        "revoke",
        "introspect",
        "jwks",
        "register",
        "healthz",
        "readyz",
        "metrics",
    ];
    if path.contains("/.well-known/") {
        return "metadata";
    }
    let last = path
        .rsplit('/')
        .find(|s| !s.is_empty() && !s.starts_with('{'))
        .unwrap_or("");
    NAMES
        .iter()
        .find(|n| **n == last)
        .copied()
        .unwrap_or("other")
}

/// Registers `metric` under `name` and hands it back, for the field that records into it.
fn registered<M: Metric + Clone>(
    registry: &mut Registry,
    name: &'static str,
    help: &'static str,
    metric: M,
) -> M {
    registry.register(name, help, metric.clone());
    metric
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names() {
        assert_eq!(endpoint_name("/token"), "token");
        assert_eq!(endpoint_name("/t1/token"), "token");
        assert_eq!(
            endpoint_name("/.well-known/oauth-authorization-server/t1"),
            "metadata"
        );
        assert_eq!(endpoint_name("/register/{client_id}"), "register");
        assert_eq!(endpoint_name("/nope"), "other");
    }

    #[test]
    fn encodes_counters() {
        let m = Metrics::new();
        m.token("client_credentials", "ok");
        m.refresh_reuse();
        let text = m.encode();
        assert!(
            text.contains(
                "mcp_oauth_token_requests_total{grant=\"client_credentials\",outcome=\"ok\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("mcp_oauth_refresh_token_reuse_total 1"),
            "{text}"
        );
    }
}
