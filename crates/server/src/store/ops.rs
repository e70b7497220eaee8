//! Operations on the embedded backends: the online backup of a SQLite database (the health
//! checks are `memory/health.rs` and `sql/health.rs`).

use super::sqlite::SqliteStore;
use super::{StoreError, StoreResult};

impl SqliteStore {
    /// Writes a consistent copy of the database to `target` with `VACUUM INTO`, while other
    /// connections keep reading and writing. `target` must not exist or be an empty file. The
    /// copy is a complete database (no `-wal` file): to restore, stop the server and put it in
    /// place of the database file, deleting the old `-wal` and `-shm` files.
    pub async fn backup_into(&self, target: &std::path::Path) -> StoreResult<()> {
        let target = target
            .to_str()
            .ok_or_else(|| StoreError::Backend("the backup path is not valid UTF-8".into()))?;
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(self.pool())
            .await
            .map_err(|e| StoreError::Backend(format!("writing the backup: {e}")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::HealthStore;
    use crate::store::memory::MemoryStore;

    #[tokio::test]
    async fn a_sqlite_backup_is_a_complete_database() {
        use crate::store::ClientStore;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("live.db"))
            .await
            .unwrap();
        let client = crate::store::contract::full_client("backed-up", 7);
        store.insert_client(&client).await.unwrap();
        let copy = dir.path().join("copy.db");
        store.backup_into(&copy).await.unwrap();
        assert!(store.backup_into(&copy).await.is_err(), "never overwrites");
        let restored = SqliteStore::open(&copy).await.unwrap();
        assert_eq!(
            restored.get_client("backed-up").await.unwrap(),
            Some(client)
        );
    }

    #[tokio::test]
    async fn embedded_stores_answer_a_ping() {
        MemoryStore::new().ping().await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("ping.db"))
            .await
            .unwrap();
        store.ping().await.unwrap();
        store.pool().close().await;
        assert!(store.ping().await.is_err(), "a closed pool fails the ping");
    }
}
