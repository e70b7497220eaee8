//! In-memory store: every aggregate in one `Mutex`-guarded state.
//!
//! One lock around everything makes each trait method, including the multi-row ones (redeeming
//! a code, rotating a refresh token, deleting a client), a single critical section, which is the
//! atomicity the [`crate::store`] contract asks for. No method awaits while holding the lock.
//! Every method checks everything that can fail before it changes anything, so an error leaves the
//! state as it was (the in-memory equivalent of a rolled-back transaction).
//!
//! Each file implements the traits of one aggregate, as in `sql/`: `accounts`, `grants`,
//! `sessions`, `registration`, `assertions`, `audit`, `key_schedule`, `upstream`, `health`,
//! `api_keys`, `device`.
//!
//! For tests, demos and single-process development; nothing survives a restart.

mod accounts;
mod api_keys;
mod assertions;
mod audit;
mod device;
mod grants;
mod health;
mod key_schedule;
mod registration;
mod sessions;
mod upstream;

use crate::model::upstream::{UpstreamLink, UpstreamLogin, UpstreamTokens};
use crate::model::*;
use crate::store::rules::CodeRow;
use crate::store::{StoreError, StoreResult};
use mcp_oauth_core::clock::UnixTime;
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
    /// Upstream sign-ins in flight, by state hash.
    upstream_logins: HashMap<String, UpstreamLogin>,
    /// Upstream links by (upstream, subject).
    upstream_links: BTreeMap<(String, String), UpstreamLink>,
    /// Upstream tokens by code hash.
    upstream_tokens: HashMap<String, UpstreamTokens>,
    /// Deleted upstream tokens still to revoke at their provider, by code hash.
    upstream_revocations: BTreeMap<String, UpstreamTokens>,
    /// Refresh leases of grants' upstream tokens: grant id → until.
    upstream_leases: HashMap<String, UnixTime>,
    /// API keys by id.
    api_keys: HashMap<String, ApiKey>,
    /// Device authorizations by device code hash.
    device_authorizations: HashMap<String, DeviceAuthorization>,
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
