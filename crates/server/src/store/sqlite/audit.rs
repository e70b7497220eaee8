//! The audit trail in SQLite.

use super::{SqliteStore, col, db, json_col, to_json};
use crate::audit::{AuditEvent, AuditFilter};
use crate::store::{AuditStore, StoreError, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;
use sqlx::sqlite::SqliteRow;

fn event_from_row(row: &SqliteRow) -> StoreResult<AuditEvent> {
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
impl AuditStore for SqliteStore {
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_events (at, kind, user_id, client_id, ip, detail) \
             VALUES (?, ?, ?, ?, ?, ?)",
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
        // LIMIT -1 is SQLite's "no limit".
        sqlx::query(
            "SELECT * FROM audit_events WHERE (? IS NULL OR at >= ?) AND (? IS NULL OR kind = ?) \
             ORDER BY at DESC, id DESC LIMIT ?",
        )
        .bind(filter.since)
        .bind(filter.since)
        .bind(filter.kind.map(|k| k.as_str()))
        .bind(filter.kind.map(|k| k.as_str()))
        .bind(filter.limit.map_or(-1, i64::from))
        .fetch_all(&self.pool)
        .await
        .map_err(db("listing audit events"))?
        .iter()
        .map(event_from_row)
        .collect()
    }

    async fn purge_audit(&self, before: UnixTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM audit_events WHERE at < ?")
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(db("purging audit events"))?;
        Ok(done.rows_affected())
    }
}
