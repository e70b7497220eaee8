//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25):
//! a client id that is an `https` URL names a JSON document, fetched from that URL, that says
//! who the client is and where it may be redirected.
//!
//! - `document`: URL shape and document validation;
//! - `trust`: allow and deny lists of hosts;
//! - `cache`: validated documents in memory.
//!
//! The fetch itself, and the canonical host every check and page uses, are [`crate::fetch`]'s
//! (client `jwks_uri`s are fetched the same way).
//!
//! A document becomes a [`Client`] with [`ClientOrigin::Cimd`]. That client is also written to
//! the store on every successful fetch (inserted the first time, updated when the document
//! changed), so `mcp-oauth clients list` shows it and records when it last obtained a token,
//! and consents and grants name a client the store knows. The stored row is a record, never the
//! authority: requests always go through the cache or a fresh fetch, so a client whose document
//! disappears stops working once its cache entry expires.

pub mod cache;
pub mod document;
pub mod trust;

use crate::config::ServerConfig;
use crate::fetch::{FetchError, SafeFetcher};
use crate::metrics::Metrics;
use crate::model::{Client, ClientOrigin};
use crate::record_cache::RecordCache;
use crate::store::Store;
use cache::DocumentCache;
use mcp_oauth_core::clock::UnixTime;

/// What resolving a document needs of the server, and nothing more: the resolver is part of the
/// server's state, so it must not take the whole state back (that made an import cycle).
pub struct Resolving<'a> {
    /// The `cimd_*` settings and the redirect URI schemes.
    pub config: &'a ServerConfig,
    /// Where the client is recorded.
    pub store: &'a dyn Store,
    /// The SSRF-safe fetcher.
    pub fetcher: &'a SafeFetcher,
    /// Counts fetches by outcome.
    pub metrics: &'a Metrics,
    /// The client record cache, whose copy is dropped when the client is recorded.
    pub clients: &'a RecordCache<Client>,
    /// The server's clock.
    pub now: UnixTime,
}

/// Why a client id URL could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CimdError {
    /// The URL is not a valid document URL.
    #[error("{0}")]
    Url(&'static str),
    /// The host is on the deny list, or not on a non-empty allow list.
    #[error("this server does not accept client metadata documents from {0}")]
    NotTrusted(String),
    /// The fetch failed.
    #[error("the client metadata document could not be fetched: {0}")]
    Fetch(#[from] FetchError),
    /// The document is not acceptable.
    #[error("the client metadata document is invalid: {0}")]
    Invalid(String),
    /// Storage failed while recording the client.
    #[error("the client could not be recorded")]
    Store,
}

/// Fetches, validates and caches documents. One per server.
#[derive(Debug, Default)]
pub struct CimdResolver {
    cache: DocumentCache,
}

impl CimdResolver {
    /// The client described by the document at `client_id`. `stored` is the store's record of
    /// it, if any, whose creation and last-use times are kept.
    pub async fn resolve(
        &self,
        cx: &Resolving<'_>,
        client_id: &str,
        stored: Option<Client>,
    ) -> Result<Client, CimdError> {
        let config = cx.config;
        // Parsed once: the trust lists, the special-use check and the fetch all see this URL.
        let parsed = document::check_url(client_id).map_err(CimdError::Url)?;
        let host = parsed.host;
        if !trust::host_allowed(&host, &config.cimd_allow_hosts, &config.cimd_deny_hosts) {
            tracing::warn!(target: "mcp_oauth::cimd", %client_id, "refused by the trust policy");
            cx.metrics.cimd_fetch("refused");
            return Err(CimdError::NotTrusted(host));
        }
        let now = cx.now;
        if let Some(mut cached) = self.cache.get(client_id, now) {
            if let Some(s) = &stored {
                cached.created_at = s.created_at;
                cached.last_used_at = s.last_used_at;
            }
            cx.metrics.cimd_fetch("cached");
            return Ok(cached);
        }
        let fetched = cx
            .fetcher
            .get_json_url(parsed.url, document::MAX_DOCUMENT_BYTES)
            .await
            .inspect_err(|e| {
                cx.metrics.cimd_fetch("failed");
                tracing::warn!(target: "mcp_oauth::cimd", %client_id, error = %e, "fetching a client metadata document failed");
            })?;
        let check = |u: &str| {
            cx.fetcher
                .check_url(u)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let reg = document::validate(
            client_id,
            &fetched.body,
            &check,
            &config.redirect_uri_schemes,
        )
        .map_err(|e| {
            tracing::warn!(target: "mcp_oauth::cimd", %client_id, error = %e, "invalid client metadata document");
            cx.metrics.cimd_fetch("invalid");
            CimdError::Invalid(e)
        })?;
        let client = Client {
            client_id: client_id.to_owned(),
            client_name: reg.client_name.clone(),
            token_endpoint_auth_method: reg.auth_method.clone(),
            secret_hash: None,
            secret_expires_at: None,
            redirect_uris: reg.redirect_uris.clone(),
            grant_types: reg.grant_types.clone(),
            allowed_scopes: reg.scope.clone(),
            jwks: reg.jwks.clone(),
            jwks_uri: reg.jwks_uri.clone(),
            origin: ClientOrigin::Cimd,
            registration_token_hash: None,
            metadata: serde_json::to_value(&reg.metadata).unwrap_or_default(),
            created_at: stored.as_ref().map_or(now, |s| s.created_at),
            last_used_at: stored.as_ref().and_then(|s| s.last_used_at),
            // A document can never make its client a resource server.
            introspect_resources: Vec::new(),
            // A new document does not lift an administrator's decision.
            disabled_at: stored.as_ref().and_then(|s| s.disabled_at),
            previous_secret_hash: None,
            previous_secret_until: None,
        };
        record(cx, &client, stored.as_ref()).await?;
        if let Some(ttl) = fetched
            .cache
            .ttl(config.cimd_cache_min_ttl, config.cimd_cache_max_ttl)
        {
            self.cache.put(client_id, client.clone(), now + ttl, now);
        }
        tracing::info!(target: "mcp_oauth::cimd", %client_id, "client metadata document fetched");
        cx.metrics.cimd_fetch("ok");
        Ok(client)
    }
}

/// Writes the client to the store: inserted the first time, updated when the document changed.
async fn record(
    cx: &Resolving<'_>,
    client: &Client,
    stored: Option<&Client>,
) -> Result<(), CimdError> {
    let result = write(cx, client, stored).await;
    cx.clients.invalidate(&client.client_id);
    result
}

async fn write(
    cx: &Resolving<'_>,
    client: &Client,
    stored: Option<&Client>,
) -> Result<(), CimdError> {
    let failed = |e: crate::store::StoreError| {
        tracing::error!(target: "mcp_oauth::cimd", client_id = %client.client_id, error = %e, "recording a CIMD client failed");
        CimdError::Store
    };
    match stored {
        Some(s) if s == client => Ok(()),
        Some(_) => cx
            .store
            .update_client(client)
            .await
            .map(|_| ())
            .map_err(failed),
        None => match cx.store.insert_client(client).await {
            Ok(()) => {
                crate::audit::record(
                    cx.store,
                    crate::audit::AuditEvent::new(
                        crate::audit::AuditKind::ClientRegistered,
                        cx.now,
                    )
                    .client(client.client_id.as_str())
                    .detail(serde_json::json!({"origin": client.origin.as_str()})),
                )
                .await;
                Ok(())
            }
            // Another request recorded it first: bring that row up to date.
            Err(crate::store::StoreError::Conflict(_)) => cx
                .store
                .update_client(client)
                .await
                .map(|_| ())
                .map_err(failed),
            Err(e) => Err(failed(e)),
        },
    }
}
