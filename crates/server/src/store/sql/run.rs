//! Running one statement, with its error mapped: the record it read, the records, the number of
//! rows it changed, or nothing. Every read and write of the shared SQL ends in one of these.

use super::dialect::{Dialect, Query, RowsAffected};
use super::error::db;
use crate::store::StoreResult;
use sqlx::Executor;

/// How a row becomes a stored record.
pub(crate) type Record<D, T> = fn(&<D as sqlx::Database>::Row) -> StoreResult<T>;

/// The ways of running a [`Query`]; `what` names the operation in an error.
pub(crate) trait Run<'q, D: Dialect>: Sized {
    /// The record of the one row read, if any.
    fn optional<T: 'q>(
        self,
        on: impl Executor<'q, Database = D> + 'q,
        what: &'static str,
        record: Record<D, T>,
    ) -> impl Future<Output = StoreResult<Option<T>>> + Send + 'q;

    /// The records of every row read, in order.
    fn all<T: 'q>(
        self,
        on: impl Executor<'q, Database = D> + 'q,
        what: &'static str,
        record: Record<D, T>,
    ) -> impl Future<Output = StoreResult<Vec<T>>> + Send + 'q;

    /// How many rows the statement inserted, updated or deleted.
    fn changed(
        self,
        on: impl Executor<'q, Database = D> + 'q,
        what: &'static str,
    ) -> impl Future<Output = StoreResult<u64>> + Send + 'q;

    /// Runs the statement for its effect.
    fn run(
        self,
        on: impl Executor<'q, Database = D> + 'q,
        what: &'static str,
    ) -> impl Future<Output = StoreResult<()>> + Send + 'q;
}

impl<'q, D: Dialect> Run<'q, D> for Query<'q, D> {
    async fn optional<T: 'q>(
        self,
        on: impl Executor<'q, Database = D> + 'q,
        what: &'static str,
        record: Record<D, T>,
    ) -> StoreResult<Option<T>> {
        self.fetch_optional(on)
            .await
            .map_err(db(what))?
            .as_ref()
            .map(record)
            .transpose()
    }

    async fn all<T: 'q>(
        self,
        on: impl Executor<'q, Database = D> + 'q,
        what: &'static str,
        record: Record<D, T>,
    ) -> StoreResult<Vec<T>> {
        self.fetch_all(on)
            .await
            .map_err(db(what))?
            .iter()
            .map(record)
            .collect()
    }

    async fn changed(
        self,
        on: impl Executor<'q, Database = D> + 'q,
        what: &'static str,
    ) -> StoreResult<u64> {
        Ok(self.execute(on).await.map_err(db(what))?.affected())
    }

    async fn run(
        self,
        on: impl Executor<'q, Database = D> + 'q,
        what: &'static str,
    ) -> StoreResult<()> {
        self.execute(on).await.map_err(db(what))?;
        Ok(())
    }
}
