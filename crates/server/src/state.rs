//! The state every handler shares.

use crate::cimd::CimdResolver;
use crate::client_keys::JwksCache;
use crate::config::ServerConfig;
use crate::fetch::SafeFetcher;
use crate::keys::KeyManager;
use crate::model::{Client, Resource};
use crate::record_cache::RecordCache;
use crate::store::Store;
use crate::throttle::LoginBackoff;
use aws_lc_rs::hmac;
use mcp_oauth_core::clock::SharedClock;
use std::sync::Arc;

/// Shared server state (cheap to clone).
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub config: ServerConfig,
    pub store: Arc<dyn Store>,
    pub keys: Arc<KeyManager>,
    pub clock: SharedClock,
    /// Login back-off per account and address: this instance's, or Redis's (see [`crate::shared`]).
    pub throttle: Box<dyn LoginBackoff>,
    /// Derives refresh-token successors (see `tokens::successor_refresh_token`).
    pub refresh_hmac: hmac::Key,
    /// Hashes API keys (see [`crate::api_keys`]).
    pub api_key_hmac: hmac::Key,
    /// Hashes device-flow user codes (see [`crate::device`]).
    pub device_hmac: hmac::Key,
    /// The key-encryption key, which also seals pushed authorization requests ([`crate::par`]).
    pub kek: Arc<crate::keys::kek::Kek>,
    /// Single use of client assertion and DPoP proof ids, across instances (the database, or
    /// Redis: see [`crate::replay`]).
    pub replay: Arc<dyn crate::replay::SingleUse>,
    /// Makes and checks DPoP server nonces (see [`crate::dpop::nonce`]).
    pub dpop_nonces: crate::dpop::NonceKey,
    /// The issuer's path, under which the endpoints are routed.
    pub base_path: String,
    /// The SSRF-safe fetcher for metadata documents and client JWKS.
    pub fetcher: SafeFetcher,
    /// Client ID Metadata Documents: fetch, validation, cache.
    pub cimd: CimdResolver,
    /// JWK Sets fetched from clients' `jwks_uri`.
    pub client_jwks: JwksCache,
    /// Prometheus metrics.
    pub metrics: crate::metrics::Metrics,
    /// Per-IP and per-client budgets of `/token`, `/authorize`, `/login` and `/register`.
    pub limits: crate::rate_limit::EndpointLimits,
    /// Client records recently read from the store (see [`crate::record_cache`]).
    pub clients: RecordCache<Client>,
    /// Resource records recently read from the store, and the default resource under the key
    /// `""` (no resource URI is empty).
    pub resources: RecordCache<Resource>,
    /// The identity providers of federated login.
    pub upstreams: crate::upstream::Upstreams,
}

impl AppState {
    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }
    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.0.store
    }
    /// The signing keys.
    pub fn keys(&self) -> &Arc<KeyManager> {
        &self.0.keys
    }
    /// The metrics.
    pub fn metrics(&self) -> &crate::metrics::Metrics {
        &self.0.metrics
    }
    /// The key API keys are hashed under.
    pub fn api_key_hmac(&self) -> &hmac::Key {
        &self.0.api_key_hmac
    }
    /// The current time.
    pub fn now(&self) -> i64 {
        self.0.clock.now()
    }
    /// The SSRF-safe fetcher.
    pub fn fetcher(&self) -> &SafeFetcher {
        &self.0.fetcher
    }
    /// The metadata document resolver.
    pub fn cimd(&self) -> &CimdResolver {
        &self.0.cimd
    }
    /// The identity providers of federated login.
    pub(crate) fn upstreams(&self) -> &crate::upstream::Upstreams {
        &self.0.upstreams
    }
    /// The cache of clients' fetched JWK Sets.
    pub fn client_jwks(&self) -> &JwksCache {
        &self.0.client_jwks
    }
    /// Revokes at their providers the upstream tokens that deletions queued (see
    /// [`crate::upstream::revocation`]), waiting at most its `BOUND`: a request that deleted
    /// some is answered then, and the revocations go on in the background.
    pub(crate) async fn revoke_upstream_queued(&self) {
        let state = self.clone();
        let job = tokio::spawn(async move {
            let now = state.now();
            crate::upstream::revocation::drain(state.store().as_ref(), state.upstreams(), now).await
        });
        let _ = tokio::time::timeout(crate::upstream::revocation::BOUND, job).await;
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("issuer", &self.0.config.issuer)
            .finish_non_exhaustive()
    }
}
