//! Administration commands. Each opens the same database the server uses — SQLite in the data
//! directory, or the PostgreSQL database of `--database` — which is safe while it runs: the
//! database serialises writers and the server reads fresh state on every request.

pub mod api_keys;
pub mod clients;
pub mod keys;
pub mod registration_tokens;
pub mod resources;
pub mod users;

use crate::{GlobalArgs, data};
use mcp_oauth_server::store::Store;
use std::sync::Arc;

/// Opens the store named by the global options (saying which; never creating a new one
/// unasked).
pub async fn store(global: &GlobalArgs) -> anyhow::Result<Arc<dyn Store>> {
    data::open_admin_store(global).await
}

/// The current time for records.
pub fn now() -> i64 {
    use mcp_oauth_core::clock::Clock;
    mcp_oauth_core::clock::SystemClock.now()
}
