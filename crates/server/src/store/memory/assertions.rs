//! Client assertion ids already used (RFC 7523 §3).

use super::MemoryStore;
use crate::store::{AssertionStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

#[async_trait]
impl AssertionStore for MemoryStore {
    async fn use_jti(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<bool> {
        let mut s = self.lock()?;
        let key = (client_id.to_owned(), jti.to_owned());
        match s.used_assertions.get(&key) {
            Some(exp) if *exp > now => Ok(false),
            _ => {
                s.used_assertions.insert(key, expires_at);
                Ok(true)
            }
        }
    }
}
