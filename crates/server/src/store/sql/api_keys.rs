//! API keys, in SQL.

use super::dialect::{Arg, Dialect, SqlBackend, SqlRow, formatted};
use super::row::Columns;
use super::row::record;
use super::run::Run;
use crate::model::ApiKey;
use crate::store::{ApiKeyStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

fn key_from_row(row: &impl SqlRow) -> StoreResult<ApiKey> {
    record![row => ApiKey { id, key_hash, label, user_id, resource, scope: scope, created_at,
        expires_at, last_used_at, revoked_at }]
}

#[async_trait]
impl<S: SqlBackend<Db = D>, D: Dialect> ApiKeyStore for S {
    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, key_hash, label, user_id, resource, scope, created_at, \
             expires_at, last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .arg(key.id.as_str())
        .arg(key.key_hash.as_str())
        .arg(key.label.as_str())
        .arg(key.user_id.as_deref())
        .arg(key.resource.as_str())
        .arg(key.scope.to_string())
        .arg(key.created_at)
        .arg(key.expires_at)
        .arg(key.last_used_at)
        .arg(key.revoked_at)
        .run(self.on_pool(), "API key")
        .await
    }

    async fn find_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
        sqlx::query("SELECT * FROM api_keys WHERE key_hash = $1")
            .arg(key_hash)
            .optional(self.on_pool(), "reading an API key", key_from_row)
            .await
    }

    async fn get_api_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        sqlx::query("SELECT * FROM api_keys WHERE id = $1")
            .arg(id)
            .optional(self.on_pool(), "reading an API key", key_from_row)
            .await
    }

    async fn list_api_keys(&self, user_id: Option<&str>) -> StoreResult<Vec<ApiKey>> {
        let order = format!(" ORDER BY created_at, id{}", D::BYTE_ORDER);
        match user_id {
            Some(u) => {
                formatted(format!("SELECT * FROM api_keys WHERE user_id = $1{order}"))
                    .arg(u.to_owned())
                    .all(self.on_pool(), "listing API keys", key_from_row)
                    .await
            }
            None => {
                formatted(format!("SELECT * FROM api_keys{order}"))
                    .all(self.on_pool(), "listing API keys", key_from_row)
                    .await
            }
        }
    }

    async fn revoke_api_key(&self, id: &str, now: UnixTime) -> StoreResult<bool> {
        Ok(
            sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .arg(id)
                .arg(now)
                .changed(self.on_pool(), "revoking an API key")
                .await?
                > 0,
        )
    }

    async fn touch_api_key(&self, id: &str, now: UnixTime) -> StoreResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .arg(id)
            .arg(now)
            .run(self.on_pool(), "recording an API key's use")
            .await
    }
}
