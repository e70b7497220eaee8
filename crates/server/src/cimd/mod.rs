//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; MCP 2025-11-25):
//! a client id that is an `https` URL names a JSON document, fetched from that URL, that says
//! who the client is and where it may be redirected.
//!
//! - `ip`: which addresses the server may connect to;
//! - `fetch`: the SSRF-safe fetcher (resolve, check, connect to what was checked, no redirects,
//!   limits), also used for client `jwks_uri`s;
//! - `document`: URL shape and document validation;
//! - `trust`: allow and deny lists of hosts;
//! - `cache`: validated documents in memory.
//!
//! A document becomes a [`Client`] with [`ClientOrigin::Cimd`]. That client is also written to
//! the store on every successful fetch (inserted the first time, updated when the document
//! changed), so `mcp-oauth clients list` shows it and records when it last obtained a token,
//! and consents and grants name a client the store knows. The stored row is a record, never the
//! authority: requests always go through the cache or a fresh fetch, so a client whose document
//! disappears stops working once its cache entry expires.

pub mod cache;
pub mod document;
pub mod fetch;
pub mod ip;
pub mod trust;

use crate::model::{Client, ClientOrigin};
use crate::state::AppState;
use cache::DocumentCache;
use fetch::FetchError;

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
        state: &AppState,
        client_id: &str,
        stored: Option<Client>,
    ) -> Result<Client, CimdError> {
        let config = state.config();
        document::check_url(client_id).map_err(CimdError::Url)?;
        let host = document::host_of(client_id);
        if !trust::host_allowed(&host, &config.cimd_allow_hosts, &config.cimd_deny_hosts) {
            tracing::warn!(target: "mcp_oauth::cimd", %client_id, "refused by the trust policy");
            state.metrics().cimd_fetch("refused");
            return Err(CimdError::NotTrusted(host));
        }
        let now = state.now();
        if let Some(mut cached) = self.cache.get(client_id, now) {
            if let Some(s) = &stored {
                cached.created_at = s.created_at;
                cached.last_used_at = s.last_used_at;
            }
            state.metrics().cimd_fetch("cached");
            return Ok(cached);
        }
        let fetched = state
            .fetcher()
            .get_json(client_id, document::MAX_DOCUMENT_BYTES)
            .await
            .inspect_err(|e| {
                state.metrics().cimd_fetch("failed");
                tracing::warn!(target: "mcp_oauth::cimd", %client_id, error = %e, "fetching a client metadata document failed");
            })?;
        let check = |u: &str| {
            state
                .fetcher()
                .check_url(u)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        let reg = document::validate(
            client_id,
            &fetched.body,
            &check,
            &state.config().redirect_uri_schemes,
        )
        .map_err(|e| {
            tracing::warn!(target: "mcp_oauth::cimd", %client_id, error = %e, "invalid client metadata document");
            state.metrics().cimd_fetch("invalid");
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
        };
        record(state, &client, stored.as_ref()).await?;
        if let Some(ttl) = fetched
            .cache
            .ttl(config.cimd_cache_min_ttl, config.cimd_cache_max_ttl)
        {
            self.cache.put(client_id, client.clone(), now + ttl, now);
        }
        tracing::info!(target: "mcp_oauth::cimd", %client_id, "client metadata document fetched");
        state.metrics().cimd_fetch("ok");
        Ok(client)
    }
}

/// Writes the client to the store: inserted the first time, updated when the document changed.
async fn record(
    state: &AppState,
    client: &Client,
    stored: Option<&Client>,
) -> Result<(), CimdError> {
    let result = write(state, client, stored).await;
    crate::clients::changed(state, &client.client_id);
    result
}

async fn write(
    state: &AppState,
    client: &Client,
    stored: Option<&Client>,
) -> Result<(), CimdError> {
    let failed = |e: crate::store::StoreError| {
        tracing::error!(target: "mcp_oauth::cimd", client_id = %client.client_id, error = %e, "recording a CIMD client failed");
        CimdError::Store
    };
    match stored {
        Some(s) if s == client => Ok(()),
        Some(_) => state
            .store()
            .update_client(client)
            .await
            .map(|_| ())
            .map_err(failed),
        None => match state.store().insert_client(client).await {
            Ok(()) => {
                crate::audit::record(
                    state.store().as_ref(),
                    crate::audit::AuditEvent::new(
                        crate::audit::AuditKind::ClientRegistered,
                        state.now(),
                    )
                    .client(client.client_id.as_str())
                    .detail(serde_json::json!({"origin": client.origin.as_str()})),
                )
                .await;
                Ok(())
            }
            // Another request recorded it first: bring that row up to date.
            Err(crate::store::StoreError::Conflict(_)) => state
                .store()
                .update_client(client)
                .await
                .map(|_| ())
                .map_err(failed),
            Err(e) => Err(failed(e)),
        },
    }
}
