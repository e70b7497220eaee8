//! The scheduled key rotation's guarded insert, in SQLite.

use super::{SqliteStore, db, finish, to_json};
use crate::model::StoredKey;
use crate::store::{KeyRotationStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

#[async_trait]
impl KeyRotationStore for SqliteStore {
    async fn insert_key_if_none_since(
        &self,
        key: &StoredKey,
        created_after: UnixTime,
    ) -> StoreResult<bool> {
        // BEGIN IMMEDIATE holds the write lock from the first statement: the check and the
        // insert cannot interleave with another instance's.
        let mut tx = self.begin().await?;
        let result = async {
            let recent: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys WHERE created_at > ?")
                    .bind(created_after)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db("checking recent signing keys"))?;
            if recent > 0 {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO signing_keys (kid, alg, encrypted_private_key, public_jwk, created_at, \
                 activates_at, retires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(key.kid.as_str())
            .bind(key.alg.as_str())
            .bind(key.encrypted_private_key.as_slice())
            .bind(to_json(&key.public_jwk)?)
            .bind(key.created_at)
            .bind(key.activates_at)
            .bind(key.retires_at)
            .execute(&mut *tx)
            .await
            .map_err(db("signing key"))?;
            sqlx::query(
                "UPDATE signing_keys SET retires_at = ? WHERE kid <> ? \
                 AND (retires_at IS NULL OR retires_at > ?)",
            )
            .bind(key.activates_at)
            .bind(key.kid.as_str())
            .bind(key.activates_at)
            .execute(&mut *tx)
            .await
            .map_err(db("retiring signing keys"))?;
            Ok(true)
        }
        .await;
        finish(tx, result).await
    }
}
