//! Used client assertion ids in PostgreSQL.

use super::{PostgresStore, db};
use crate::store::{AssertionStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

#[async_trait]
impl AssertionStore for PostgresStore {
    async fn use_jti(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<bool> {
        // One statement: PostgreSQL's upsert serialises concurrent inserts of one key, so exactly
        // one of them inserts (or replaces an expired record) and the others affect no row.
        let done = sqlx::query(
            "INSERT INTO used_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE used_assertions.expires_at <= $4",
        )
        .bind(client_id)
        .bind(jti)
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db("recording a client assertion"))?;
        Ok(done.rows_affected() == 1)
    }
}
