//! Codes, grants, refresh tokens and revoked access tokens (as `sql/grants.rs`): rows are
//! read for the pure decisions of [`rules`](crate::store::rules), which are applied under the
//! same lock.

use super::{MemoryStore, State};
use crate::model::upstream::UpstreamTokens;
use crate::model::*;
use crate::store::rules::{
    CodeRow, RedeemDecision, RotateDecision, check_family, decide_redeem, decide_rotate,
};
use crate::store::{CodeStore, GrantStore, StoreError, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

impl State {
    /// Revokes a grant if it is active; returns whether it was.
    pub(super) fn revoke(&mut self, grant_id: &str, now: UnixTime) -> bool {
        match self.grants.get_mut(grant_id) {
            Some(g) if g.revoked_at.is_none() => {
                g.revoked_at = Some(now);
                self.discard_upstream(|t| t.grant_id.as_deref() == Some(grant_id));
                true
            }
            _ => false,
        }
    }

    /// Moves the kept upstream tokens `pred` selects to the revocation queue (as
    /// `sql/revocations.rs`: deleted here, still to be revoked at their provider).
    pub(super) fn discard_upstream(&mut self, pred: impl Fn(&UpstreamTokens) -> bool) {
        let doomed: Vec<String> = self
            .upstream_tokens
            .iter()
            .filter(|(_, t)| pred(t))
            .map(|(hash, _)| hash.clone())
            .collect();
        for hash in doomed {
            if let Some(t) = self.upstream_tokens.remove(&hash) {
                self.upstream_revocations.entry(hash).or_insert(t);
            }
        }
    }

    /// Discards the kept upstream tokens of codes and device authorizations that went
    /// unredeemed (a device sign-in's are kept under the device code's hash).
    pub(super) fn discard_orphan_upstream(&mut self) {
        let codes = std::mem::take(&mut self.codes);
        let devices = std::mem::take(&mut self.device_authorizations);
        self.discard_upstream(|t| {
            t.grant_id.is_none()
                && !codes.contains_key(&t.code_hash)
                && !devices.contains_key(&t.code_hash)
        });
        self.codes = codes;
        self.device_authorizations = devices;
    }

    /// Removes grants matching `pred` and their refresh tokens; returns how many rows went.
    /// Codes that produced a removed grant forget it, as `ON DELETE SET NULL` does in SQL.
    pub(super) fn remove_grants(&mut self, pred: impl Fn(&Grant) -> bool) -> u64 {
        let doomed: Vec<String> = self
            .grants
            .values()
            .filter(|g| pred(g))
            .map(|g| g.id.clone())
            .collect();
        if doomed.is_empty() {
            return 0;
        }
        let before = self.refresh.len() + self.grants.len();
        for id in &doomed {
            self.grants.remove(id);
        }
        self.refresh.retain(|_, t| !doomed.contains(&t.grant_id));
        self.discard_upstream(|t| t.grant_id.as_ref().is_some_and(|g| doomed.contains(g)));
        for row in self.codes.values_mut() {
            if row.grant_id.as_ref().is_some_and(|g| doomed.contains(g)) {
                row.grant_id = None;
            }
        }
        (before - self.refresh.len() - self.grants.len()) as u64
    }

    /// Checks that a grant and its first refresh token can be inserted, without inserting.
    pub(super) fn check_new_grant(
        &self,
        grant: &Grant,
        first: Option<&RefreshToken>,
    ) -> StoreResult<()> {
        if self.grants.contains_key(&grant.id) {
            return Err(StoreError::Conflict("grant".into()));
        }
        if let Some(t) = first {
            check_family(&grant.id, t)?;
            if self.refresh.contains_key(&t.token_hash) {
                return Err(StoreError::Conflict("refresh token".into()));
            }
        }
        Ok(())
    }

    pub(super) fn put_grant(&mut self, grant: &Grant, first: Option<&RefreshToken>) {
        self.grants.insert(grant.id.clone(), grant.clone());
        if let Some(t) = first {
            self.refresh.insert(t.token_hash.clone(), t.clone());
        }
    }
}

#[async_trait]
impl CodeStore for MemoryStore {
    async fn insert_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        let mut s = self.lock()?;
        if s.codes.contains_key(&code.code_hash) {
            return Err(StoreError::Conflict("authorization code".into()));
        }
        s.codes.insert(
            code.code_hash.clone(),
            CodeRow {
                code: code.clone(),
                used_at: None,
                grant_id: None,
            },
        );
        Ok(())
    }

    async fn redeem_code(
        &self,
        code_hash: &str,
        now: UnixTime,
        grant: &Grant,
        first_refresh: Option<&RefreshToken>,
    ) -> StoreResult<RedeemOutcome> {
        let mut s = self.lock()?;
        let Some(row) = s.codes.get(code_hash).cloned() else {
            return Ok(RedeemOutcome::NotFound);
        };
        let grant = match decide_redeem(Some(&row), now, grant, first_refresh)? {
            RedeemDecision::NotFound => return Ok(RedeemOutcome::NotFound),
            RedeemDecision::Replay { revoke } => {
                let revoked_grant = revoke.filter(|g| s.grants.contains_key(g));
                if let Some(g) = &revoked_grant {
                    s.revoke(g, now);
                }
                return Ok(RedeemOutcome::Replayed { revoked_grant });
            }
            RedeemDecision::Redeem { grant } => grant,
        };
        s.check_new_grant(&grant, first_refresh)?;
        s.put_grant(&grant, first_refresh);
        if let Some(r) = s.codes.get_mut(code_hash) {
            r.used_at = Some(now);
            r.grant_id = Some(grant.id.clone());
        }
        if let Some(t) = s.upstream_tokens.get_mut(code_hash)
            && t.grant_id.is_none()
        {
            t.grant_id = Some(grant.id.clone());
        }
        Ok(RedeemOutcome::Redeemed(row.code))
    }
}

#[async_trait]
impl GrantStore for MemoryStore {
    async fn insert_grant(
        &self,
        grant: &Grant,
        first_refresh: Option<&RefreshToken>,
    ) -> StoreResult<()> {
        let mut s = self.lock()?;
        s.check_new_grant(grant, first_refresh)?;
        s.put_grant(grant, first_refresh);
        Ok(())
    }

    async fn get_grant(&self, grant_id: &str) -> StoreResult<Option<Grant>> {
        Ok(self.lock()?.grants.get(grant_id).cloned())
    }

    async fn rotate_refresh(
        &self,
        presented_hash: &str,
        successor: &RefreshToken,
        now: UnixTime,
        grace: i64,
    ) -> StoreResult<RotateOutcome> {
        let mut s = self.lock()?;
        let token = s.refresh.get(presented_hash).cloned();
        let grant = token
            .as_ref()
            .and_then(|t| s.grants.get(&t.grant_id).cloned());
        let stored_successor = s.refresh.get(&successor.token_hash).cloned();
        let account_active = grant
            .as_ref()
            .and_then(|g| g.user_id.as_ref())
            .is_none_or(|u| s.users.get(u).is_some_and(|u| u.disabled_at.is_none()));
        let decision = decide_rotate(
            token.as_ref(),
            grant.as_ref(),
            successor,
            stored_successor.as_ref(),
            now,
            grace,
        )?
        .for_account(account_active);
        match (decision, &grant) {
            (RotateDecision::Rotate, _) => {
                if let Some(t) = s.refresh.get_mut(presented_hash) {
                    t.rotated_at = Some(now);
                    t.successor_hash = Some(successor.token_hash.clone());
                }
                s.refresh
                    .insert(successor.token_hash.clone(), successor.clone());
            }
            (RotateDecision::RevokeFamily, Some(g)) => {
                s.revoke(&g.id, now);
            }
            _ => {}
        }
        Ok(decision.outcome(grant))
    }

    async fn get_refresh(&self, token_hash: &str) -> StoreResult<Option<(RefreshToken, Grant)>> {
        let s = self.lock()?;
        Ok(s.refresh
            .get(token_hash)
            .and_then(|t| s.grants.get(&t.grant_id).map(|g| (t.clone(), g.clone()))))
    }

    async fn revoke_grant(&self, grant_id: &str, now: UnixTime) -> StoreResult<bool> {
        Ok(self.lock()?.revoke(grant_id, now))
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime) -> StoreResult<()> {
        let mut s = self.lock()?;
        let e = s.revoked_jtis.entry(jti.to_owned()).or_insert(expires_at);
        // Keep the later expiry: forgetting a revocation early would revive the token.
        *e = (*e).max(expires_at);
        Ok(())
    }

    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        Ok(self.lock()?.revoked_jtis.contains_key(jti))
    }

    async fn list_grants_for_user(&self, user_id: &str) -> StoreResult<Vec<Grant>> {
        let mut v: Vec<Grant> = self
            .lock()?
            .grants
            .values()
            .filter(|g| g.user_id.as_deref() == Some(user_id))
            .cloned()
            .collect();
        v.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(v)
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        let mut s = self.lock()?;
        let count = |s: &State| {
            s.codes.len()
                + s.device_authorizations.len()
                + s.refresh.len()
                + s.revoked_jtis.len()
                + s.registration_tokens.len()
                + s.used_assertions.len()
        };
        let before = count(&s);
        s.codes.retain(|_, r| r.code.expires_at > now);
        s.device_authorizations.retain(|_, a| a.expires_at > now);
        s.refresh.retain(|_, t| t.expires_at > now);
        s.revoked_jtis.retain(|_, exp| *exp > now);
        s.registration_tokens
            .retain(|_, t| t.expires_at.is_none_or(|e| e > now));
        s.used_assertions.retain(|_, exp| *exp > now);
        s.discard_orphan_upstream();
        let after = count(&s);
        let grants = s.remove_grants(|g| g.expires_at <= now);
        Ok((before - after) as u64 + grants)
    }
}
