//! How SQLite speaks the shared SQL.

use crate::store::sql::{Dialect, RowsAffected};
use sqlx::Sqlite;
use sqlx::sqlite::SqliteQueryResult;

impl Dialect for Sqlite {
    /// Takes the database's write lock with the first statement (see the module docs).
    const BEGIN_WRITE: Option<&'static str> = Some("BEGIN IMMEDIATE");
    /// One writer at a time holds the whole database: there are no row locks to take.
    const ROW_LOCKS: bool = false;
    /// Text compares byte by byte already (SQLite's default `BINARY` collation).
    const BYTE_ORDER: &'static str = "";
    /// A negative `LIMIT` is SQLite's "no limit".
    const NO_LIMIT: Option<i64> = Some(-1);
    /// `BEGIN IMMEDIATE` excludes every other writer already.
    const TRANSACTION_LOCK: Option<&'static str> = None;
    /// A transaction holding the write lock is never aborted for a neighbour's sake.
    const MAX_ATTEMPTS: u32 = 1;
}

impl RowsAffected for SqliteQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}
