//! SQLite store: the embedded default backend.
//!
//! One database file, opened in WAL mode so that readers never wait for the writer. Every
//! operation that touches more than one row runs in one transaction begun with
//! `BEGIN IMMEDIATE`: it takes the write lock up front, so concurrent writers queue instead of
//! failing with `SQLITE_BUSY` when a read transaction tries to upgrade to a write, and a check made
//! inside the transaction still holds when its write lands. This process's write transactions
//! queue first on an async mutex (`SqlBackend::write_gate`), in order and without polling; the
//! busy timeout is left for the writers of other processes (an admin command beside `serve`). There are
//! therefore no row locks (SQLite has none) and no retries: nothing aborts a transaction that
//! holds the write lock for a concurrent neighbour's sake.
//!
//! The statements are the shared SQL implementation's (`store/sql`), the same as PostgreSQL's;
//! this module opens the database, runs its migrations (`migrations/sqlite`) and says how
//! SQLite speaks that SQL (`dialect`).

mod dialect;

use super::StoreError;
use super::StoreResult;
use super::sql::{SqlBackend, db};
use sqlx::Sqlite;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The schema migrations, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a statement waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in the pool. SQLite has one writer at a time anyway; a few connections let reads
/// proceed beside it.
const POOL_SIZE: u32 = 8;

/// A store in one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// This process's write transactions, one at a time ([`SqlBackend::write_gate`]).
    writers: Arc<tokio::sync::Mutex<()>>,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `path` and brings its schema up to date.
    ///
    /// A new file is created with mode `0600` on unix: it holds password hashes and encrypted
    /// keys. SQLite gives its `-wal` and `-shm` files the same mode. The settings: WAL journal,
    /// `synchronous = NORMAL` (a committed transaction survives a crash of the process, though
    /// not necessarily a power loss, which is the usual trade-off in WAL mode), foreign keys
    /// enforced, a 5 s busy timeout and a pool of 8 connections, not pinged before each use.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        create_private_file(path).await?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL_SIZE)
            // No ping before each use: a connection to a file cannot have been dropped by a
            // peer, and the ping is one more round trip to the connection's worker thread on
            // every statement run on the pool (bench/notes.md, issue 19).
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(db("opening the database"))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migrating the database: {e}")))?;
        Ok(Self {
            pool,
            writers: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The connection pool (for administration, health checks and tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Creates the database file with owner-only permissions if it does not exist yet, before SQLite
/// would create it with the default (umask-governed) mode.
async fn create_private_file(path: &Path) -> StoreResult<()> {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    match options.open(path).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Backend(format!(
            "creating the database file {}: {e}",
            path.display()
        ))),
    }
}

impl SqlBackend for SqliteStore {
    type Db = Sqlite;

    fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    fn write_gate(&self) -> Option<&tokio::sync::Mutex<()>> {
        Some(&self.writers)
    }
}

#[cfg(test)]
mod tests;
