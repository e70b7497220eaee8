//! `mcp-oauth-server`: an OAuth 2.1 authorization server for MCP, as an axum `Router`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use mcp_oauth_server::{AuthorizationServer, ServerConfig, keys::kek::Kek, store::sqlite::SqliteStore};
//! let store = Arc::new(SqliteStore::open(std::path::Path::new("auth.db")).await?);
//! let config = ServerConfig::new("https://auth.example.com").validate()?;
//! let server = AuthorizationServer::new(config, store, Kek::generate()?, Arc::new(mcp_oauth_core::clock::SystemClock)).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, server.router().into_make_service_with_connect_info::<std::net::SocketAddr>()).await?;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod api_keys;
pub mod audit;
pub(crate) mod authorization_request;
pub(crate) mod bounded;
pub mod cimd;
pub mod client_assertion;
pub(crate) mod client_auth;
pub(crate) mod client_keys;
pub mod client_metadata;
pub(crate) mod clients;
pub mod config;
pub mod console;
pub(crate) mod cors;
pub(crate) mod device;
pub(crate) mod dpop;
pub mod error;
pub mod federation;
pub mod fetch;
pub(crate) mod grants;
pub(crate) mod handlers;
pub mod keys;
pub mod liveness;
pub(crate) mod metrics;
pub mod model;
pub(crate) mod par;
pub(crate) mod password;
pub(crate) mod rate_limit;
pub(crate) mod record_cache;
pub(crate) mod registration;
pub(crate) mod replay;
pub(crate) mod resources;
pub(crate) mod roles;
pub(crate) mod shared;
pub(crate) mod state;
pub mod store;
pub(crate) mod throttle;
pub(crate) mod tokens;
pub mod ui;
pub(crate) mod upstream;

pub use config::{ConfigError, RegistrationPolicy, ServerConfig};
pub use shared::RedisSetupError;
pub use state::AppState;
pub use upstream::UpstreamConfigError;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use fetch::{FetchError, SafeFetcher};
use keys::kek::Kek;
use keys::{KeyError, KeyManager};
use mcp_oauth_core::clock::SharedClock;
use mcp_oauth_core::wellknown::{OAUTH_AUTHORIZATION_SERVER, OPENID_CONFIGURATION, served_path};
use state::Inner;
use std::sync::Arc;
use std::time::Duration;
use store::Store;
use throttle::LoginThrottle;

/// Why the server could not be prepared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The signing keys could not be loaded or created.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The outbound HTTP client could not be built.
    #[error("outbound HTTP client: {0}")]
    Http(#[from] FetchError),
    /// An `[[upstream]]` block cannot be used (a preset's field missing or malformed).
    #[error(transparent)]
    Upstream(#[from] upstream::UpstreamConfigError),
    /// `redis_url` cannot be used.
    #[error(transparent)]
    Redis(#[from] RedisSetupError),
}

/// A configured authorization server.
#[derive(Debug, Clone)]
pub struct AuthorizationServer {
    state: AppState,
}

impl AuthorizationServer {
    /// Loads (or creates) the signing keys and prepares the server.
    pub async fn new(
        config: ServerConfig,
        store: Arc<dyn Store>,
        kek: Kek,
        clock: SharedClock,
    ) -> Result<Self, StartError> {
        let kek = Arc::new(kek);
        let keys =
            KeyManager::load(store.clone(), kek.clone(), config.signing_alg, clock.now()).await?;
        let base_path = config.issuer_path().trim_end_matches('/').to_owned();
        let metrics = metrics::Metrics::new();
        let redis = if config.redis_url.is_set() {
            Some(Arc::new(shared::Redis::new(
                &config.redis_url,
                config.redis_ca_file.as_deref(),
                Duration::from_millis(config.redis_timeout_ms),
                &config.redis_key_prefix,
                metrics.redis(),
            )?))
        } else {
            None
        };
        let local_throttle =
            LoginThrottle::new(config.login_free_attempts, config.login_max_backoff);
        // With Redis, the limits, the back-off and the single-use ids are counted across the
        // instances; without, per instance (the ids in the database, shared anyway).
        let (throttle, limits, replay): (
            Box<dyn throttle::LoginBackoff>,
            _,
            Arc<dyn replay::SingleUse>,
        ) = match &redis {
            Some(r) => (
                Box::new(shared::backoff::SharedBackoff::new(
                    r.clone(),
                    local_throttle,
                )),
                shared::limits::endpoint_limits(&config, r),
                Arc::new(shared::replay::RedisSingleUse(r.clone())),
            ),
            None => (
                Box::new(local_throttle),
                rate_limit::EndpointLimits::new(&config),
                Arc::new(replay::StoreSingleUse(store.clone())),
            ),
        };
        let fetcher = SafeFetcher::new(
            config.cimd_allow_loopback,
            Duration::from_millis(config.fetch_connect_timeout_ms),
            Duration::from_millis(config.fetch_timeout_ms),
        )?;
        let record_ttl = Duration::from_millis(config.record_cache_ttl_ms);
        let upstreams = upstream::Upstreams::new(
            &config.upstream,
            kek.clone(),
            Duration::from_millis(config.fetch_connect_timeout_ms),
            Duration::from_millis(config.fetch_timeout_ms),
            config.jwks_refetch_interval,
        )?;
        Ok(Self {
            state: AppState(Arc::new(Inner {
                refresh_hmac: kek.derive_hmac("mcp-oauth refresh-token successor v1"),
                api_key_hmac: kek.derive_hmac(api_keys::HMAC_PURPOSE),
                device_hmac: kek.derive_hmac(device::HMAC_PURPOSE),
                replay,
                kek: kek.clone(),
                dpop_nonces: dpop::NonceKey::new(kek.derive_hmac("mcp-oauth dpop nonce v1")),
                config,
                store,
                keys: Arc::new(keys),
                clock,
                throttle,
                base_path,
                fetcher,
                cimd: cimd::CimdResolver::default(),
                client_jwks: client_keys::JwksCache::default(),
                metrics,
                limits,
                clients: record_cache::RecordCache::new(record_ttl),
                resources: record_cache::RecordCache::new(record_ttl),
                upstreams,
            })),
        })
    }

    /// The shared state (for administration and tests).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Spawns a background job that re-reads the signing keys from the store every `every`, so
    /// that keys created or retired by another instance on the same database (or by
    /// `mcp-oauth keys rotate`) are published in this instance's JWKS and accepted by its
    /// introspection within that interval.
    pub fn spawn_key_reload(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let state = self.state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = state.keys().reload(state.now()).await {
                    tracing::warn!(target: "mcp_oauth::maintenance", error = %e, "key reload failed");
                }
            }
        })
    }

    /// The HTTP routes. Serve with `into_make_service_with_connect_info::<SocketAddr>()` so that
    /// login throttling sees client addresses.
    ///
    /// Two groups: the endpoints a browser-based client calls with `fetch` (metadata, JWKS,
    /// registration, token, revocation) answer CORS preflights and carry CORS headers
    /// ([`cors`]); the pages (`/authorize`, login, consent), introspection and the operator
    /// endpoints never do.
    pub fn router(&self) -> Router {
        let base = &self.state.0.base_path;
        let mut browser = Router::new()
            .route(
                &served_path(OAUTH_AUTHORIZATION_SERVER, base),
                get(handlers::metadata::oauth),
            )
            .route(
                &served_path(OPENID_CONFIGURATION, base),
                get(handlers::metadata::openid),
            )
            .route(
                &format!("{base}/token"),
                // The per-address budget is checked inside the handler, before the body is read.
                post(handlers::token::post),
            )
            .route(&format!("{base}/revoke"), post(handlers::revoke::post))
            .route(&format!("{base}/par"), post(handlers::par::post))
            .route(
                &format!("{base}/device_authorization"),
                // The per-address budget of `/token`, checked inside the handler.
                post(handlers::device_authorization::post),
            )
            .route(&format!("{base}/jwks"), get(handlers::metadata::jwks))
            .route(
                &format!("{base}/register/{{client_id}}"),
                get(handlers::register::read)
                    .put(handlers::register::update)
                    .delete(handlers::register::delete),
            );
        if self.state.config().registration != RegistrationPolicy::Off {
            browser = browser.route(
                &format!("{base}/register"),
                post(handlers::register::register),
            );
        }
        if !base.is_empty() {
            // OpenID Discovery's own form appends to the issuer path.
            browser = browser.route(
                &format!("{base}/.well-known/{OPENID_CONFIGURATION}"),
                get(handlers::metadata::openid),
            );
        }
        let browser = browser
            .layer(cors::layer(&self.state.config().cors_allowed_origins))
            .layer(axum::middleware::from_fn(cors::preflight_no_content));
        let r = Router::new()
            .route("/readyz", get(handlers::metadata::readyz))
            .route(
                &format!("{base}/authorize"),
                get(handlers::authorize::get).route_layer(axum::middleware::from_fn_with_state(
                    self.state.clone(),
                    handlers::limits::authorize_per_ip,
                )),
            )
            .route(
                &format!("{base}/login"),
                post(handlers::login::post).route_layer(axum::middleware::from_fn_with_state(
                    self.state.clone(),
                    handlers::limits::login_per_ip,
                )),
            )
            .route(&format!("{base}/consent"), post(handlers::consent::post))
            .route(
                &format!("{base}/device"),
                get(handlers::device::get).post(handlers::device::post),
            )
            .route(
                &format!("{base}/device/login"),
                post(handlers::device::login).route_layer(axum::middleware::from_fn_with_state(
                    self.state.clone(),
                    handlers::limits::login_per_ip,
                )),
            )
            .route(
                &format!("{base}/device/upstream"),
                post(handlers::device::upstream).route_layer(axum::middleware::from_fn_with_state(
                    self.state.clone(),
                    handlers::limits::login_per_ip,
                )),
            )
            .route(
                &format!("{base}/upstream/{{id}}/start"),
                post(handlers::upstream::start::post).route_layer(
                    axum::middleware::from_fn_with_state(
                        self.state.clone(),
                        handlers::limits::login_per_ip,
                    ),
                ),
            )
            .route(
                &format!("{base}/upstream/{{id}}/callback"),
                get(handlers::upstream::callback::get).route_layer(
                    axum::middleware::from_fn_with_state(
                        self.state.clone(),
                        handlers::limits::login_per_ip,
                    ),
                ),
            )
            .route(
                &format!("{base}/introspect"),
                post(handlers::introspect::post),
            )
            .route("/healthz", get(handlers::metadata::healthz))
            .route("/metrics", get(handlers::metrics::serve_main))
            .merge(console::router(base))
            .merge(browser);
        r.route_layer(axum::middleware::from_fn_with_state(
            self.state.clone(),
            handlers::metrics::track,
        ))
        .fallback(not_found)
        .with_state(self.state.clone())
    }

    /// `GET /metrics` alone, without a token: for a separate listener on a private address
    /// (`serve --metrics-addr`).
    pub fn metrics_router(&self) -> Router {
        Router::new()
            .route("/metrics", get(handlers::metrics::serve))
            .with_state(self.state.clone())
    }

    /// Spawns the background job that runs [`Self::maintain`] every `every`.
    pub fn spawn_maintenance(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let server = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                server.maintain().await;
            }
        })
    }

    /// One round of maintenance: reloads keys (another instance may have rotated them), rotates
    /// the signing key when `key_rotation_interval` has passed, deletes retired keys whose tokens
    /// have all expired, purges
    /// expired codes, tokens and sessions and audit events older than `audit_retention`, and
    /// deletes dynamic registrations that were never used within `unused_registration_ttl`. Failures are logged and retried next round.
    pub async fn maintain(&self) {
        let state = &self.state;
        let now = state.now();
        if let Err(e) = state.keys().reload(now).await {
            tracing::warn!(target: "mcp_oauth::maintenance", error = %e, "key reload failed");
        }
        let cfg = state.config();
        if let Err(e) = state
            .keys()
            .rotate_if_due(now, cfg.key_rotation_interval, cfg.access_token_ttl)
            .await
        {
            tracing::warn!(target: "mcp_oauth::maintenance", error = %e, "scheduled key rotation failed");
        }
        if let Err(e) = state
            .keys()
            .delete_expired(now, cfg.access_token_ttl, keys::DELETE_LEEWAY)
            .await
        {
            tracing::warn!(target: "mcp_oauth::maintenance", error = %e, "deleting retired keys failed");
        }
        match state.store().purge_expired(now).await {
            Ok(n) if n > 0 => {
                tracing::info!(target: "mcp_oauth::maintenance", purged = n, "expired records purged")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(target: "mcp_oauth::maintenance", error = %e, "purge failed")
            }
        }
        // Upstream tokens deleted by the purge, or by another process (`users remove`,
        // `clients remove` from the CLI), revoked at their provider.
        let revoked =
            upstream::revocation::drain(state.store().as_ref(), state.upstreams(), now).await;
        if revoked > 0 {
            tracing::info!(target: "mcp_oauth::maintenance", revoked, "deleted upstream tokens revoked at their provider");
        }
        if let Err(e) = state.store().purge_sessions(now).await {
            tracing::warn!(target: "mcp_oauth::maintenance", error = %e, "session purge failed");
        }
        if let Err(e) = state.store().purge_upstream_logins(now).await {
            tracing::warn!(target: "mcp_oauth::maintenance", error = %e, "upstream sign-in purge failed");
        }
        match state
            .store()
            .purge_audit(now - state.config().audit_retention)
            .await
        {
            Ok(n) if n > 0 => {
                tracing::info!(target: "mcp_oauth::maintenance", purged = n, "audit events past the retention purged")
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(target: "mcp_oauth::maintenance", error = %e, "audit purge failed")
            }
        }
        let cutoff = now - state.config().unused_registration_ttl;
        match state.store().purge_unused_registrations(cutoff).await {
            Ok(n) if n > 0 => {
                tracing::info!(target: "mcp_oauth::maintenance", purged = n, "unused dynamic registrations purged");
                audit::record(
                    state.store().as_ref(),
                    audit::AuditEvent::new(audit::AuditKind::ClientRemoved, now).detail(
                        serde_json::json!({"by": "purge_unused_registrations", "count": n}),
                    ),
                )
                .await;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(target: "mcp_oauth::maintenance", error = %e, "registration purge failed")
            }
        }
    }
}

async fn not_found() -> axum::response::Response {
    error::no_store_json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({"error": "not_found"}),
    )
}
