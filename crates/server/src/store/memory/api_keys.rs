//! API keys, in memory.

use super::MemoryStore;
use crate::model::ApiKey;
use crate::store::{ApiKeyStore, StoreError, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

#[async_trait]
impl ApiKeyStore for MemoryStore {
    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        let mut s = self.lock()?;
        if s.api_keys.contains_key(&key.id)
            || s.api_keys.values().any(|k| k.key_hash == key.key_hash)
        {
            return Err(StoreError::Conflict("API key".into()));
        }
        s.api_keys.insert(key.id.clone(), key.clone());
        Ok(())
    }

    async fn find_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKey>> {
        Ok(self
            .lock()?
            .api_keys
            .values()
            .find(|k| k.key_hash == key_hash)
            .cloned())
    }

    async fn get_api_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        Ok(self.lock()?.api_keys.get(id).cloned())
    }

    async fn list_api_keys(&self, user_id: Option<&str>) -> StoreResult<Vec<ApiKey>> {
        let mut v: Vec<ApiKey> = self
            .lock()?
            .api_keys
            .values()
            .filter(|k| user_id.is_none() || k.user_id.as_deref() == user_id)
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(v)
    }

    async fn revoke_api_key(&self, id: &str, now: UnixTime) -> StoreResult<bool> {
        let mut s = self.lock()?;
        match s.api_keys.get_mut(id) {
            Some(k) if k.revoked_at.is_none() => {
                k.revoked_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn touch_api_key(&self, id: &str, now: UnixTime) -> StoreResult<()> {
        if let Some(k) = self.lock()?.api_keys.get_mut(id) {
            k.last_used_at = Some(now);
        }
        Ok(())
    }
}
