//! The store contract suite: one set of checks every backend must pass.
//!
//! Each backend's tests call [`run_all`] on a fresh store and [`run_concurrency`] on another
//! fresh store shared through an `Arc`. The checks use explicit `now` values (never the wall
//! clock, never a sleep) and keep their records apart by id prefix, so they can share one store.
//! Checks that purge rely on the other checks only using times below [`PURGE_BASE`].
//!
//! `mod.rs` holds the drivers and the shared fixtures; each other file checks one aggregate (as
//! `sql/` and `memory/` implement them): `accounts`, `grants`, `sessions`, `registration`,
//! `assertions`, `audit`, `key_schedule`, `upstream`, `upstream_revocations`, `api_keys`,
//! `user_sessions`, `device`, and `purge` across them all.
//!
//! Compiled for this crate's tests and, with the `contract-tests` feature, for other crates'
//! (a PostgreSQL backend's tests, say). A failed check panics, as a test assertion does, which
//! is why the panicking lints are allowed here even when the feature compiles it outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod api_keys;
mod assertions;
mod audit;
mod device;
mod grants;
mod key_schedule;
mod purge;
mod registration;
mod sessions;
mod upstream;
mod upstream_revocations;
mod user_sessions;

pub use accounts::{clients, delete_client_cascades, delete_user_cascades, resources, users};
pub use api_keys::api_keys;
pub use assertions::{assertions, concurrent_assertions};
pub use audit::audit;
pub use device::{concurrent_device_polls, device_authorizations};
pub use grants::{
    access_token_revocation, codes, concurrent_redeem, concurrent_rotate_with_grace,
    concurrent_rotate_without_grace, grants, rotation, rotation_failures,
    rotation_of_a_disabled_account,
};
pub use key_schedule::{concurrent_scheduled_rotation, scheduled_rotation};
pub use purge::purge;
pub use registration::{registration_tokens, unused_registrations};
pub use sessions::{concurrent_consents, consents, keys, sessions};
pub use upstream::{concurrent_upstream_logins, upstream_links, upstream_logins, upstream_tokens};
pub use upstream_revocations::{
    concurrent_upstream_refresh_lease, device_upstream_tokens, upstream_refresh_lease,
    upstream_revocations,
};
pub use user_sessions::{user_disabled, user_sessions};

use super::{Store, StoreError};
use crate::model::*;
use mcp_oauth_core::ScopeSet;
use mcp_oauth_core::clock::UnixTime;
use std::sync::Arc;

/// The time the purge checks work after; every other check stays below it.
pub const PURGE_BASE: UnixTime = 1_000_000_000;
/// "Never" within the suite.
const FAR: UnixTime = 4_000_000_000;
/// How many tasks the concurrency checks start at once.
const TASKS: usize = 50;

/// Runs every sequential check against `store`, which should be empty.
pub async fn run_all<S: Store>(store: &S) {
    clients(store).await;
    resources(store).await;
    users(store).await;
    codes(store).await;
    grants(store).await;
    rotation(store).await;
    rotation_failures(store).await;
    rotation_of_a_disabled_account(store).await;
    access_token_revocation(store).await;
    consents(store).await;
    keys(store).await;
    sessions(store).await;
    delete_client_cascades(store).await;
    delete_user_cascades(store).await;
    registration_tokens(store).await;
    unused_registrations(store).await;
    assertions(store).await;
    audit(store).await;
    upstream_logins(store).await;
    upstream_links(store).await;
    upstream_tokens(store).await;
    upstream_revocations(store).await;
    upstream_refresh_lease(store).await;
    // Purges up to its own expiries: just before `purge`, which clears everything below its base.
    device_authorizations(store).await;
    device_upstream_tokens(store).await;
    purge(store).await;
    scheduled_rotation(store).await;
    api_keys(store).await;
    user_sessions(store).await;
    user_disabled(store).await;
}

/// Runs every concurrency check against `store`, which should be empty.
pub async fn run_concurrency<S: Store>(store: Arc<S>) {
    concurrent_redeem(store.clone()).await;
    concurrent_rotate_without_grace(store.clone()).await;
    concurrent_rotate_with_grace(store.clone()).await;
    concurrent_consents(store.clone()).await;
    concurrent_assertions(store.clone()).await;
    concurrent_upstream_logins(store.clone()).await;
    concurrent_upstream_refresh_lease(store.clone()).await;
    concurrent_device_polls(store.clone()).await;
    concurrent_scheduled_rotation(store).await;
}

// ---------------------------------------------------------------- fixtures

fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse(s).expect("valid scope")
}

/// A client with every optional field set, so a round trip proves each column.
pub fn full_client(id: &str, created_at: UnixTime) -> Client {
    Client {
        client_id: id.to_owned(),
        client_name: format!("Client {id}"),
        token_endpoint_auth_method: "client_secret_basic".into(),
        secret_hash: Some(format!("secret-hash-{id}")),
        secret_expires_at: Some(FAR),
        redirect_uris: vec![
            "https://app.example/cb".into(),
            "http://127.0.0.1/callback".into(),
        ],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        allowed_scopes: Some(scopes("tools:read tools:call")),
        jwks: Some(serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "abc"}]})),
        jwks_uri: Some("https://app.example/jwks.json".into()),
        origin: ClientOrigin::Dcr,
        registration_token_hash: Some(format!("rat-hash-{id}")),
        metadata: serde_json::json!({"client_name": format!("Client {id}"), "nested": {"a": [1, 2]}}),
        created_at,
        last_used_at: None,
        introspect_resources: vec![
            "https://res.example/a".into(),
            "https://res.example/b".into(),
        ],
        disabled_at: Some(created_at + 1),
        previous_secret_hash: Some(format!("old-secret-hash-{id}")),
        previous_secret_until: Some(created_at + 2),
    }
}

/// A public client with every optional field empty.
pub fn bare_client(id: &str, created_at: UnixTime) -> Client {
    Client {
        client_id: id.to_owned(),
        client_name: String::new(),
        token_endpoint_auth_method: "none".into(),
        secret_hash: None,
        secret_expires_at: None,
        redirect_uris: Vec::new(),
        grant_types: Vec::new(),
        allowed_scopes: None,
        jwks: None,
        jwks_uri: None,
        origin: ClientOrigin::Cimd,
        registration_token_hash: None,
        metadata: serde_json::json!({}),
        created_at,
        last_used_at: None,
        introspect_resources: Vec::new(),
        disabled_at: None,
        previous_secret_hash: None,
        previous_secret_until: None,
    }
}

fn user(id: &str, username: &str) -> User {
    User {
        id: id.to_owned(),
        username: username.to_owned(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1${id}"),
        created_at: 10,
        roles: Vec::new(),
        disabled_at: None,
    }
}

/// An enabled account `id` (username the same), once: a rotation checks its family's account.
pub async fn account<S: Store + ?Sized>(store: &S, id: &str) {
    match store.insert_user(&user(id, id)).await {
        Ok(()) | Err(StoreError::Conflict(_)) => {}
        Err(e) => panic!("insert the account {id}: {e}"),
    }
}

fn code(hash: &str, client_id: &str, user_id: &str, expires_at: UnixTime) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: hash.to_owned(),
        client_id: client_id.to_owned(),
        redirect_uri: "http://127.0.0.1:4711/callback".into(),
        code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
        resource: "https://mcp.example/mcp".into(),
        scope: scopes("tools:read tools:call"),
        user_id: user_id.to_owned(),
        auth_time: expires_at - 100,
        created_at: expires_at - 60,
        expires_at,
    }
}

fn grant(id: &str, client_id: &str, user_id: Option<&str>, expires_at: UnixTime) -> Grant {
    Grant {
        id: id.to_owned(),
        client_id: client_id.to_owned(),
        user_id: user_id.map(str::to_owned),
        resource: "https://mcp.example/mcp".into(),
        scope: scopes("tools:read"),
        auth_time: user_id.map(|_| 5),
        created_at: 10,
        expires_at,
        revoked_at: None,
    }
}

fn refresh(hash: &str, grant_id: &str, expires_at: UnixTime) -> RefreshToken {
    RefreshToken {
        token_hash: hash.to_owned(),
        grant_id: grant_id.to_owned(),
        created_at: 10,
        expires_at,
        rotated_at: None,
        successor_hash: None,
    }
}

/// Stores a fresh active family `{ns}-g` with first refresh token `{ns}-r0`; returns its grant.
async fn family<S: Store>(store: &S, ns: &str) -> Grant {
    account(store, "fam-user").await;
    let g = grant(&format!("{ns}-g"), "fam-client", Some("fam-user"), FAR);
    let r0 = refresh(&format!("{ns}-r0"), &g.id, FAR);
    store
        .insert_grant(&g, Some(&r0))
        .await
        .expect("insert family");
    g
}

fn assert_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    assert!(
        matches!(r, Err(StoreError::Conflict(_))),
        "{what}: expected Conflict, got {r:?}"
    );
}

/// The grant `redeem_code` stores: the caller's, with the code's user, resource, scope and
/// authentication time.
fn produced(g: &Grant, c: &AuthorizationCode) -> Grant {
    Grant {
        user_id: Some(c.user_id.clone()),
        resource: c.resource.clone(),
        scope: c.scope.clone(),
        auth_time: Some(c.auth_time),
        ..g.clone()
    }
}

async fn is_revoked<S: Store>(store: &S, grant_id: &str) -> bool {
    store
        .get_grant(grant_id)
        .await
        .expect("get grant")
        .expect("grant exists")
        .revoked_at
        .is_some()
}

// ---------------------------------------------------------------- concurrency

/// Starts `TASKS` copies of `f` at once and collects their results in task order.
async fn race<S, T, F, Fut>(store: &Arc<S>, f: F) -> Vec<T>
where
    S: Store,
    T: Send + 'static,
    F: Fn(Arc<S>, usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(TASKS));
    let handles: Vec<_> = (0..TASKS)
        .map(|i| {
            let fut = f(store.clone(), i);
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                fut.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(TASKS);
    for h in handles {
        out.push(h.await.expect("task panicked"));
    }
    out
}
