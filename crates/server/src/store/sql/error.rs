//! From a database error to a [`StoreError`](crate::store::StoreError).

use crate::store::StoreError;

/// Marks a backend error message as a transient failure worth retrying.
const TRANSIENT: &str = "transient";

/// The SQLSTATEs of a transaction the database aborted only because of its concurrent
/// neighbours: serialization failure (`40001`, standard SQL) and deadlock (`40P01`, PostgreSQL).
/// SQLite reports its own numeric result codes, which are never these.
const TRANSIENT_STATES: [&str; 2] = ["40001", "40P01"];

/// Maps a database error: a uniqueness violation (as the driver recognises it) is a `Conflict`
/// on `what`; a deadlock or serialization failure a `Backend` error marked transient; anything
/// else a `Backend` error. The driver's message never carries bound values on SQLite; on
/// PostgreSQL a uniqueness violation's may quote the key, and that text never leaves the store
/// (a `Conflict` carries only `what`).
pub(crate) fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what.into()),
        sqlx::Error::Database(d)
            if d.code()
                .is_some_and(|c| TRANSIENT_STATES.contains(&c.as_ref())) =>
        {
            StoreError::Backend(format!("{TRANSIENT}: {what}: {e}"))
        }
        _ => StoreError::Backend(format!("{what}: {e}")),
    }
}

/// Whether an error is a deadlock or serialization failure, after which the transaction can
/// simply be run again.
pub(crate) fn is_transient(e: &StoreError) -> bool {
    matches!(e, StoreError::Backend(m) if m.starts_with(TRANSIENT))
}
