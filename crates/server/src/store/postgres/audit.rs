//! The audit trail in PostgreSQL.

use super::{PostgresStore, col, db, json_col, to_json};
use crate::audit::{AuditEvent, AuditFilter};
use crate::store::{AuditStore, StoreError, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;
use sqlx::postgres::PgRow;

fn event_from_row(row: &PgRow) -> StoreResult<AuditEvent> {
    let kind: String = col(row, "kind")?;
    Ok(AuditEvent {
        id: col(row, "id")?,
        at: col(row, "at")?,
        kind: kind.parse().map_err(StoreError::Backend)?,
        user_id: col(row, "user_id")?,
        client_id: col(row, "client_id")?,
        ip: col(row, "ip")?,
        detail: json_col(row, "detail")?,
    })
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_events (at, kind, user_id, client_id, ip, detail) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(event.at)
        .bind(event.kind.as_str())
        .bind(event.user_id.as_deref())
        .bind(event.client_id.as_deref())
        .bind(event.ip.as_deref())
        .bind(to_json(&event.detail)?)
        .execute(&self.pool)
        .await
        .map_err(db("appending an audit event"))?;
        Ok(())
    }

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        // LIMIT NULL is PostgreSQL's "no limit".
        sqlx::query(
            "SELECT * FROM audit_events WHERE ($1::BIGINT IS NULL OR at >= $1) \
             AND ($2::TEXT IS NULL OR kind = $2) ORDER BY at DESC, id DESC LIMIT $3",
        )
        .bind(filter.since)
        .bind(filter.kind.map(|k| k.as_str()))
        .bind(filter.limit.map(i64::from))
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing audit events"))?
        .iter()
        .map(event_from_row)
        .collect()
    }

    async fn purge_audit(&self, before: UnixTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM audit_events WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(db("purging audit events"))?;
        Ok(done.rows_affected())
    }
}
