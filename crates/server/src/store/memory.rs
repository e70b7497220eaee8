//! In-memory store: every aggregate in one `Mutex`-guarded state.
//!
//! One lock around everything makes each trait method, including the multi-row ones (redeeming
//! a code, rotating a refresh token, deleting a client), a single critical section, which is the
//! atomicity the [`crate::store`] contract asks for. No method awaits while holding the lock.
//! Every method checks everything that can fail before it changes anything, so an error leaves the
//! state as it was (the in-memory equivalent of a rolled-back transaction).
//!
//! For tests, demos and single-process development; nothing survives a restart.

use super::rules::{
    CodeRow, RedeemDecision, RotateDecision, check_family, decide_redeem, decide_rotate,
};
use super::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

/// Everything the store holds.
#[derive(Debug, Default)]
struct State {
    clients: HashMap<String, Client>,
    resources: BTreeMap<String, Resource>,
    /// Users by id.
    users: HashMap<String, User>,
    codes: HashMap<String, CodeRow>,
    grants: HashMap<String, Grant>,
    /// Refresh tokens by hash.
    refresh: HashMap<String, RefreshToken>,
    /// Revoked access-token ids and when they expire.
    revoked_jtis: HashMap<String, UnixTime>,
    /// Consents by (user, client, resource).
    consents: BTreeMap<(String, String, String), Consent>,
    keys: HashMap<String, StoredKey>,
    sessions: HashMap<String, Session>,
    /// Initial access tokens by id.
    registration_tokens: HashMap<String, RegistrationToken>,
    /// Used client assertion ids by (client, jti), with their expiry.
    used_assertions: HashMap<(String, String), UnixTime>,
    /// The audit trail, oldest first, and the last id given out.
    audit: Vec<crate::model::audit::AuditEvent>,
    audit_seq: i64,
}

impl State {
    fn user_by_name(&self, username: &str) -> Option<&User> {
        self.users.values().find(|u| u.username == username)
    }

    /// Revokes a grant if it is active; returns whether it was.
    fn revoke(&mut self, grant_id: &str, now: UnixTime) -> bool {
        match self.grants.get_mut(grant_id) {
            Some(g) if g.revoked_at.is_none() => {
                g.revoked_at = Some(now);
                true
            }
            _ => false,
        }
    }

    /// Removes grants matching `pred` and their refresh tokens; returns how many rows went.
    /// Codes that produced a removed grant forget it, as `ON DELETE SET NULL` does in SQL.
    fn remove_grants(&mut self, pred: impl Fn(&Grant) -> bool) -> u64 {
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
        for row in self.codes.values_mut() {
            if row.grant_id.as_ref().is_some_and(|g| doomed.contains(g)) {
                row.grant_id = None;
            }
        }
        (before - self.refresh.len() - self.grants.len()) as u64
    }

    /// Checks that a grant and its first refresh token can be inserted, without inserting.
    fn check_new_grant(&self, grant: &Grant, first: Option<&RefreshToken>) -> StoreResult<()> {
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

    fn put_grant(&mut self, grant: &Grant, first: Option<&RefreshToken>) {
        self.grants.insert(grant.id.clone(), grant.clone());
        if let Some(t) = first {
            self.refresh.insert(t.token_hash.clone(), t.clone());
        }
    }
}

/// A store that keeps everything in process memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Locks the state. A poisoned lock (a thread panicked inside a critical section) is reported
    /// as a backend error rather than trusted or propagated as a panic.
    fn lock(&self) -> StoreResult<MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| StoreError::Backend("memory store lock poisoned".into()))
    }
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn insert_client(&self, client: &Client) -> StoreResult<()> {
        let mut s = self.lock()?;
        if s.clients.contains_key(&client.client_id) {
            return Err(StoreError::Conflict("client".into()));
        }
        s.clients.insert(client.client_id.clone(), client.clone());
        Ok(())
    }

    async fn update_client(&self, client: &Client) -> StoreResult<bool> {
        let mut s = self.lock()?;
        match s.clients.get_mut(&client.client_id) {
            Some(c) => {
                *c = client.clone();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn get_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        Ok(self.lock()?.clients.get(client_id).cloned())
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        let mut v: Vec<Client> = self.lock()?.clients.values().cloned().collect();
        v.sort_by(|a, b| (a.created_at, &a.client_id).cmp(&(b.created_at, &b.client_id)));
        Ok(v)
    }

    async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
        let mut s = self.lock()?;
        s.codes.retain(|_, r| r.code.client_id != client_id);
        s.remove_grants(|g| g.client_id == client_id);
        s.consents.retain(|_, c| c.client_id != client_id);
        Ok(s.clients.remove(client_id).is_some())
    }

    async fn touch_client(&self, client_id: &str, now: UnixTime) -> StoreResult<()> {
        if let Some(c) = self.lock()?.clients.get_mut(client_id) {
            c.last_used_at = Some(now);
        }
        Ok(())
    }
}

#[async_trait]
impl ResourceStore for MemoryStore {
    async fn upsert_resource(&self, resource: &Resource) -> StoreResult<()> {
        self.lock()?
            .resources
            .insert(resource.uri.clone(), resource.clone());
        Ok(())
    }

    async fn get_resource(&self, uri: &str) -> StoreResult<Option<Resource>> {
        Ok(self.lock()?.resources.get(uri).cloned())
    }

    async fn list_resources(&self) -> StoreResult<Vec<Resource>> {
        Ok(self.lock()?.resources.values().cloned().collect())
    }

    async fn delete_resource(&self, uri: &str) -> StoreResult<bool> {
        Ok(self.lock()?.resources.remove(uri).is_some())
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        let mut s = self.lock()?;
        if s.users.contains_key(&user.id) || s.user_by_name(&user.username).is_some() {
            return Err(StoreError::Conflict("user".into()));
        }
        s.users.insert(user.id.clone(), user.clone());
        Ok(())
    }

    async fn get_user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        Ok(self.lock()?.user_by_name(username).cloned())
    }

    async fn get_user(&self, id: &str) -> StoreResult<Option<User>> {
        Ok(self.lock()?.users.get(id).cloned())
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let mut v: Vec<User> = self.lock()?.users.values().cloned().collect();
        v.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(v)
    }

    async fn set_password(&self, username: &str, password_hash: &str) -> StoreResult<bool> {
        let mut s = self.lock()?;
        match s.users.values_mut().find(|u| u.username == username) {
            Some(u) => {
                u.password_hash = password_hash.to_owned();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn set_roles(&self, username: &str, roles: &[String]) -> StoreResult<bool> {
        let mut s = self.lock()?;
        match s.users.values_mut().find(|u| u.username == username) {
            Some(u) => {
                u.roles = roles.to_vec();
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete_user(&self, username: &str) -> StoreResult<bool> {
        let mut s = self.lock()?;
        let Some(id) = s.user_by_name(username).map(|u| u.id.clone()) else {
            return Ok(false);
        };
        s.sessions
            .retain(|_, x| x.user_id.as_deref() != Some(id.as_str()));
        s.consents.retain(|_, c| c.user_id != id);
        // Pending codes would otherwise still turn into grants for a user who no longer exists.
        s.codes.retain(|_, r| r.code.user_id != id);
        s.remove_grants(|g| g.user_id.as_deref() == Some(id.as_str()));
        s.users.remove(&id);
        Ok(true)
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
        let decision = decide_rotate(
            token.as_ref(),
            grant.as_ref(),
            successor,
            stored_successor.as_ref(),
            now,
            grace,
        )?;
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
                + s.refresh.len()
                + s.revoked_jtis.len()
                + s.registration_tokens.len()
                + s.used_assertions.len()
        };
        let before = count(&s);
        s.codes.retain(|_, r| r.code.expires_at > now);
        s.refresh.retain(|_, t| t.expires_at > now);
        s.revoked_jtis.retain(|_, exp| *exp > now);
        s.registration_tokens
            .retain(|_, t| t.expires_at.is_none_or(|e| e > now));
        s.used_assertions.retain(|_, exp| *exp > now);
        let after = count(&s);
        let grants = s.remove_grants(|g| g.expires_at <= now);
        Ok((before - after) as u64 + grants)
    }
}

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
}

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
            s.remove_grants(|g| &g.client_id == id);
            s.consents.retain(|_, c| &c.client_id != id);
            s.clients.remove(id);
        }
        Ok(doomed.len() as u64)
    }
}

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

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append_audit(&self, event: &crate::model::audit::AuditEvent) -> StoreResult<()> {
        let mut s = self.lock()?;
        s.audit_seq += 1;
        let id = s.audit_seq;
        s.audit.push(crate::model::audit::AuditEvent {
            id,
            ..event.clone()
        });
        Ok(())
    }

    async fn list_audit(
        &self,
        filter: &crate::model::audit::AuditFilter,
    ) -> StoreResult<Vec<crate::model::audit::AuditEvent>> {
        let s = self.lock()?;
        let mut v: Vec<_> = s
            .audit
            .iter()
            .filter(|e| filter.since.is_none_or(|t| e.at >= t))
            .filter(|e| filter.kind.is_none_or(|k| e.kind == k))
            .cloned()
            .collect();
        v.sort_by_key(|e| std::cmp::Reverse((e.at, e.id)));
        if let Some(n) = filter.limit {
            v.truncate(n as usize);
        }
        Ok(v)
    }

    async fn purge_audit(&self, before: UnixTime) -> StoreResult<u64> {
        let mut s = self.lock()?;
        let n = s.audit.len();
        s.audit.retain(|e| e.at >= before);
        Ok((n - s.audit.len()) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::MemoryStore;
    use crate::store::contract;
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn memory_store_passes_the_contract() {
        contract::run_all(&MemoryStore::new()).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn memory_store_is_atomic_under_concurrency() {
        contract::run_concurrency(Arc::new(MemoryStore::new())).await;
    }
}
