//! Administration commands. Each opens the same database the server uses — SQLite in the data
//! directory, or the PostgreSQL database of `--database` — which is safe while it runs: the
//! database serialises writers and the server reads fresh state on every request.

pub mod clients;
pub mod keys;
pub mod registration_tokens;
pub mod resources;
pub mod users;

use crate::{GlobalArgs, data, settings};
use mcp_oauth_server::store::Store;
use std::sync::Arc;

/// Opens the store named by the global options.
pub async fn store(global: &GlobalArgs) -> anyhow::Result<Arc<dyn Store>> {
    let file = settings::read_file(global.config.as_deref())?;
    let dir = data::dir(global.data_dir.as_deref(), file.data_dir.as_deref());
    let database = data::database(global.database.as_deref(), file.database.as_deref());
    data::open_store(&dir, database).await
}

/// The current time for records.
pub fn now() -> i64 {
    use mcp_oauth_core::clock::Clock;
    mcp_oauth_core::clock::SystemClock.now()
}
