//! The audit trail, in SQL.

use super::dialect::{Arg, Dialect, SqlBackend, SqlRow};
use super::row::record;
use super::row::{Columns, to_json};
use super::run::Run;
use crate::model::audit::{AuditEvent, AuditFilter};
use crate::store::{AuditStore, StoreError, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

fn event_from_row(row: &impl SqlRow) -> StoreResult<AuditEvent> {
    let kind: String = row.col("kind")?;
    let kind = kind.parse().map_err(StoreError::Backend)?;
    record![row => AuditEvent { id, at, kind = kind, user_id, client_id, ip, detail: json }]
}

#[async_trait]
impl<S: SqlBackend<Db = D>, D: Dialect> AuditStore for S {
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_events (at, kind, user_id, client_id, ip, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .arg(event.at)
        .arg(event.kind.as_str())
        .arg(event.user_id.as_deref())
        .arg(event.client_id.as_deref())
        .arg(event.ip.as_deref())
        .arg(to_json(&event.detail)?)
        .run(self.on_pool(), "appending an audit event")
        .await
    }

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        // The casts give PostgreSQL the types of arguments that may be NULL.
        sqlx::query(
            "SELECT * FROM audit_events WHERE (CAST($1 AS BIGINT) IS NULL OR at >= $1) \
             AND (CAST($2 AS TEXT) IS NULL OR kind = $2) ORDER BY at DESC, id DESC LIMIT $3",
        )
        .arg(filter.since)
        .arg(filter.kind.map(|k| k.as_str()))
        .arg(filter.limit.map(i64::from).or(D::NO_LIMIT))
        .all(self.on_pool(), "listing audit events", event_from_row)
        .await
    }

    async fn purge_audit(&self, before: UnixTime) -> StoreResult<u64> {
        sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .arg(before)
            .changed(self.on_pool(), "purging audit events")
            .await
    }
}
