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
//!   them, in the same order;
//! - `insert_key_if_none_since` takes a transaction-scoped advisory lock
//!   (`pg_advisory_xact_lock`) before its check, since the key it may insert has no row to lock.
//!
//! Should PostgreSQL still abort a transaction with a deadlock or serialization failure
//! (SQLSTATE `40P01` / `40001`, e.g. a purge meeting a rotation), the whole transaction is
//! retried, up to [`MAX_ATTEMPTS`] times.
//!
//! The statements are the shared SQL implementation's (`store/sql`), the same as SQLite's;
//! this module connects, migrates and says how PostgreSQL speaks that SQL (`dialect`: the
//! `FOR UPDATE` suffix, `COLLATE "C"` on text sort keys,
//! the advisory lock and the retry).

mod dialect;

use super::sql::{SqlBackend, db};
use super::{StoreError, StoreResult};
use sqlx::Postgres;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
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

impl SqlBackend for PostgresStore {
    type Db = Postgres;

    fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[cfg(any(test, feature = "contract-tests"))]
pub mod test_db;

#[cfg(test)]
mod tests;
