//! Consents, signing keys and browser sessions (as `sql/sessions.rs`).

use super::MemoryStore;
use crate::model::*;
use crate::store::{ConsentStore, KeyStore, SessionStore, StoreError, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::ScopeSet;
use mcp_oauth_core::clock::UnixTime;

#[async_trait]
impl ConsentStore for MemoryStore {
    async fn get_consent(
        &self,
        user_id: &str,
        client_id: &str,
        resource: &str,
    ) -> StoreResult<Option<Consent>> {
        let key = (
            user_id.to_owned(),
            client_id.to_owned(),
            resource.to_owned(),
        );
        Ok(self.lock()?.consents.get(&key).cloned())
    }

    async fn add_consent(
        &self,
        user_id: &str,
        client_id: &str,
        resource: &str,
        scope: &ScopeSet,
        now: UnixTime,
    ) -> StoreResult<()> {
        let key = (
            user_id.to_owned(),
            client_id.to_owned(),
            resource.to_owned(),
        );
        let mut s = self.lock()?;
        let entry = s.consents.entry(key).or_insert_with(|| Consent {
            user_id: user_id.to_owned(),
            client_id: client_id.to_owned(),
            resource: resource.to_owned(),
            scope: ScopeSet::new(),
            updated_at: now,
        });
        entry.scope = entry.scope.union(scope);
        entry.updated_at = now;
        Ok(())
    }

    async fn revoke_consent(&self, user_id: &str, client_id: &str) -> StoreResult<u64> {
        let mut s = self.lock()?;
        let before = s.consents.len();
        s.consents
            .retain(|_, c| !(c.user_id == user_id && c.client_id == client_id));
        Ok((before - s.consents.len()) as u64)
    }

    async fn list_consents(&self, user_id: &str) -> StoreResult<Vec<Consent>> {
        // The BTreeMap key orders them by client, then resource.
        Ok(self
            .lock()?
            .consents
            .values()
            .filter(|c| c.user_id == user_id)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl KeyStore for MemoryStore {
    async fn insert_key(&self, key: &StoredKey) -> StoreResult<()> {
        let mut s = self.lock()?;
        if s.keys.contains_key(&key.kid) {
            return Err(StoreError::Conflict("key".into()));
        }
        s.keys.insert(key.kid.clone(), key.clone());
        Ok(())
    }

    async fn list_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let mut v: Vec<StoredKey> = self.lock()?.keys.values().cloned().collect();
        v.sort_by(|a, b| (a.created_at, &a.kid).cmp(&(b.created_at, &b.kid)));
        Ok(v)
    }

    async fn retire_key(&self, kid: &str, retires_at: UnixTime) -> StoreResult<bool> {
        match self.lock()?.keys.get_mut(kid) {
            Some(k) => {
                k.retires_at = Some(retires_at);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_key(&self, kid: &str) -> StoreResult<bool> {
        Ok(self.lock()?.keys.remove(kid).is_some())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        let mut s = self.lock()?;
        if s.sessions.contains_key(&session.id_hash) {
            return Err(StoreError::Conflict("session".into()));
        }
        s.sessions.insert(session.id_hash.clone(), session.clone());
        Ok(())
    }

    async fn get_session(&self, id_hash: &str, now: UnixTime) -> StoreResult<Option<Session>> {
        Ok(self
            .lock()?
            .sessions
            .get(id_hash)
            .filter(|x| x.expires_at > now)
            .cloned())
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        self.lock()?.sessions.remove(id_hash);
        Ok(())
    }

    async fn purge_sessions(&self, now: UnixTime) -> StoreResult<u64> {
        let mut s = self.lock()?;
        let before = s.sessions.len();
        s.sessions.retain(|_, x| x.expires_at > now);
        Ok((before - s.sessions.len()) as u64)
    }

    async fn list_user_sessions(&self, user_id: &str, now: UnixTime) -> StoreResult<Vec<Session>> {
        let mut v: Vec<Session> = self
            .lock()?
            .sessions
            .values()
            .filter(|x| x.user_id.as_deref() == Some(user_id) && x.expires_at > now)
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.created_at, &a.id_hash).cmp(&(b.created_at, &b.id_hash)));
        Ok(v)
    }

    async fn delete_user_sessions(&self, user_id: &str, keep: Option<&str>) -> StoreResult<u64> {
        let mut s = self.lock()?;
        let before = s.sessions.len();
        s.sessions
            .retain(|h, x| x.user_id.as_deref() != Some(user_id) || keep == Some(h.as_str()));
        Ok((before - s.sessions.len()) as u64)
    }
}
