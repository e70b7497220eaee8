//! Finding the protected resource a request names, through the short-lived record cache (see
//! [`crate::record_cache`]): every token request needs it, and it changes only by
//! administration.

use crate::model::Resource;
use crate::state::AppState;
use crate::store::StoreError;
use std::sync::Arc;
use std::time::Instant;

/// The cache key of the default resource; no registered resource URI is empty.
const DEFAULT_KEY: &str = "";

/// The resource registered under exactly `uri`.
pub async fn find(state: &AppState, uri: &str) -> Result<Option<Arc<Resource>>, StoreError> {
    let cache = &state.0.resources;
    if uri == DEFAULT_KEY {
        return Ok(None);
    }
    if let Some(hit) = cache.get(uri) {
        return Ok(hit);
    }
    let fetched = Instant::now();
    let found = state.store().get_resource(uri).await?.map(Arc::new);
    cache.put(uri, found.clone(), fetched);
    Ok(found)
}

/// The console's API resource URI for `issuer` (the audience of the console's tokens; see
/// `crate::console`), which is never a default.
pub fn console_api(issuer: &str) -> String {
    format!("{}/console/api", issuer.trim_end_matches('/'))
}

/// The resource a request without `resource` is for: the only one registered (besides the
/// console's API), if there is exactly one.
pub async fn default(state: &AppState) -> Result<Option<Arc<Resource>>, StoreError> {
    let cache = &state.0.resources;
    if let Some(hit) = cache.get(DEFAULT_KEY) {
        return Ok(hit);
    }
    let fetched = Instant::now();
    let mut all = state.store().list_resources().await?;
    // The console's own API is never what a client meant by leaving `resource` out.
    let console = console_api(&state.config().issuer);
    all.retain(|r| r.uri != console);
    let found = if all.len() == 1 {
        all.pop().map(Arc::new)
    } else {
        None
    };
    cache.put(DEFAULT_KEY, found.clone(), fetched);
    Ok(found)
}
