//! An OpenID provider's metadata (OpenID Connect Discovery 1.0) and its JWK Set, fetched
//! through the SSRF-safe fetcher and kept for an hour; the keys are fetched again for a `kid`
//! they lack, at most once per `jwks_refetch_interval` (a provider's key rotation, without
//! letting forged `kid`s make us hammer it).

use super::UpstreamError;
use super::presets::IssuerRule;
use crate::fetch::SafeFetcher;
use mcp_oauth_core::clock::UnixTime;
use mcp_oauth_core::jose::JwkSet;
use mcp_oauth_core::jws::JwkKey;
use serde::Deserialize;
use std::sync::{Arc, Mutex};

/// How long metadata is kept, in seconds.
const METADATA_TTL: i64 = 3_600;
/// At most this many bytes of metadata, and of a JWK Set.
const MAX_DOCUMENT: usize = 256 * 1024;
/// At most this many keys of a set are read.
const MAX_KEYS: usize = 64;

/// The metadata fields used here.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    /// RFC 9207: whether authorization responses carry `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// Metadata and keys, as fetched.
#[derive(Debug)]
pub(crate) struct Discovered {
    pub metadata: ProviderMetadata,
    pub keys: Vec<JwkKey>,
    fetched_at: UnixTime,
    keys_fetched_at: UnixTime,
}

/// The cache of one provider.
#[derive(Debug, Default)]
pub(crate) struct Cache(Mutex<Option<Arc<Discovered>>>);

impl Cache {
    fn get(&self) -> Option<Arc<Discovered>> {
        self.0.lock().ok().and_then(|g| g.clone())
    }

    fn put(&self, d: Arc<Discovered>) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(d);
        }
    }

    /// The provider's metadata and keys, fetched when missing or older than an hour.
    pub(crate) async fn discovered(
        &self,
        fetcher: &SafeFetcher,
        issuer: &str,
        rule: &IssuerRule,
        now: UnixTime,
    ) -> Result<Arc<Discovered>, UpstreamError> {
        if let Some(d) = self.get().filter(|d| now - d.fetched_at < METADATA_TTL) {
            return Ok(d);
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let doc = fetcher
            .get_json(&url, MAX_DOCUMENT)
            .await
            .map_err(UpstreamError::Unreachable)?;
        let metadata: ProviderMetadata = serde_json::from_slice(&doc.body).map_err(|_| {
            UpstreamError::Garbage("its OpenID configuration is not a valid metadata document")
        })?;
        if !rule.accepts_discovered(issuer, &metadata.issuer) {
            return Err(UpstreamError::Garbage(
                "its OpenID configuration names another issuer",
            ));
        }
        for u in [
            Some(&metadata.authorization_endpoint),
            Some(&metadata.token_endpoint),
            Some(&metadata.jwks_uri),
            metadata.userinfo_endpoint.as_ref(),
            metadata.revocation_endpoint.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            fetcher.check_url(u).map_err(UpstreamError::Unreachable)?;
        }
        let keys = fetch_keys(fetcher, &metadata.jwks_uri).await?;
        let d = Arc::new(Discovered {
            metadata,
            keys,
            fetched_at: now,
            keys_fetched_at: now,
        });
        self.put(d.clone());
        Ok(d)
    }

    /// The keys again, for a `kid` the cached set lacks, unless they were fetched within
    /// `interval` seconds.
    pub(crate) async fn refetch_keys(
        &self,
        fetcher: &SafeFetcher,
        current: &Discovered,
        interval: i64,
        now: UnixTime,
    ) -> Result<Option<Arc<Discovered>>, UpstreamError> {
        if now - current.keys_fetched_at < interval {
            return Ok(None);
        }
        let keys = fetch_keys(fetcher, &current.metadata.jwks_uri).await?;
        let d = Arc::new(Discovered {
            metadata: current.metadata.clone(),
            keys,
            fetched_at: current.fetched_at,
            keys_fetched_at: now,
        });
        self.put(d.clone());
        Ok(Some(d))
    }
}

async fn fetch_keys(fetcher: &SafeFetcher, url: &str) -> Result<Vec<JwkKey>, UpstreamError> {
    let doc = fetcher
        .get_json(url, MAX_DOCUMENT)
        .await
        .map_err(UpstreamError::Unreachable)?;
    let set: JwkSet = serde_json::from_slice(&doc.body)
        .map_err(|_| UpstreamError::Garbage("its JWK Set is not a valid key set"))?;
    Ok(JwkKey::set(&set.keys, MAX_KEYS))
}
