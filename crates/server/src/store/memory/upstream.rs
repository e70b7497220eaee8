//! Federated login's records: sign-ins in flight, links, upstream tokens.

use super::MemoryStore;
use crate::model::User;
use crate::model::upstream::{UpstreamLink, UpstreamLogin, UpstreamTokens};
use crate::store::{StoreError, StoreResult, UpstreamStore};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

#[async_trait]
impl UpstreamStore for MemoryStore {
    async fn insert_upstream_login(&self, login: &UpstreamLogin) -> StoreResult<()> {
        let mut s = self.lock()?;
        if s.upstream_logins.contains_key(&login.state_hash) {
            return Err(StoreError::Conflict("upstream login".into()));
        }
        s.upstream_logins
            .insert(login.state_hash.clone(), login.clone());
        Ok(())
    }

    async fn take_upstream_login(
        &self,
        state_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<UpstreamLogin>> {
        let mut s = self.lock()?;
        Ok(s.upstream_logins
            .remove(state_hash)
            .filter(|l| l.expires_at > now))
    }

    async fn purge_upstream_logins(&self, now: UnixTime) -> StoreResult<u64> {
        let mut s = self.lock()?;
        let before = s.upstream_logins.len();
        s.upstream_logins.retain(|_, l| l.expires_at > now);
        Ok((before - s.upstream_logins.len()) as u64)
    }

    async fn get_upstream_link(
        &self,
        upstream_id: &str,
        subject: &str,
    ) -> StoreResult<Option<UpstreamLink>> {
        let s = self.lock()?;
        Ok(s.upstream_links
            .get(&(upstream_id.to_owned(), subject.to_owned()))
            .cloned())
    }

    async fn find_verified_links(&self, email: &str) -> StoreResult<Vec<UpstreamLink>> {
        let s = self.lock()?;
        let mut found: Vec<UpstreamLink> = s
            .upstream_links
            .values()
            .filter(|l| l.email_verified && l.email.as_deref() == Some(email))
            .cloned()
            .collect();
        found.sort_by_key(|a| a.created_at);
        Ok(found)
    }

    async fn create_upstream_user(&self, user: &User, link: &UpstreamLink) -> StoreResult<()> {
        let mut s = self.lock()?;
        let key = (link.upstream_id.clone(), link.subject.clone());
        if s.users.contains_key(&user.id)
            || s.users.values().any(|u| u.username == user.username)
            || s.upstream_links.contains_key(&key)
        {
            return Err(StoreError::Conflict("user or upstream link".into()));
        }
        s.users.insert(user.id.clone(), user.clone());
        s.upstream_links.insert(key, link.clone());
        Ok(())
    }

    async fn insert_upstream_link(&self, link: &UpstreamLink) -> StoreResult<()> {
        let mut s = self.lock()?;
        let key = (link.upstream_id.clone(), link.subject.clone());
        if s.upstream_links.contains_key(&key) {
            return Err(StoreError::Conflict("upstream link".into()));
        }
        if !s.users.contains_key(&link.user_id) {
            return Err(StoreError::Backend("linking an unknown user".into()));
        }
        s.upstream_links.insert(key, link.clone());
        Ok(())
    }

    async fn list_upstream_links(&self) -> StoreResult<Vec<UpstreamLink>> {
        let s = self.lock()?;
        let mut all: Vec<UpstreamLink> = s.upstream_links.values().cloned().collect();
        all.sort_by(|a, b| {
            (&a.user_id, &a.upstream_id, &a.subject).cmp(&(&b.user_id, &b.upstream_id, &b.subject))
        });
        Ok(all)
    }

    async fn user_upstream_links(&self, user_id: &str) -> StoreResult<Vec<UpstreamLink>> {
        let s = self.lock()?;
        // The map is ordered by (upstream, subject) already.
        Ok(s.upstream_links
            .values()
            .filter(|l| l.user_id == user_id)
            .cloned()
            .collect())
    }

    async fn put_upstream_tokens(&self, tokens: &UpstreamTokens) -> StoreResult<()> {
        let mut s = self.lock()?;
        s.upstream_tokens
            .insert(tokens.code_hash.clone(), tokens.clone());
        Ok(())
    }

    async fn get_grant_upstream_tokens(
        &self,
        grant_id: &str,
    ) -> StoreResult<Option<UpstreamTokens>> {
        let s = self.lock()?;
        let live = s
            .grants
            .get(grant_id)
            .is_some_and(|g| g.revoked_at.is_none());
        Ok(s.upstream_tokens
            .values()
            .find(|t| live && t.grant_id.as_deref() == Some(grant_id))
            .cloned())
    }

    async fn take_upstream_revocations(&self, limit: u32) -> StoreResult<Vec<UpstreamTokens>> {
        let mut s = self.lock()?;
        let mut taken = Vec::new();
        while taken.len() < limit as usize {
            let Some((_, t)) = s.upstream_revocations.pop_first() else {
                break;
            };
            taken.push(UpstreamTokens::queued(t.code_hash, t.upstream_id, t.sealed));
        }
        Ok(taken)
    }

    async fn claim_upstream_refresh(
        &self,
        grant_id: &str,
        now: UnixTime,
        until: UnixTime,
    ) -> StoreResult<bool> {
        let mut s = self.lock()?;
        let kept = s
            .upstream_tokens
            .values()
            .any(|t| t.grant_id.as_deref() == Some(grant_id));
        if !kept || s.upstream_leases.get(grant_id).is_some_and(|u| *u > now) {
            return Ok(false);
        }
        s.upstream_leases.insert(grant_id.to_owned(), until);
        Ok(true)
    }

    async fn release_upstream_refresh(&self, grant_id: &str) -> StoreResult<()> {
        self.lock()?.upstream_leases.remove(grant_id);
        Ok(())
    }

    async fn update_grant_upstream_tokens(&self, tokens: &UpstreamTokens) -> StoreResult<bool> {
        let mut s = self.lock()?;
        match s.upstream_tokens.get_mut(&tokens.code_hash) {
            Some(t) if t.grant_id.is_some() && t.grant_id == tokens.grant_id => {
                t.sealed.clone_from(&tokens.sealed);
                t.expires_at = tokens.expires_at;
                t.updated_at = tokens.updated_at;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
