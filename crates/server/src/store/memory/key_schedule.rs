//! The scheduled key rotation: the check and the rotation in one critical section.

use super::MemoryStore;
use crate::model::*;
use crate::store::{KeyRotationStore, StoreError, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

#[async_trait]
impl KeyRotationStore for MemoryStore {
    async fn insert_key_if_none_since(
        &self,
        key: &StoredKey,
        created_after: UnixTime,
    ) -> StoreResult<bool> {
        let mut s = self.lock()?;
        if s.keys.values().any(|k| k.created_at > created_after) {
            return Ok(false);
        }
        if s.keys.contains_key(&key.kid) {
            return Err(StoreError::Conflict("key".into()));
        }
        for k in s.keys.values_mut() {
            if k.retires_at.is_none_or(|r| r > key.activates_at) {
                k.retires_at = Some(key.activates_at);
            }
        }
        s.keys.insert(key.kid.clone(), key.clone());
        Ok(true)
    }
}
