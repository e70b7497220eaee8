//! Initial access tokens, and the purge of dynamic registrations never used.

use super::MemoryStore;
use crate::model::*;
use crate::store::{RegistrationStore, StoreError, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

#[async_trait]
impl RegistrationStore for MemoryStore {
    async fn insert_registration_token(&self, token: &RegistrationToken) -> StoreResult<()> {
        let mut s = self.lock()?;
        if s.registration_tokens.contains_key(&token.id)
            || s.registration_tokens
                .values()
                .any(|t| t.token_hash == token.token_hash)
        {
            return Err(StoreError::Conflict("registration token".into()));
        }
        s.registration_tokens
            .insert(token.id.clone(), token.clone());
        Ok(())
    }

    async fn find_registration_token(
        &self,
        token_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<RegistrationToken>> {
        Ok(self
            .lock()?
            .registration_tokens
            .values()
            .find(|t| t.token_hash == token_hash && t.expires_at.is_none_or(|e| e > now))
            .cloned())
    }

    async fn list_registration_tokens(&self) -> StoreResult<Vec<RegistrationToken>> {
        let mut v: Vec<RegistrationToken> =
            self.lock()?.registration_tokens.values().cloned().collect();
        v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(v)
    }

    async fn delete_registration_token(&self, id: &str) -> StoreResult<bool> {
        Ok(self.lock()?.registration_tokens.remove(id).is_some())
    }

    async fn purge_unused_registrations(&self, created_before: UnixTime) -> StoreResult<u64> {
        let mut s = self.lock()?;
        let doomed: Vec<String> = s
            .clients
            .values()
            .filter(|c| {
                c.origin == ClientOrigin::Dcr
                    && c.last_used_at.is_none()
                    && c.created_at <= created_before
            })
            .map(|c| c.client_id.clone())
            .collect();
        for id in &doomed {
            s.codes.retain(|_, r| &r.code.client_id != id);
            s.device_authorizations.retain(|_, a| &a.client_id != id);
            s.remove_grants(|g| &g.client_id == id);
            s.consents.retain(|_, c| &c.client_id != id);
            s.clients.remove(id);
        }
        Ok(doomed.len() as u64)
    }
}
