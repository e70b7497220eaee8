//! Used client assertion ids in SQLite.

use super::{SqliteStore, db};
use crate::store::{AssertionStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

#[async_trait]
impl AssertionStore for SqliteStore {
    async fn use_jti(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<bool> {
        // One statement, so atomic without a transaction: the insert wins, or the update of an
        // expired record does; a live record changes nothing and affects no row.
        let done = sqlx::query(
            "INSERT INTO used_assertions (client_id, jti, expires_at) VALUES (?, ?, ?) \
             ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE used_assertions.expires_at <= ?",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_used_assertion_stays_used_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.db");
        {
            let store = SqliteStore::open(&path).await.unwrap();
            assert!(store.use_jti("c", "j", 200, 100).await.unwrap());
            store.pool().close().await;
        }
        let store = SqliteStore::open(&path).await.unwrap();
        assert!(
            !store.use_jti("c", "j", 200, 150).await.unwrap(),
            "replay after restart"
        );
    }
}
