//! Finding the client a request names, in one place for `/authorize`, the login and consent
//! forms and client authentication.
//!
//! A client id that is an `https` URL is a Client ID Metadata Document: it is resolved through
//! [`crate::cimd`] (cache or fetch), unless an administrator registered that id explicitly, in
//! which case the administrator's record wins.
//!
//! A stored client is found in the store, except a dynamic registration that never obtained a
//! token and is older than `unused_registration_ttl`: it counts as unknown from that moment (the
//! maintenance task deletes it later), so the answer does not depend on when the purge last ran.
//! Unknown clients get `invalid_client` at the token endpoint and an error page at
//! `/authorize`, which is the signal on which a client registers again.
//!
//! Stored records are read through the short-lived record cache (see [`crate::record_cache`]);
//! whatever changes a client here calls [`changed`] or [`used`].

use crate::cimd::{CimdError, document};
use crate::error::OAuthError;
use crate::model::{Client, ClientOrigin};
use crate::state::AppState;
use crate::store::StoreError;
use std::sync::Arc;
use std::time::Instant;

/// Why a client could not be looked up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The client id is a metadata document URL that could not be used.
    #[error(transparent)]
    Document(#[from] CimdError),
}

/// Whether `client` is a dynamic registration past its unused lifetime.
pub fn is_expired_registration(state: &AppState, client: &Client) -> bool {
    client.origin == ClientOrigin::Dcr
        && client.last_used_at.is_none()
        && client.created_at + state.config().unused_registration_ttl <= state.now()
}

impl From<LookupError> for OAuthError {
    fn from(e: LookupError) -> Self {
        match e {
            LookupError::Store(e) => e.into(),
            // The client named itself by a document URL that did not work: the client is not
            // usable (the MCP flow diagram's `invalid_client`).
            LookupError::Document(e) => Self::invalid_client(e.to_string(), false),
        }
    }
}

/// The client named `client_id`, if it exists and is usable.
pub async fn find(state: &AppState, client_id: &str) -> Result<Option<Arc<Client>>, LookupError> {
    let stored = stored(state, client_id).await?;
    if stored.as_ref().is_some_and(|c| c.disabled_at.is_some()) {
        // Disabled by an administrator: unknown to every flow (`invalid_client`).
        return Ok(None);
    }
    let config = state.config();
    match stored {
        Some(c) if c.origin != ClientOrigin::Cimd => {
            Ok(Some(c).filter(|c| !is_expired_registration(state, c)))
        }
        stored
            if config.cimd_enabled
                && document::looks_like_url(client_id, config.cimd_allow_loopback) =>
        {
            let stored = stored.map(Arc::unwrap_or_clone);
            let cx = crate::cimd::Resolving {
                config,
                store: state.store().as_ref(),
                fetcher: state.fetcher(),
                metrics: state.metrics(),
                clients: &state.0.clients,
                now: state.now(),
            };
            Ok(Some(Arc::new(
                state.cimd().resolve(&cx, client_id, stored).await?,
            )))
        }
        // A CIMD client recorded while documents were enabled, or an unknown id.
        _ => Ok(None),
    }
}

/// The stored record of `client_id`, from the record cache or the store.
async fn stored(state: &AppState, client_id: &str) -> Result<Option<Arc<Client>>, StoreError> {
    let cache = &state.0.clients;
    if let Some(hit) = cache.get(client_id) {
        return Ok(hit);
    }
    let fetched = Instant::now();
    let found = state.store().get_client(client_id).await?.map(Arc::new);
    cache.put(client_id, found.clone(), fetched);
    Ok(found)
}

/// Whether an administrator disabled `client_id` (through the record cache: a change made by
/// another process holds within its lifetime).
pub async fn is_disabled(state: &AppState, client_id: &str) -> Result<bool, StoreError> {
    Ok(stored(state, client_id)
        .await?
        .is_some_and(|c| c.disabled_at.is_some()))
}

/// Drops the cached record of a client this server just changed or deleted.
pub fn changed(state: &AppState, client_id: &str) {
    state.0.clients.invalidate(client_id);
}

/// Records in the cached copy that the client obtained a token at `now`, as the store was just
/// told, so that the next request does not write it again.
pub fn used(state: &AppState, client_id: &str, now: i64) {
    state
        .0
        .clients
        .update(client_id, |c| c.last_used_at = Some(now));
}
