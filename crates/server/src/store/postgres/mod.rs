//! PostgreSQL store: the scale-out backend, for several server instances on one database.
//!
//! The schema has the shape of the SQLite one (`migrations/postgres`), with every text column in
//! the `"C"` collation so that comparisons and list order are byte order, as on SQLite.
//!
//! # Migrations
//!
//! [`PostgresStore::connect`] brings the schema up to date on a dedicated connection (a pool of
//! one) that first takes a session-level advisory lock (`pg_advisory_lock` on [`MIGRATION_LOCK`]); instances that
//! start together queue on it and the later ones find nothing left to do. sqlx's migrator takes
//! an advisory lock of its own too (keyed on the database name, released at its end); ours does
//! not rely on it, and also covers a migration that fails half-way: the dedicated connection is
//! closed afterwards, which releases every session lock it holds whatever happened, where a
//! pooled connection could go back to the pool still holding sqlx's lock.
//!
//! # Concurrency
//!
//! Every operation that changes more than one row runs in one transaction at PostgreSQL's
//! default `READ COMMITTED` isolation, made safe by row locks taken in one global order —
//! authorization code, then grant, then refresh token:
//!
//! - `redeem_code` reads the code `FOR UPDATE`: a second redemption waits for the first to
//!   commit and then sees the code used (a replay), on any connection of any process;
//! - `rotate_refresh` locks the grant row (`FOR UPDATE`) before it reads the presented token, so
//!   every change to one refresh-token family is serialised: of concurrent rotations exactly one
//!   rotates and the rest see `rotated_at` set (a grace retry, or reuse);
//! - `add_consent` inserts an empty placeholder row (`ON CONFLICT DO NOTHING`) and then reads it
//!   `FOR UPDATE`, so concurrent unions never lose a scope;
//! - `delete_client` and `delete_user` lock the codes and grants they remove before removing
//!   them, in the same order.
//!
//! Should PostgreSQL still abort a transaction with a deadlock or serialization failure
//! (SQLSTATE `40P01` / `40001`, e.g. a purge meeting a rotation), the whole transaction is
//! retried, up to [`MAX_ATTEMPTS`] times.

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
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Row, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// The schema migrations, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory lock key held while migrating (an arbitrary constant: "mcpoauth" in ASCII).
pub const MIGRATION_LOCK: i64 = 0x6d63_706f_6175_7468;

/// How often a transaction aborted by a deadlock or serialization failure is tried in all.
pub const MAX_ATTEMPTS: u32 = 5;

/// Connections in the pool of one server instance.
const POOL_SIZE: u32 = 10;

/// How long a request waits for a free connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Marks a backend error message as a transient failure worth retrying.
const TRANSIENT: &str = "transient";

/// A query with its arguments, as the helpers build them.
type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// A store in one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, with
    /// libpq-style options such as `sslmode`), brings its schema up to date under an advisory
    /// lock, and opens a pool of 10 connections.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(format!("invalid database URL: {e}")))?;
        Self::connect_with(options, POOL_SIZE).await
    }

    /// Connects with explicit options and pool size.
    pub async fn connect_with(options: PgConnectOptions, pool_size: u32) -> StoreResult<Self> {
        migrate(&options).await?;
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(db("connecting to the database"))?;
        Ok(Self { pool })
    }

    /// The connection pool (for administration, health checks and tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Begins a `READ COMMITTED` transaction (the row locks make it safe; see the module docs).
    async fn begin(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool
            .begin()
            .await
            .map_err(db("beginning a transaction"))
    }
}

/// Runs the migrations on a dedicated single-connection pool holding [`MIGRATION_LOCK`].
async fn migrate(options: &PgConnectOptions) -> StoreResult<()> {
    // One connection, so the lock and the migrator share a session; closing the pool ends the
    // session, which releases the lock even if the migration failed half-way.
    let single = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(600))
        .connect_with(options.clone())
        .await
        .map_err(db("connecting to the database"))?;
    let result = async {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&single)
            .await
            .map_err(db("taking the migration lock"))?;
        MIGRATOR
            .run(&single)
            .await
            .map_err(|e| StoreError::Backend(format!("migrating the database: {e}")))?;
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&single)
            .await
            .map_err(db("releasing the migration lock"))?;
        Ok(())
    }
    .await;
    single.close().await;
    result
}

/// Runs `$body` (an expression using the transaction `$tx: &mut PgConnection`) in a transaction,
/// committing on success and rolling back on error; retries the whole transaction when
/// PostgreSQL aborted it with a deadlock or serialization failure.
macro_rules! in_tx {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let mut attempt = 1u32;
        loop {
            let mut tx = $store.begin().await?;
            let result = {
                let $tx: &mut sqlx::PgConnection = &mut tx;
                $body.await
            };
            match $crate::store::postgres::finish(tx, result).await {
                Err(e) if $crate::store::postgres::is_transient(&e)
                    && attempt < $crate::store::postgres::MAX_ATTEMPTS =>
                {
                    tracing::debug!(target: "mcp_oauth::store", error = %e, attempt, "retrying a transaction");
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}
pub(crate) use in_tx;

/// Commits `tx` if `result` is a success and rolls it back otherwise, so that a refused operation
/// leaves no trace.
pub(crate) async fn finish<T>(
    tx: Transaction<'static, Postgres>,
    result: StoreResult<T>,
) -> StoreResult<T> {
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

/// Whether an error is a deadlock or serialization failure, after which the transaction can
/// simply be run again.
pub(crate) fn is_transient(e: &StoreError) -> bool {
    matches!(e, StoreError::Backend(m) if m.starts_with(TRANSIENT))
}

/// Maps a database error: a uniqueness violation is a `Conflict` on `what`; a deadlock or
/// serialization failure a `Backend` error marked transient; anything else a `Backend` error.
/// sqlx's messages carry PostgreSQL's text, which for a uniqueness violation may quote the key;
/// that text never leaves the store (a `Conflict` carries only `what`).
fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what.into()),
        sqlx::Error::Database(d)
            if matches!(d.code().as_deref(), Some("40001") | Some("40P01")) =>
        {
            StoreError::Backend(format!("{TRANSIENT}: {what}: {e}"))
        }
        _ => StoreError::Backend(format!("{what}: {e}")),
    }
}

/// Reads a column.
fn col<'r, T>(row: &'r PgRow, name: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(name).map_err(db("decoding a row"))
}

/// Reads a scope set stored as its space-delimited string.
fn scope_col(row: &PgRow, name: &str) -> StoreResult<ScopeSet> {
    let s: String = col(row, name)?;
    parse_scope(&s)
}

/// Reads an optional scope set.
fn opt_scope_col(row: &PgRow, name: &str) -> StoreResult<Option<ScopeSet>> {
    col::<Option<String>>(row, name)?
        .map(|s| parse_scope(&s))
        .transpose()
}

fn parse_scope(s: &str) -> StoreResult<ScopeSet> {
    ScopeSet::parse(s).map_err(|e| StoreError::Backend(format!("stored scope: {e}")))
}

/// Reads a value stored as JSON text.
fn json_col<T: DeserializeOwned>(row: &PgRow, name: &str) -> StoreResult<T> {
    let s: String = col(row, name)?;
    serde_json::from_str(&s).map_err(|e| StoreError::Backend(format!("stored JSON in {name}: {e}")))
}

/// Reads an optional value stored as JSON text.
fn opt_json_col<T: DeserializeOwned>(row: &PgRow, name: &str) -> StoreResult<Option<T>> {
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

#[cfg(any(test, feature = "contract-tests"))]
pub mod test_db;

#[cfg(test)]
mod tests;
