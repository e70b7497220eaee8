//! How PostgreSQL speaks the shared SQL.

use super::MAX_ATTEMPTS;
use crate::store::sql::{Dialect, RowsAffected};
use sqlx::Postgres;
use sqlx::postgres::PgQueryResult;

impl Dialect for Postgres {
    /// `READ COMMITTED`, PostgreSQL's default: the row locks make it safe (see the module docs).
    const BEGIN_WRITE: Option<&'static str> = None;
    /// Writers run side by side, apart by `FOR UPDATE` locks in the global order.
    const ROW_LOCKS: bool = true;
    /// Every text column is `COLLATE "C"` already; the sort keys say so too, so that a list's
    /// order never depends on the database's default collation.
    const BYTE_ORDER: &'static str = " COLLATE \"C\"";
    /// `LIMIT NULL` is PostgreSQL's "no limit".
    const NO_LIMIT: Option<i64> = None;
    /// A transaction-scoped advisory lock, released at commit or rollback.
    const TRANSACTION_LOCK: Option<&'static str> = Some("SELECT pg_advisory_xact_lock($1)");
    const MAX_ATTEMPTS: u32 = MAX_ATTEMPTS;
}

impl RowsAffected for PgQueryResult {
    fn affected(&self) -> u64 {
        self.rows_affected()
    }
}
