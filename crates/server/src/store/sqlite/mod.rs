//! SQLite store: the embedded default backend.
//!
//! One database file, opened in WAL mode so that readers never wait for the writer. Every
//! operation that touches more than one row runs in one transaction begun with
//! `BEGIN IMMEDIATE`: it takes the write lock up front, so concurrent writers queue on the busy
//! timeout instead of failing with `SQLITE_BUSY` when a read transaction tries to upgrade to a
//! write, and a check made inside the transaction still holds when its write lands.
//!
//! The SQL is deliberately plain (no SQLite-only functions, `ON CONFLICT ... DO UPDATE` with
//! `excluded`) so that a PostgreSQL backend can follow with the same schema shape.
//!
//! The implementations are split by aggregate: `accounts` (clients, resources, users), `grants`
//! (codes, grants, refresh tokens, revoked access tokens) and `sessions` (consents, signing
//! keys, browser sessions), `registration` (initial access tokens, unused registrations) and
//! `assertions` (used client assertion ids).

mod accounts;
mod assertions;
mod audit;
mod grants;
mod key_schedule;
mod registration;
mod sessions;

use super::{StoreError, StoreResult};
use mcp_oauth_core::ScopeSet;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};
use std::path::Path;
use std::time::Duration;

/// The schema migrations, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a statement waits for another connection's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in the pool. SQLite has one writer at a time anyway; a few connections let reads
/// proceed beside it.
const POOL_SIZE: u32 = 8;

/// A query with its arguments, as the helpers build them.
type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments>;

/// A store in one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it if missing) the database at `path` and brings its schema up to date.
    ///
    /// A new file is created with mode `0600` on unix: it holds password hashes and encrypted
    /// keys. SQLite gives its `-wal` and `-shm` files the same mode. The settings: WAL journal,
    /// `synchronous = NORMAL` (a committed transaction survives a crash of the process, though
    /// not necessarily a power loss, which is the usual trade-off in WAL mode), foreign keys
    /// enforced, a 5 s busy timeout and a pool of 8 connections.
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
            .connect_with(options)
            .await
            .map_err(db("opening the database"))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("migrating the database: {e}")))?;
        Ok(Self { pool })
    }

    /// The connection pool (for administration, health checks and tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Begins a write transaction that holds the write lock from its first statement.
    async fn begin(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db("beginning a transaction"))
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

/// Commits `tx` if `result` is a success and rolls it back otherwise, so that a refused operation
/// leaves no trace.
async fn finish<T>(tx: Transaction<'static, Sqlite>, result: StoreResult<T>) -> StoreResult<T> {
    match result {
        Ok(v) => {
            tx.commit().await.map_err(db("committing"))?;
            Ok(v)
        }
        Err(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(target: "mcp_oauth::store", error = %rollback, "rollback failed");
            }
            Err(e)
        }
    }
}

/// Maps a database error: a uniqueness violation is a `Conflict` on `what`, anything else a
/// `Backend` error. sqlx's messages carry SQLite's text, never the bound values, so no secret
/// reaches the message.
fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what.into()),
        _ => StoreError::Backend(format!("{what}: {e}")),
    }
}

/// Reads a column.
fn col<'r, T>(row: &'r SqliteRow, name: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>,
{
    row.try_get(name).map_err(db("decoding a row"))
}

/// Reads a scope set stored as its space-delimited string.
fn scope_col(row: &SqliteRow, name: &str) -> StoreResult<ScopeSet> {
    let s: String = col(row, name)?;
    parse_scope(&s)
}

/// Reads an optional scope set.
fn opt_scope_col(row: &SqliteRow, name: &str) -> StoreResult<Option<ScopeSet>> {
    col::<Option<String>>(row, name)?
        .map(|s| parse_scope(&s))
        .transpose()
}

fn parse_scope(s: &str) -> StoreResult<ScopeSet> {
    ScopeSet::parse(s).map_err(|e| StoreError::Backend(format!("stored scope: {e}")))
}

/// Reads a value stored as JSON text.
fn json_col<T: DeserializeOwned>(row: &SqliteRow, name: &str) -> StoreResult<T> {
    let s: String = col(row, name)?;
    serde_json::from_str(&s).map_err(|e| StoreError::Backend(format!("stored JSON in {name}: {e}")))
}

/// Reads an optional value stored as JSON text.
fn opt_json_col<T: DeserializeOwned>(row: &SqliteRow, name: &str) -> StoreResult<Option<T>> {
    col::<Option<String>>(row, name)?
        .map(|s| {
            serde_json::from_str(&s)
                .map_err(|e| StoreError::Backend(format!("stored JSON in {name}: {e}")))
        })
        .transpose()
}

/// Serializes a value for a JSON text column.
fn to_json<T: Serialize + ?Sized>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(format!("encoding JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::SqliteStore;
    use crate::store::contract;
    use crate::store::{ClientStore, GrantStore};
    use std::sync::Arc;

    async fn fresh() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("auth.db"))
            .await
            .unwrap();
        (dir, store)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_store_passes_the_contract() {
        let (_dir, store) = fresh().await;
        contract::run_all(&store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn sqlite_store_is_atomic_under_concurrency() {
        let (_dir, store) = fresh().await;
        contract::run_concurrency(Arc::new(store)).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn connections_use_the_documented_settings() {
        let (_dir, store) = fresh().await;
        let mut conn = store.pool().acquire().await.unwrap();
        let pragma = |name: &'static str| sqlx::query_scalar::<_, String>(name);
        assert_eq!(
            pragma("PRAGMA journal_mode")
                .fetch_one(&mut *conn)
                .await
                .unwrap(),
            "wal"
        );
        let int = |name: &'static str| sqlx::query_scalar::<_, i64>(name);
        // NORMAL is 1.
        assert_eq!(
            int("PRAGMA synchronous")
                .fetch_one(&mut *conn)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            int("PRAGMA foreign_keys")
                .fetch_one(&mut *conn)
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            int("PRAGMA busy_timeout")
                .fetch_one(&mut *conn)
                .await
                .unwrap(),
            5_000
        );
    }

    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn database_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, store) = fresh().await;
        // Write something so that the WAL file exists too.
        store
            .insert_client(&contract::bare_client("perm", 1))
            .await
            .unwrap();
        let mode = |name: &str| {
            std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("auth.db"), 0o600);
        assert_eq!(mode("auth.db-wal"), 0o600);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.db");
        let client = contract::full_client("persisted", 42);
        {
            let store = SqliteStore::open(&path).await.unwrap();
            store.insert_client(&client).await.unwrap();
            store
                .revoke_access_token("jti-persisted", 99)
                .await
                .unwrap();
            store.pool().close().await;
        }
        // Reopening runs the migrations again, which must be a no-op.
        let store = SqliteStore::open(&path).await.unwrap();
        assert_eq!(store.get_client("persisted").await.unwrap(), Some(client));
        assert!(
            store
                .is_access_token_revoked("jti-persisted")
                .await
                .unwrap()
        );
    }
}
