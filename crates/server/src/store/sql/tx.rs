//! Transactions: how one begins in each dialect, committing or rolling back, and the retry of a
//! whole transaction the database aborted as transient.

use super::dialect::Dialect;
use super::error::db;
use crate::store::StoreResult;
use sqlx::{Pool, Transaction};

/// Begins a transaction that writes ([`Dialect::BEGIN_WRITE`]).
pub(crate) async fn begin_write<D: Dialect>(
    pool: &Pool<D>,
) -> StoreResult<Transaction<'static, D>> {
    begin(pool, D::BEGIN_WRITE, "beginning a transaction").await
}

async fn begin<D: Dialect>(
    pool: &Pool<D>,
    statement: Option<&'static str>,
    what: &'static str,
) -> StoreResult<Transaction<'static, D>> {
    match statement {
        Some(statement) => pool.begin_with(statement).await,
        None => pool.begin().await,
    }
    .map_err(db(what))
}

/// Commits `tx` if `result` is a success and rolls it back otherwise, so that a refused operation
/// leaves no trace.
pub(crate) async fn finish<D: Dialect, T>(
    tx: Transaction<'static, D>,
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

/// Whether a transaction that failed with `e` on its `attempt`-th try is tried again (`_pool`
/// only names the dialect, for [`in_tx!`]).
pub(crate) fn retry<D: Dialect>(
    _pool: &Pool<D>,
    e: &crate::store::StoreError,
    attempt: u32,
) -> bool {
    let again = super::error::is_transient(e) && attempt < D::MAX_ATTEMPTS;
    if again {
        tracing::debug!(target: "mcp_oauth::store", error = %e, attempt, "retrying a transaction");
    }
    again
}

/// Runs `$body` (an expression using the transaction's connection `$tx: &mut D::Connection`) in
/// a write transaction of `$store` ([`begin_write`]), committing on success and rolling back on
/// error; runs the whole transaction again when the database aborted it with a transient
/// failure, up to [`Dialect::MAX_ATTEMPTS`] tries. Where the store has a
/// [`write_gate`](super::dialect::SqlBackend::write_gate), the transaction waits its turn there
/// first.
///
/// A macro rather than a function taking a closure: the body borrows the caller's arguments and
/// the connection, and its future must be `Send` for `async_trait`; a closure that returns such a
/// future cannot be named on stable Rust without boxing it and tying its lifetimes by hand.
macro_rules! in_tx {
    ($store:expr, |$tx:ident| $body:expr) => {{
        let pool = $crate::store::sql::dialect::SqlBackend::pool($store);
        // Held until the transaction (and any retry) is over.
        let _turn = match $crate::store::sql::dialect::SqlBackend::write_gate($store) {
            Some(gate) => Some(gate.lock().await),
            None => None,
        };
        let mut attempt = 1u32;
        loop {
            let mut tx = $crate::store::sql::tx::begin_write(pool).await?;
            let result = {
                let $tx = &mut *tx;
                $body.await
            };
            match $crate::store::sql::tx::finish(tx, result).await {
                Err(e) if $crate::store::sql::tx::retry(pool, &e, attempt) => attempt += 1,
                other => break other,
            }
        }
    }};
}
pub(crate) use in_tx;
