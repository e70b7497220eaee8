//! The store contract suite: one set of checks every backend must pass.
//!
//! Each backend's tests call [`run_all`] on a fresh store and [`run_concurrency`] on another
//! fresh store shared through an `Arc`. The checks use explicit `now` values (never the wall
//! clock, never a sleep) and keep their records apart by id prefix, so they can share one store.
//! Checks that purge rely on the other checks only using times below [`PURGE_BASE`].
//!
//! Compiled for this crate's tests and, with the `contract-tests` feature, for other crates'
//! (a PostgreSQL backend's tests, say). A failed check panics, as a test assertion does, which
//! is why the panicking lints are allowed here even when the feature compiles it outside tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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
    purge(store).await;
    scheduled_rotation(store).await;
}

/// Runs every concurrency check against `store`, which should be empty.
pub async fn run_concurrency<S: Store>(store: Arc<S>) {
    concurrent_redeem(store.clone()).await;
    concurrent_rotate_without_grace(store.clone()).await;
    concurrent_rotate_with_grace(store.clone()).await;
    concurrent_consents(store.clone()).await;
    concurrent_assertions(store.clone()).await;
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
    }
}

fn user(id: &str, username: &str) -> User {
    User {
        id: id.to_owned(),
        username: username.to_owned(),
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1${id}"),
        created_at: 10,
        roles: Vec::new(),
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

// ---------------------------------------------------------------- aggregates

/// Clients: insert, conflict, round trip of every field, update, touch, list order, delete.
pub async fn clients<S: Store>(store: &S) {
    let b = full_client("cl-b", 100);
    let a = bare_client("cl-a", 100);
    let c = full_client("cl-c", 50);
    for x in [&b, &a, &c] {
        store.insert_client(x).await.expect("insert client");
    }
    assert_conflict(
        store.insert_client(&bare_client("cl-b", 1)).await,
        "duplicate client",
    );
    assert_eq!(store.get_client("cl-b").await.unwrap(), Some(b.clone()));
    assert_eq!(store.get_client("cl-a").await.unwrap(), Some(a.clone()));
    assert_eq!(store.get_client("cl-none").await.unwrap(), None);

    // An empty allowed-scope set is not "any scope".
    let mut a2 = a.clone();
    a2.allowed_scopes = Some(ScopeSet::new());
    a2.client_name = "renamed".into();
    a2.redirect_uris = vec!["https://other.example/cb".into()];
    assert!(store.update_client(&a2).await.unwrap());
    assert_eq!(store.get_client("cl-a").await.unwrap(), Some(a2.clone()));
    assert!(
        !store
            .update_client(&bare_client("cl-none", 1))
            .await
            .unwrap()
    );
    assert_eq!(store.get_client("cl-none").await.unwrap(), None);

    store.touch_client("cl-c", 777).await.unwrap();
    store.touch_client("cl-none", 777).await.unwrap();
    let c_now = store.get_client("cl-c").await.unwrap().unwrap();
    assert_eq!(c_now.last_used_at, Some(777));

    let ids: Vec<String> = store
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.client_id.starts_with("cl-"))
        .map(|c| c.client_id)
        .collect();
    assert_eq!(ids, ["cl-c", "cl-a", "cl-b"], "ordered by created_at, id");

    assert!(store.delete_client("cl-b").await.unwrap());
    assert!(!store.delete_client("cl-b").await.unwrap());
    assert_eq!(store.get_client("cl-b").await.unwrap(), None);
}

/// Resources: upsert replaces, list by URI, delete.
pub async fn resources<S: Store>(store: &S) {
    let r = |uri: &str, name: &str| Resource {
        uri: uri.to_owned(),
        name: name.to_owned(),
        scopes: vec![
            ScopeDef {
                name: "tools:read".into(),
                description: "Read tools".into(),
                roles: Vec::new(),
            },
            ScopeDef {
                name: "tools:call".into(),
                description: "Use \"tools\"".into(),
                roles: vec!["admin".into(), "operator".into()],
            },
        ],
        created_at: 20,
    };
    store
        .upsert_resource(&r("https://res.example/z", "Z"))
        .await
        .unwrap();
    store
        .upsert_resource(&r("https://res.example/a", "A"))
        .await
        .unwrap();
    let mut replaced = r("https://res.example/z", "Z2");
    replaced.scopes.truncate(1);
    store.upsert_resource(&replaced).await.unwrap();
    assert_eq!(
        store.get_resource("https://res.example/z").await.unwrap(),
        Some(replaced.clone())
    );
    assert_eq!(
        store.get_resource("https://res.example/z/").await.unwrap(),
        None,
        "exact URI only"
    );
    let listed: Vec<Resource> = store
        .list_resources()
        .await
        .unwrap()
        .into_iter()
        .filter(|x| x.uri.starts_with("https://res.example/"))
        .collect();
    assert_eq!(listed, vec![r("https://res.example/a", "A"), replaced]);
    assert!(
        store
            .delete_resource("https://res.example/a")
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_resource("https://res.example/a")
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_resource("https://res.example/a").await.unwrap(),
        None
    );
}

/// Users: unique id and username, lookups, list by username, password change.
pub async fn users<S: Store>(store: &S) {
    let bob = user("us-1", "us-bob");
    let alice = user("us-2", "us-alice");
    store.insert_user(&bob).await.unwrap();
    store.insert_user(&alice).await.unwrap();
    assert_conflict(
        store.insert_user(&user("us-3", "us-bob")).await,
        "username taken",
    );
    assert_conflict(
        store.insert_user(&user("us-1", "us-carol")).await,
        "id taken",
    );
    assert_eq!(store.get_user_by_name("us-carol").await.unwrap(), None);
    assert_eq!(
        store.get_user_by_name("us-bob").await.unwrap(),
        Some(bob.clone())
    );
    assert_eq!(store.get_user("us-2").await.unwrap(), Some(alice.clone()));
    assert_eq!(store.get_user("us-bob").await.unwrap(), None, "by id only");
    let names: Vec<String> = store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .filter(|u| u.id.starts_with("us-"))
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["us-alice", "us-bob"]);
    assert!(store.set_password("us-bob", "$argon2id$new").await.unwrap());
    assert!(
        !store
            .set_password("us-nobody", "$argon2id$x")
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_user("us-1").await.unwrap().unwrap().password_hash,
        "$argon2id$new"
    );
    assert!(!store.delete_user("us-nobody").await.unwrap());

    // Roles: stored at insert, replaced as a whole, and only for an existing user.
    let mut carol = user("us-4", "us-carol");
    carol.roles = vec!["admin".into(), "ops".into()];
    store.insert_user(&carol).await.unwrap();
    assert_eq!(store.get_user("us-4").await.unwrap(), Some(carol));
    assert!(store.set_roles("us-bob", &["admin".into()]).await.unwrap());
    assert!(
        !store
            .set_roles("us-nobody", &["admin".into()])
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_user_by_name("us-bob")
            .await
            .unwrap()
            .unwrap()
            .roles,
        ["admin"]
    );
    assert!(store.set_roles("us-bob", &[]).await.unwrap());
    assert!(
        store
            .get_user("us-1")
            .await
            .unwrap()
            .unwrap()
            .roles
            .is_empty()
    );
}

/// Codes: redemption, expiry boundary, replay revoking the produced grant, atomic failure.
pub async fn codes<S: Store>(store: &S) {
    let c = code("cd-1", "cd-client", "cd-user", 1_000);
    store.insert_code(&c).await.unwrap();
    assert_conflict(store.insert_code(&c).await, "duplicate code");

    // The caller's draft knows nothing of the code: the store fills it in.
    let mut g = grant("cd-g1", "cd-client", None, FAR);
    g.resource = "https://placeholder.example".into();
    g.scope = ScopeSet::new();
    let r = refresh("cd-r1", "cd-g1", 5_000);
    assert_eq!(
        store
            .redeem_code("cd-none", 990, &g, Some(&r))
            .await
            .unwrap(),
        RedeemOutcome::NotFound
    );
    // Expired at exactly expires_at, and nothing is stored.
    assert_eq!(
        store
            .redeem_code("cd-1", 1_000, &g, Some(&r))
            .await
            .unwrap(),
        RedeemOutcome::NotFound
    );
    assert_eq!(store.get_grant("cd-g1").await.unwrap(), None);
    assert_eq!(store.get_refresh("cd-r1").await.unwrap(), None);

    // One second earlier it is still good.
    assert_eq!(
        store.redeem_code("cd-1", 999, &g, Some(&r)).await.unwrap(),
        RedeemOutcome::Redeemed(c.clone())
    );
    let g = produced(&g, &c);
    assert_eq!(store.get_grant("cd-g1").await.unwrap(), Some(g.clone()));
    assert_eq!(
        store.get_refresh("cd-r1").await.unwrap(),
        Some((r.clone(), g.clone()))
    );

    // Replay: the grant it produced is revoked, and its refresh token dies with it.
    let g_other = grant("cd-g2", "cd-client", Some("cd-user"), FAR);
    assert_eq!(
        store
            .redeem_code("cd-1", 999, &g_other, None)
            .await
            .unwrap(),
        RedeemOutcome::Replayed {
            revoked_grant: Some("cd-g1".into())
        }
    );
    assert_eq!(store.get_grant("cd-g2").await.unwrap(), None);
    assert_eq!(
        store.get_grant("cd-g1").await.unwrap().unwrap().revoked_at,
        Some(999)
    );
    assert_eq!(
        store
            .rotate_refresh("cd-r1", &refresh("cd-r1b", "cd-g1", 6_000), 999, 30)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    // A replay after expiry is still a replay (it proves the code leaked); the first revocation
    // time stays.
    assert_eq!(
        store
            .redeem_code("cd-1", 2_000, &g_other, None)
            .await
            .unwrap(),
        RedeemOutcome::Replayed {
            revoked_grant: Some("cd-g1".into())
        }
    );
    assert_eq!(
        store.get_grant("cd-g1").await.unwrap().unwrap().revoked_at,
        Some(999)
    );

    // Without a first refresh token (e.g. no offline access).
    let c2 = code("cd-2", "cd-client", "cd-user", 1_000);
    store.insert_code(&c2).await.unwrap();
    let g3 = grant("cd-g3", "cd-client", Some("cd-user"), FAR);
    assert_eq!(
        store.redeem_code("cd-2", 500, &g3, None).await.unwrap(),
        RedeemOutcome::Redeemed(c2.clone())
    );
    assert_eq!(
        store.get_grant("cd-g3").await.unwrap(),
        Some(produced(&g3, &c2))
    );

    // A failed redemption (the grant id is taken) changes nothing: the code stays unused.
    let c3 = code("cd-3", "cd-client", "cd-user", 1_000);
    store.insert_code(&c3).await.unwrap();
    let taken = grant("cd-g3", "cd-client", Some("cd-user"), FAR);
    let r4 = refresh("cd-r4", "cd-g3", FAR);
    assert_conflict(
        store.redeem_code("cd-3", 500, &taken, Some(&r4)).await,
        "grant id taken",
    );
    assert_eq!(store.get_refresh("cd-r4").await.unwrap(), None);
    // ... and so does a first refresh token whose hash is taken.
    let g5 = grant("cd-g5", "cd-client", Some("cd-user"), FAR);
    assert_conflict(
        store
            .redeem_code("cd-3", 500, &g5, Some(&refresh("cd-r1", "cd-g5", FAR)))
            .await,
        "refresh hash taken",
    );
    assert_eq!(store.get_grant("cd-g5").await.unwrap(), None);
    assert_eq!(
        store.redeem_code("cd-3", 500, &g5, None).await.unwrap(),
        RedeemOutcome::Redeemed(c3)
    );
}

/// Grants: insert, conflicts, lookups, revocation, listing by user.
pub async fn grants<S: Store>(store: &S) {
    let g = grant("gr-1", "gr-client", Some("gr-user"), FAR);
    let r = refresh("gr-r1", "gr-1", FAR);
    store.insert_grant(&g, Some(&r)).await.unwrap();
    assert_conflict(store.insert_grant(&g, None).await, "duplicate grant");
    // A taken refresh hash fails the whole insert.
    let g2 = grant("gr-2", "gr-client", Some("gr-user"), FAR);
    assert_conflict(
        store
            .insert_grant(&g2, Some(&refresh("gr-r1", "gr-2", FAR)))
            .await,
        "duplicate refresh",
    );
    assert_eq!(store.get_grant("gr-2").await.unwrap(), None);
    // A refresh token of another family is refused.
    assert!(
        store
            .insert_grant(&g2, Some(&refresh("gr-r2", "gr-1", FAR)))
            .await
            .is_err()
    );
    assert_eq!(store.get_grant("gr-2").await.unwrap(), None);

    // Client credentials: no user, no refresh token.
    let m2m = grant("gr-m2m", "gr-client", None, FAR);
    store.insert_grant(&m2m, None).await.unwrap();
    assert_eq!(store.get_grant("gr-m2m").await.unwrap(), Some(m2m));
    assert_eq!(store.get_grant("gr-none").await.unwrap(), None);
    assert_eq!(
        store.get_refresh("gr-r1").await.unwrap(),
        Some((r.clone(), g.clone()))
    );
    assert_eq!(store.get_refresh("gr-none").await.unwrap(), None);

    // Revocation reports whether the grant was active; get_refresh still finds it.
    assert!(store.revoke_grant("gr-1", 300).await.unwrap());
    assert!(!store.revoke_grant("gr-1", 400).await.unwrap());
    assert!(!store.revoke_grant("gr-none", 400).await.unwrap());
    let (tok, revoked) = store.get_refresh("gr-r1").await.unwrap().unwrap();
    assert_eq!(tok, r);
    assert_eq!(revoked.revoked_at, Some(300));

    // Listing by user, oldest first.
    let mut newer = grant("gr-0-newer", "gr-client", Some("gr-lister"), FAR);
    newer.created_at = 200;
    let mut older = grant("gr-z-older", "gr-client", Some("gr-lister"), FAR);
    older.created_at = 100;
    store.insert_grant(&newer, None).await.unwrap();
    store.insert_grant(&older, None).await.unwrap();
    assert_eq!(
        store.list_grants_for_user("gr-lister").await.unwrap(),
        vec![older, newer]
    );
    assert_eq!(
        store.list_grants_for_user("gr-nobody").await.unwrap(),
        vec![]
    );
}

/// Rotation: rotate, grace retry at the boundary, reuse after grace, reuse with another
/// successor, reuse after the successor was used, `grace = 0`.
pub async fn rotation<S: Store>(store: &S) {
    // Rotate; a retry within grace gets the same successor.
    let g = family(store, "rot-a").await;
    let s1 = refresh("rot-a-r1", &g.id, FAR);
    assert_eq!(
        store
            .rotate_refresh("rot-a-r0", &s1, 100, 30)
            .await
            .unwrap(),
        RotateOutcome::Rotated(g.clone())
    );
    let (old, _) = store.get_refresh("rot-a-r0").await.unwrap().unwrap();
    assert_eq!(old.rotated_at, Some(100));
    assert_eq!(old.successor_hash.as_deref(), Some("rot-a-r1"));
    assert_eq!(
        store.get_refresh("rot-a-r1").await.unwrap(),
        Some((s1.clone(), g.clone()))
    );
    assert_eq!(
        store
            .rotate_refresh("rot-a-r0", &s1, 110, 30)
            .await
            .unwrap(),
        RotateOutcome::GraceRetry(g.clone())
    );
    // The successor goes on normally.
    let s2 = refresh("rot-a-r2", &g.id, FAR);
    assert_eq!(
        store
            .rotate_refresh("rot-a-r1", &s2, 111, 30)
            .await
            .unwrap(),
        RotateOutcome::Rotated(g.clone())
    );
    // Once the successor was used, a retry of the first token is reuse, even within grace.
    assert_eq!(
        store
            .rotate_refresh("rot-a-r0", &s1, 112, 30)
            .await
            .unwrap(),
        RotateOutcome::Reused {
            grant_id: g.id.clone()
        }
    );
    assert_eq!(
        store.get_grant(&g.id).await.unwrap().unwrap().revoked_at,
        Some(112)
    );
    assert_eq!(
        store
            .rotate_refresh("rot-a-r2", &refresh("rot-a-r3", &g.id, FAR), 113, 30)
            .await
            .unwrap(),
        RotateOutcome::Invalid,
        "the whole family is dead"
    );

    // Reuse one second after the grace window revokes the family.
    let g = family(store, "rot-b").await;
    let s1 = refresh("rot-b-r1", &g.id, FAR);
    store
        .rotate_refresh("rot-b-r0", &s1, 100, 30)
        .await
        .unwrap();
    // Exactly at the end of the window: still a retry.
    assert_eq!(
        store
            .rotate_refresh("rot-b-r0", &s1, 130, 30)
            .await
            .unwrap(),
        RotateOutcome::GraceRetry(g.clone())
    );
    assert_eq!(
        store
            .rotate_refresh("rot-b-r0", &s1, 131, 30)
            .await
            .unwrap(),
        RotateOutcome::Reused {
            grant_id: g.id.clone()
        }
    );
    assert!(is_revoked(store, &g.id).await);
    assert_eq!(
        store
            .rotate_refresh("rot-b-r1", &refresh("rot-b-r2", &g.id, FAR), 132, 30)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );

    // Within grace but with another successor: reuse.
    let g = family(store, "rot-c").await;
    store
        .rotate_refresh("rot-c-r0", &refresh("rot-c-r1", &g.id, FAR), 100, 30)
        .await
        .unwrap();
    assert_eq!(
        store
            .rotate_refresh("rot-c-r0", &refresh("rot-c-rX", &g.id, FAR), 101, 30)
            .await
            .unwrap(),
        RotateOutcome::Reused {
            grant_id: g.id.clone()
        }
    );
    assert!(is_revoked(store, &g.id).await);
    assert_eq!(store.get_refresh("rot-c-rX").await.unwrap(), None);

    // grace = 0 disables the window: even a retry in the same second is reuse.
    let g = family(store, "rot-d").await;
    let s1 = refresh("rot-d-r1", &g.id, FAR);
    store.rotate_refresh("rot-d-r0", &s1, 100, 0).await.unwrap();
    assert_eq!(
        store.rotate_refresh("rot-d-r0", &s1, 100, 0).await.unwrap(),
        RotateOutcome::Reused {
            grant_id: g.id.clone()
        }
    );
    assert!(is_revoked(store, &g.id).await);
}

/// Rotation refusals: unknown, expiry boundaries of token and family, revoked family, taken
/// successor hash, successor of another family.
pub async fn rotation_failures<S: Store>(store: &S) {
    let next = |h: &str, g: &str| refresh(h, g, FAR);
    assert_eq!(
        store
            .rotate_refresh("rf-none", &next("rf-x", "rf-g"), 100, 30)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );

    // The token is dead at exactly its expires_at, alive one second before.
    let g = grant("rf-g1", "rf-client", Some("rf-user"), FAR);
    store
        .insert_grant(&g, Some(&refresh("rf-g1-r0", "rf-g1", 500)))
        .await
        .unwrap();
    assert_eq!(
        store
            .rotate_refresh("rf-g1-r0", &next("rf-g1-r1", "rf-g1"), 500, 30)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    assert_eq!(store.get_refresh("rf-g1-r1").await.unwrap(), None);
    assert_eq!(
        store
            .rotate_refresh("rf-g1-r0", &next("rf-g1-r1", "rf-g1"), 499, 30)
            .await
            .unwrap(),
        RotateOutcome::Rotated(g.clone())
    );
    // An expired, already rotated token is just invalid: it does not revoke the family.
    assert_eq!(
        store
            .rotate_refresh("rf-g1-r0", &next("rf-g1-r1", "rf-g1"), 500, 30)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    assert!(!is_revoked(store, "rf-g1").await);

    // The family is dead at exactly its expires_at.
    let g = grant("rf-g2", "rf-client", Some("rf-user"), 800);
    store
        .insert_grant(&g, Some(&refresh("rf-g2-r0", "rf-g2", FAR)))
        .await
        .unwrap();
    assert_eq!(
        store
            .rotate_refresh("rf-g2-r0", &next("rf-g2-r1", "rf-g2"), 800, 30)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );
    assert_eq!(
        store
            .rotate_refresh("rf-g2-r0", &next("rf-g2-r1", "rf-g2"), 799, 30)
            .await
            .unwrap(),
        RotateOutcome::Rotated(g)
    );

    // A revoked family.
    let g = family(store, "rf-g3").await;
    assert!(store.revoke_grant(&g.id, 100).await.unwrap());
    assert_eq!(
        store
            .rotate_refresh("rf-g3-r0", &next("rf-g3-r1", &g.id), 101, 30)
            .await
            .unwrap(),
        RotateOutcome::Invalid
    );

    // A successor hash that is taken fails and changes nothing.
    let g = family(store, "rf-g4").await;
    assert_conflict(
        store
            .rotate_refresh("rf-g4-r0", &next("rf-g1-r1", &g.id), 100, 30)
            .await,
        "successor hash taken",
    );
    let (t, _) = store.get_refresh("rf-g4-r0").await.unwrap().unwrap();
    assert_eq!((t.rotated_at, t.successor_hash), (None, None));
    // A successor of another family is refused.
    assert!(
        store
            .rotate_refresh("rf-g4-r0", &next("rf-g4-r1", "rf-g1"), 100, 30)
            .await
            .is_err()
    );
    assert_eq!(store.get_refresh("rf-g4-r1").await.unwrap(), None);
    assert_eq!(
        store
            .rotate_refresh("rf-g4-r0", &next("rf-g4-r1", &g.id), 100, 30)
            .await
            .unwrap(),
        RotateOutcome::Rotated(g)
    );
}

/// Revoked access-token ids.
pub async fn access_token_revocation<S: Store>(store: &S) {
    assert!(!store.is_access_token_revoked("at-1").await.unwrap());
    store.revoke_access_token("at-1", 5_000).await.unwrap();
    assert!(store.is_access_token_revoked("at-1").await.unwrap());
    // Revoking again is fine (idempotent).
    store.revoke_access_token("at-1", 5_000).await.unwrap();
    assert!(store.is_access_token_revoked("at-1").await.unwrap());
    assert!(!store.is_access_token_revoked("at-2").await.unwrap());
}

/// Consents: union on add, per resource, list, revoke per client.
pub async fn consents<S: Store>(store: &S) {
    let (u, c) = ("cs-user", "cs-client");
    assert_eq!(store.get_consent(u, c, "https://r1").await.unwrap(), None);
    store
        .add_consent(u, c, "https://r1", &scopes("a"), 100)
        .await
        .unwrap();
    store
        .add_consent(u, c, "https://r1", &scopes("b c"), 200)
        .await
        .unwrap();
    store
        .add_consent(u, c, "https://r1", &scopes("a"), 300)
        .await
        .unwrap();
    let got = store
        .get_consent(u, c, "https://r1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got,
        Consent {
            user_id: u.into(),
            client_id: c.into(),
            resource: "https://r1".into(),
            scope: scopes("a b c"),
            updated_at: 300,
        }
    );
    store
        .add_consent(u, c, "https://r0", &scopes("x"), 100)
        .await
        .unwrap();
    store
        .add_consent(u, "cs-other", "https://r1", &scopes("y"), 100)
        .await
        .unwrap();
    store
        .add_consent("cs-someone", c, "https://r1", &scopes("z"), 100)
        .await
        .unwrap();
    let keys: Vec<(String, String)> = store
        .list_consents(u)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.client_id, c.resource))
        .collect();
    assert_eq!(
        keys,
        [
            ("cs-client".to_owned(), "https://r0".to_owned()),
            ("cs-client".to_owned(), "https://r1".to_owned()),
            ("cs-other".to_owned(), "https://r1".to_owned()),
        ]
    );
    assert_eq!(store.revoke_consent(u, c).await.unwrap(), 2);
    assert_eq!(store.revoke_consent(u, c).await.unwrap(), 0);
    assert_eq!(store.list_consents(u).await.unwrap().len(), 1);
    assert!(
        store
            .get_consent("cs-someone", c, "https://r1")
            .await
            .unwrap()
            .is_some()
    );
}

/// Signing keys: insert, conflict, byte-exact round trip, order, retire, delete.
pub async fn keys<S: Store>(store: &S) {
    let k = |kid: &str, created_at: UnixTime| StoredKey {
        kid: kid.to_owned(),
        alg: "EdDSA".into(),
        encrypted_private_key: vec![0, 159, 146, 150, 255, 0, 1, 2],
        public_jwk: serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": kid}),
        created_at,
        activates_at: created_at + 3_600,
        retires_at: None,
    };
    store.insert_key(&k("ky-2", 200)).await.unwrap();
    store.insert_key(&k("ky-1", 100)).await.unwrap();
    store.insert_key(&k("ky-0", 200)).await.unwrap();
    assert_conflict(store.insert_key(&k("ky-1", 1)).await, "duplicate kid");
    let listed: Vec<StoredKey> = store
        .list_keys()
        .await
        .unwrap()
        .into_iter()
        .filter(|x| x.kid.starts_with("ky-"))
        .collect();
    assert_eq!(listed, vec![k("ky-1", 100), k("ky-0", 200), k("ky-2", 200)]);
    assert!(store.retire_key("ky-1", 9_000).await.unwrap());
    assert!(!store.retire_key("ky-none", 9_000).await.unwrap());
    let retired = store
        .list_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.kid == "ky-1")
        .unwrap();
    assert_eq!(retired.retires_at, Some(9_000));
    assert!(store.delete_key("ky-1").await.unwrap());
    assert!(!store.delete_key("ky-1").await.unwrap());
    assert_eq!(
        store
            .list_keys()
            .await
            .unwrap()
            .iter()
            .filter(|x| x.kid.starts_with("ky-"))
            .count(),
        2
    );
}

/// Sessions: expiry boundary on read, conflict, delete.
pub async fn sessions<S: Store>(store: &S) {
    let anon = Session {
        id_hash: "ss-1".into(),
        user_id: None,
        csrf_token: "csrf-1".into(),
        auth_time: None,
        created_at: 100,
        expires_at: 1_000,
    };
    let logged_in = Session {
        id_hash: "ss-2".into(),
        user_id: Some("ss-user".into()),
        csrf_token: "csrf-2".into(),
        auth_time: Some(150),
        created_at: 150,
        expires_at: 2_000,
    };
    store.insert_session(&anon).await.unwrap();
    store.insert_session(&logged_in).await.unwrap();
    assert_conflict(store.insert_session(&anon).await, "duplicate session");
    assert_eq!(
        store.get_session("ss-1", 999).await.unwrap(),
        Some(anon.clone())
    );
    assert_eq!(store.get_session("ss-1", 1_000).await.unwrap(), None);
    assert_eq!(
        store.get_session("ss-2", 1_000).await.unwrap(),
        Some(logged_in)
    );
    assert_eq!(store.get_session("ss-none", 0).await.unwrap(), None);
    store.delete_session("ss-2").await.unwrap();
    store.delete_session("ss-none").await.unwrap();
    assert_eq!(store.get_session("ss-2", 1_000).await.unwrap(), None);
}

/// Deleting a client removes its codes, grants with their refresh tokens, and consents, and
/// nothing of other clients.
pub async fn delete_client_cascades<S: Store>(store: &S) {
    for id in ["dc-gone", "dc-kept"] {
        store.insert_client(&bare_client(id, 1)).await.unwrap();
        store
            .insert_code(&code(&format!("{id}-code"), id, "dc-user", 1_000))
            .await
            .unwrap();
        let g = grant(&format!("{id}-g"), id, Some("dc-user"), FAR);
        store
            .insert_grant(&g, Some(&refresh(&format!("{id}-r"), &g.id, FAR)))
            .await
            .unwrap();
        store
            .add_consent("dc-user", id, "https://r", &scopes("a"), 1)
            .await
            .unwrap();
    }
    // A used code whose grant goes with the client.
    store
        .insert_code(&code("dc-gone-used", "dc-gone", "dc-user", 1_000))
        .await
        .unwrap();
    let used_g = grant("dc-gone-g2", "dc-gone", Some("dc-user"), FAR);
    store
        .redeem_code("dc-gone-used", 10, &used_g, None)
        .await
        .unwrap();

    assert!(store.delete_client("dc-gone").await.unwrap());
    assert!(!store.delete_client("dc-gone").await.unwrap());
    assert_eq!(store.get_client("dc-gone").await.unwrap(), None);
    let probe = grant("dc-probe", "dc-gone", Some("dc-user"), FAR);
    for c in ["dc-gone-code", "dc-gone-used"] {
        assert_eq!(
            store.redeem_code(c, 10, &probe, None).await.unwrap(),
            RedeemOutcome::NotFound
        );
    }
    assert_eq!(store.get_grant("dc-gone-g").await.unwrap(), None);
    assert_eq!(store.get_grant("dc-gone-g2").await.unwrap(), None);
    assert_eq!(store.get_refresh("dc-gone-r").await.unwrap(), None);
    assert_eq!(
        store
            .get_consent("dc-user", "dc-gone", "https://r")
            .await
            .unwrap(),
        None
    );

    assert!(store.get_client("dc-kept").await.unwrap().is_some());
    assert!(store.get_grant("dc-kept-g").await.unwrap().is_some());
    assert!(store.get_refresh("dc-kept-r").await.unwrap().is_some());
    assert!(
        store
            .get_consent("dc-user", "dc-kept", "https://r")
            .await
            .unwrap()
            .is_some()
    );
    let kept = grant("dc-kept-g9", "dc-kept", Some("dc-user"), FAR);
    assert!(matches!(
        store
            .redeem_code("dc-kept-code", 10, &kept, None)
            .await
            .unwrap(),
        RedeemOutcome::Redeemed(_)
    ));
}

/// Deleting a user removes their sessions, consents, pending codes and grants (with refresh
/// tokens), and nothing of other users.
pub async fn delete_user_cascades<S: Store>(store: &S) {
    for (id, name) in [("du-1", "du-gone"), ("du-2", "du-kept")] {
        store.insert_user(&user(id, name)).await.unwrap();
        store
            .insert_session(&Session {
                id_hash: format!("{id}-s"),
                user_id: Some(id.to_owned()),
                csrf_token: "t".into(),
                auth_time: Some(1),
                created_at: 1,
                expires_at: FAR,
            })
            .await
            .unwrap();
        store
            .add_consent(id, "du-client", "https://r", &scopes("a"), 1)
            .await
            .unwrap();
        let g = grant(&format!("{id}-g"), "du-client", Some(id), FAR);
        store
            .insert_grant(&g, Some(&refresh(&format!("{id}-r"), &g.id, FAR)))
            .await
            .unwrap();
        store
            .insert_code(&code(&format!("{id}-code"), "du-client", id, 1_000))
            .await
            .unwrap();
    }
    assert!(store.delete_user("du-gone").await.unwrap());
    assert!(!store.delete_user("du-gone").await.unwrap());
    assert_eq!(store.get_user_by_name("du-gone").await.unwrap(), None);
    assert_eq!(store.get_user("du-1").await.unwrap(), None);
    assert_eq!(store.get_session("du-1-s", 10).await.unwrap(), None);
    assert_eq!(store.list_consents("du-1").await.unwrap(), vec![]);
    assert_eq!(store.list_grants_for_user("du-1").await.unwrap(), vec![]);
    assert_eq!(store.get_refresh("du-1-r").await.unwrap(), None);
    let probe = grant("du-probe", "du-client", Some("du-1"), FAR);
    assert_eq!(
        store
            .redeem_code("du-1-code", 10, &probe, None)
            .await
            .unwrap(),
        RedeemOutcome::NotFound
    );

    assert!(store.get_user("du-2").await.unwrap().is_some());
    assert!(store.get_session("du-2-s", 10).await.unwrap().is_some());
    assert_eq!(store.list_consents("du-2").await.unwrap().len(), 1);
    assert_eq!(store.list_grants_for_user("du-2").await.unwrap().len(), 1);
    assert!(store.get_refresh("du-2-r").await.unwrap().is_some());
}

/// Initial access tokens: insert, conflicts on id and hash, lookup by hash honouring expiry,
/// list order, delete, and the purge of expired ones. Runs just before [`purge`], whose first
/// step clears what it leaves.
pub async fn registration_tokens<S: Store>(store: &S) {
    let tok = |id: &str, created_at, expires_at| RegistrationToken {
        id: id.to_owned(),
        token_hash: format!("hash-{id}"),
        label: format!("label {id}"),
        created_at,
        expires_at,
    };
    let forever = tok("rt-b", 20, None);
    let expiring = tok("rt-a", 30, Some(500));
    store.insert_registration_token(&forever).await.unwrap();
    store.insert_registration_token(&expiring).await.unwrap();
    assert_conflict(
        store.insert_registration_token(&tok("rt-b", 1, None)).await,
        "same id",
    );
    let mut same_hash = tok("rt-c", 1, None);
    same_hash.token_hash = "hash-rt-a".into();
    assert_conflict(
        store.insert_registration_token(&same_hash).await,
        "same hash",
    );
    assert_eq!(
        store
            .find_registration_token("hash-rt-b", 10_000)
            .await
            .unwrap(),
        Some(forever.clone())
    );
    assert_eq!(
        store
            .find_registration_token("hash-rt-a", 499)
            .await
            .unwrap(),
        Some(expiring.clone())
    );
    assert_eq!(
        store
            .find_registration_token("hash-rt-a", 500)
            .await
            .unwrap(),
        None,
        "expired at its expiry"
    );
    assert_eq!(
        store.find_registration_token("hash-nope", 0).await.unwrap(),
        None
    );
    let listed = store.list_registration_tokens().await.unwrap();
    assert_eq!(
        listed,
        vec![forever.clone(), expiring.clone()],
        "by creation"
    );
    store.purge_expired(500).await.unwrap();
    assert_eq!(
        store.list_registration_tokens().await.unwrap(),
        vec![forever.clone()],
        "expired token purged"
    );
    assert!(store.delete_registration_token("rt-b").await.unwrap());
    assert!(!store.delete_registration_token("rt-b").await.unwrap());
    assert_eq!(
        store.find_registration_token("hash-rt-b", 0).await.unwrap(),
        None
    );
}

/// Unused dynamic registrations: only DCR clients never used and old enough go, with their
/// codes, grants and consents; used, young, administrator and CIMD clients stay.
pub async fn unused_registrations<S: Store>(store: &S) {
    let dcr = |id: &str, created_at, last_used_at| Client {
        origin: ClientOrigin::Dcr,
        last_used_at,
        ..bare_client(id, created_at)
    };
    let old_unused = dcr("ur-old", 100, None);
    let edge = dcr("ur-edge", 200, None);
    let young = dcr("ur-young", 201, None);
    let used = dcr("ur-used", 100, Some(150));
    let admin = Client {
        origin: ClientOrigin::Admin,
        ..bare_client("ur-admin", 100)
    };
    let cimd = bare_client("ur-cimd", 100);
    for c in [&old_unused, &edge, &young, &used, &admin, &cimd] {
        store.insert_client(c).await.unwrap();
    }
    store
        .insert_code(&code("ur-code", "ur-old", "ur-user", FAR))
        .await
        .unwrap();
    store
        .insert_grant(
            &grant("ur-g", "ur-old", Some("ur-user"), FAR),
            Some(&refresh("ur-r", "ur-g", FAR)),
        )
        .await
        .unwrap();
    store
        .add_consent(
            "ur-user",
            "ur-old",
            "https://mcp.example/mcp",
            &scopes("a"),
            5,
        )
        .await
        .unwrap();
    store
        .add_consent(
            "ur-user",
            "ur-used",
            "https://mcp.example/mcp",
            &scopes("a"),
            5,
        )
        .await
        .unwrap();
    assert_eq!(store.purge_unused_registrations(99).await.unwrap(), 0);
    assert_eq!(store.purge_unused_registrations(200).await.unwrap(), 2);
    for gone in ["ur-old", "ur-edge"] {
        assert_eq!(store.get_client(gone).await.unwrap(), None, "{gone}");
    }
    for kept in ["ur-young", "ur-used", "ur-admin", "ur-cimd"] {
        assert!(store.get_client(kept).await.unwrap().is_some(), "{kept}");
    }
    assert_eq!(store.get_grant("ur-g").await.unwrap(), None);
    assert_eq!(store.get_refresh("ur-r").await.unwrap(), None);
    assert!(
        store
            .get_consent("ur-user", "ur-old", "https://mcp.example/mcp")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_consent("ur-user", "ur-used", "https://mcp.example/mcp")
            .await
            .unwrap()
            .is_some()
    );
    // The code went too: redeeming it finds nothing.
    let probe = grant("ur-probe", "ur-old", None, FAR);
    assert_eq!(
        store.redeem_code("ur-code", 6, &probe, None).await.unwrap(),
        RedeemOutcome::NotFound
    );
    for c in ["ur-young", "ur-used", "ur-admin", "ur-cimd"] {
        store.delete_client(c).await.unwrap();
    }
}

/// Client assertion ids: single use per client until expiry, then replaceable; purged with the
/// other expired records. Runs just before [`purge`], whose first step clears what it leaves.
pub async fn assertions<S: Store>(store: &S) {
    assert!(store.use_jti("as-c1", "j1", 200, 100).await.unwrap());
    assert!(
        !store.use_jti("as-c1", "j1", 200, 100).await.unwrap(),
        "replay"
    );
    assert!(
        !store.use_jti("as-c1", "j1", 900, 199).await.unwrap(),
        "still a replay just before expiry, whatever expiry the replay claims"
    );
    assert!(
        store.use_jti("as-c2", "j1", 200, 100).await.unwrap(),
        "ids are per client"
    );
    assert!(
        store.use_jti("as-c1", "j1", 400, 200).await.unwrap(),
        "an expired record is replaced"
    );
    assert!(
        !store.use_jti("as-c1", "j1", 400, 300).await.unwrap(),
        "with its new expiry"
    );
    // Purging removes expired ids: afterwards the pair is new again even at an earlier time.
    store.purge_expired(400).await.unwrap();
    assert!(store.use_jti("as-c1", "j1", 450, 0).await.unwrap());
    assert!(store.use_jti("as-c2", "j1", 450, 0).await.unwrap());
}

/// Purging: exact counts at the expiry boundaries, survivors intact.
pub async fn purge<S: Store>(store: &S) {
    let t = PURGE_BASE;
    // Clear whatever the other checks left behind that expires before the base.
    store.purge_expired(t).await.unwrap();
    store.purge_sessions(t).await.unwrap();

    store
        .insert_code(&code("pg-code-10", "pg-client", "pg-user", t + 10))
        .await
        .unwrap();
    store
        .insert_code(&code("pg-code-50", "pg-client", "pg-user", t + 50))
        .await
        .unwrap();
    // A used code that produced a grant which is purged before the code is.
    store
        .insert_code(&code("pg-code-used", "pg-client", "pg-user", t + 50))
        .await
        .unwrap();
    let g_short = grant("pg-short", "pg-client", Some("pg-user"), t + 20);
    store
        .redeem_code(
            "pg-code-used",
            t,
            &g_short,
            Some(&refresh("pg-short-r1", "pg-short", t + 90)),
        )
        .await
        .unwrap();
    store
        .rotate_refresh(
            "pg-short-r1",
            &refresh("pg-short-r2", "pg-short", t + 90),
            t,
            0,
        )
        .await
        .unwrap();
    let g_long = grant("pg-long", "pg-client", Some("pg-user"), t + 100);
    store
        .insert_grant(&g_long, Some(&refresh("pg-long-r10", "pg-long", t + 10)))
        .await
        .unwrap();
    store
        .rotate_refresh(
            "pg-long-r10",
            &refresh("pg-long-r90", "pg-long", t + 90),
            t,
            0,
        )
        .await
        .unwrap();
    store
        .revoke_access_token("pg-jti-10", t + 10)
        .await
        .unwrap();
    store
        .revoke_access_token("pg-jti-50", t + 50)
        .await
        .unwrap();
    // A second revocation with an earlier expiry does not shorten the first.
    store.revoke_access_token("pg-jti-50", t + 5).await.unwrap();

    assert_eq!(store.purge_expired(t + 9).await.unwrap(), 0);
    // code-10, long-r10, jti-10.
    assert_eq!(store.purge_expired(t + 10).await.unwrap(), 3);
    assert!(!store.is_access_token_revoked("pg-jti-10").await.unwrap());
    assert!(store.is_access_token_revoked("pg-jti-50").await.unwrap());
    assert_eq!(store.get_refresh("pg-long-r10").await.unwrap(), None);
    assert!(store.get_refresh("pg-long-r90").await.unwrap().is_some());
    // The short grant and its two refresh tokens.
    assert_eq!(store.purge_expired(t + 20).await.unwrap(), 3);
    assert_eq!(store.get_grant("pg-short").await.unwrap(), None);
    assert_eq!(store.get_refresh("pg-short-r2").await.unwrap(), None);
    assert!(store.get_grant("pg-long").await.unwrap().is_some());
    // The used code outlived its grant: a replay now has nothing to revoke.
    let probe = grant("pg-probe", "pg-client", Some("pg-user"), FAR);
    assert_eq!(
        store
            .redeem_code("pg-code-used", t + 20, &probe, None)
            .await
            .unwrap(),
        RedeemOutcome::Replayed {
            revoked_grant: None
        }
    );
    // code-50, code-used, jti-50.
    assert_eq!(store.purge_expired(t + 50).await.unwrap(), 3);
    assert!(!store.is_access_token_revoked("pg-jti-50").await.unwrap());
    assert_eq!(
        store
            .redeem_code("pg-code-50", t, &probe, None)
            .await
            .unwrap(),
        RedeemOutcome::NotFound
    );
    // long-r90, then the long grant.
    assert_eq!(store.purge_expired(t + 90).await.unwrap(), 1);
    assert_eq!(store.purge_expired(t + 100).await.unwrap(), 1);
    assert_eq!(store.get_grant("pg-long").await.unwrap(), None);
    assert_eq!(store.purge_expired(t + 1_000).await.unwrap(), 0);

    // Sessions.
    for (id, exp) in [("pg-s10", t + 10), ("pg-s11", t + 11), ("pg-s50", t + 50)] {
        store
            .insert_session(&Session {
                id_hash: id.into(),
                user_id: None,
                csrf_token: "t".into(),
                auth_time: None,
                created_at: t,
                expires_at: exp,
            })
            .await
            .unwrap();
    }
    assert_eq!(store.purge_sessions(t + 9).await.unwrap(), 0);
    assert_eq!(store.purge_sessions(t + 11).await.unwrap(), 2);
    assert!(store.get_session("pg-s50", t + 11).await.unwrap().is_some());
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

/// 50 simultaneous redemptions of one code: exactly one wins; every other one is a replay that
/// revokes the winner's grant; no loser's grant is stored.
pub async fn concurrent_redeem<S: Store>(store: Arc<S>) {
    store
        .insert_code(&code("cc-code", "cc-client", "cc-user", FAR))
        .await
        .unwrap();
    let outcomes = race(&store, |s, i| async move {
        let g = grant(&format!("cc-g{i}"), "cc-client", Some("cc-user"), FAR);
        let r = refresh(&format!("cc-r{i}"), &g.id, FAR);
        s.redeem_code("cc-code", 100, &g, Some(&r)).await
    })
    .await;
    let winners: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, Ok(RedeemOutcome::Redeemed(_))))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one redemption: {outcomes:?}");
    let winner = format!("cc-g{}", winners[0]);
    for (i, o) in outcomes.iter().enumerate() {
        if i != winners[0] {
            assert_eq!(
                o.as_ref().expect("no backend error"),
                &RedeemOutcome::Replayed {
                    revoked_grant: Some(winner.clone())
                }
            );
            assert_eq!(store.get_grant(&format!("cc-g{i}")).await.unwrap(), None);
        }
    }
    assert!(is_revoked(&*store, &winner).await, "replay revoked it");
}

/// 50 simultaneous rotations of one token with different successors and no grace: exactly one
/// rotates; the others are reuse (or find the family already revoked); the family ends revoked.
pub async fn concurrent_rotate_without_grace<S: Store>(store: Arc<S>) {
    let g = family(&*store, "cr0").await;
    let outcomes = race(&store, |s, i| async move {
        let next = refresh(&format!("cr0-s{i}"), "cr0-g", FAR);
        s.rotate_refresh("cr0-r0", &next, 100, 0).await
    })
    .await;
    let mut rotated = 0;
    let mut reused = 0;
    for o in &outcomes {
        match o.as_ref().expect("no backend error") {
            RotateOutcome::Rotated(got) => {
                assert_eq!(got, &g);
                rotated += 1;
            }
            RotateOutcome::Reused { grant_id } => {
                assert_eq!(grant_id, &g.id);
                reused += 1;
            }
            RotateOutcome::Invalid => {}
            RotateOutcome::GraceRetry(_) => panic!("different successors never get grace"),
        }
    }
    assert_eq!(rotated, 1, "exactly one rotation: {outcomes:?}");
    assert!(reused >= 1, "the first loser detects reuse");
    assert!(is_revoked(&*store, &g.id).await);
}

/// 50 simultaneous retries of one token with the same successor inside the grace window:
/// exactly one rotates, the rest are grace retries, and the family stays active.
pub async fn concurrent_rotate_with_grace<S: Store>(store: Arc<S>) {
    let g = family(&*store, "cr30").await;
    let outcomes = race(&store, |s, _| async move {
        let next = refresh("cr30-s", "cr30-g", FAR);
        s.rotate_refresh("cr30-r0", &next, 100, 30).await
    })
    .await;
    let mut rotated = 0;
    for o in &outcomes {
        match o.as_ref().expect("no backend error") {
            RotateOutcome::Rotated(got) => {
                assert_eq!(got, &g);
                rotated += 1;
            }
            RotateOutcome::GraceRetry(got) => assert_eq!(got, &g),
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(rotated, 1, "exactly one rotation: {outcomes:?}");
    assert!(!is_revoked(&*store, &g.id).await, "the family stays active");
    let (old, _) = store.get_refresh("cr30-r0").await.unwrap().unwrap();
    assert_eq!(old.successor_hash.as_deref(), Some("cr30-s"));
    assert_eq!(
        store
            .rotate_refresh("cr30-s", &refresh("cr30-s2", "cr30-g", FAR), 101, 30)
            .await
            .unwrap(),
        RotateOutcome::Rotated(g)
    );
}

/// 50 simultaneous consent additions to one record lose no scope.
pub async fn concurrent_consents<S: Store>(store: Arc<S>) {
    let outcomes = race(&store, |s, i| async move {
        s.add_consent(
            "cn-user",
            "cn-client",
            "https://r",
            &scopes(&format!("s{i}")),
            100,
        )
        .await
    })
    .await;
    for o in outcomes {
        o.expect("no backend error");
    }
    let got = store
        .get_consent("cn-user", "cn-client", "https://r")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        got.scope,
        (0..TASKS).map(|i| format!("s{i}")).collect::<ScopeSet>()
    );
}

/// Concurrent uses of one client assertion: exactly one succeeds.
pub async fn concurrent_assertions<S: Store>(store: Arc<S>) {
    let outcomes = race(&store, |s, _| async move {
        s.use_jti("ca-client", "ca-jti", 500, 100).await
    })
    .await;
    let firsts = outcomes
        .into_iter()
        .map(|o| o.expect("no backend error"))
        .filter(|first| *first)
        .count();
    assert_eq!(firsts, 1);
}

// ---------------------------------------------------------------- audit trail

/// Appends, filters (time, kind, limit), orders newest first, round-trips every field, purges
/// by age.
pub async fn audit<S: Store>(store: &S) {
    use crate::model::audit::{AuditEvent, AuditFilter, AuditKind};
    let base: UnixTime = 500_000;
    let full = AuditEvent::new(AuditKind::LoginFailed, base)
        .user("u-audit")
        .client("c-audit")
        .ip("192.0.2.7")
        .detail(serde_json::json!({"reason": "password", "n": 3}));
    store.append_audit(&full).await.unwrap();
    store
        .append_audit(&AuditEvent::new(AuditKind::LoginSucceeded, base + 10).user("u-audit"))
        .await
        .unwrap();
    store
        .append_audit(&AuditEvent::new(AuditKind::LoginFailed, base + 10))
        .await
        .unwrap();
    store
        .append_audit(&AuditEvent::new(AuditKind::KeyRotated, base + 20))
        .await
        .unwrap();
    let all = store
        .list_audit(&AuditFilter {
            since: Some(base),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    let kinds: Vec<_> = all.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            AuditKind::KeyRotated,
            AuditKind::LoginFailed,
            AuditKind::LoginSucceeded,
            AuditKind::LoginFailed
        ],
        "newest first; the same second by insertion order, newest first"
    );
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "ids increase");
    let stored = &all[3];
    assert!(stored.id > 0);
    assert_eq!(
        AuditEvent {
            id: 0,
            ..stored.clone()
        },
        full,
        "every field"
    );
    assert!(all[1].user_id.is_none() && all[1].detail.is_null());
    let failed = store
        .list_audit(&AuditFilter {
            since: Some(base),
            kind: Some(AuditKind::LoginFailed),
            limit: None,
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 2);
    let recent = store
        .list_audit(&AuditFilter {
            since: Some(base + 10),
            kind: None,
            limit: Some(2),
        })
        .await
        .unwrap();
    assert_eq!(
        recent.iter().map(|e| e.at).collect::<Vec<_>>(),
        [base + 20, base + 10]
    );
    assert_eq!(store.purge_audit(base + 10).await.unwrap(), 1);
    assert_eq!(
        store
            .list_audit(&AuditFilter {
                since: Some(base),
                ..Default::default()
            })
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(store.purge_audit(base + 100).await.unwrap(), 3);
}

// ---------------------------------------------------------------- scheduled key rotation

fn sched_key(kid: &str, created_at: UnixTime) -> StoredKey {
    StoredKey {
        kid: kid.to_owned(),
        alg: "ES256".into(),
        encrypted_private_key: vec![1, 2, 3],
        public_jwk: serde_json::json!({"kty": "EC", "x": kid}),
        created_at,
        activates_at: created_at + 900,
        retires_at: None,
    }
}

/// Rotates only when no key was created after the bound, and retires the others at the new
/// key's activation. Runs last: it retires every key of the store.
pub async fn scheduled_rotation<S: Store>(store: &S) {
    let t: UnixTime = 3_000_000_000;
    assert!(
        store
            .insert_key_if_none_since(&sched_key("ks-1", t), t - 1_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .insert_key_if_none_since(&sched_key("ks-2", t + 10), t - 1_000)
            .await
            .unwrap(),
        "a key created within the interval: no rotation"
    );
    let keys = store.list_keys().await.unwrap();
    assert!(!keys.iter().any(|k| k.kid == "ks-2"));
    for k in &keys {
        if k.kid == "ks-1" {
            assert_eq!(k.retires_at, None);
        } else {
            assert!(
                k.retires_at.is_some_and(|r| r <= t + 900),
                "{} retired by the rotation",
                k.kid
            );
        }
    }
    assert!(
        store
            .insert_key_if_none_since(&sched_key("ks-3", t + 5_000), t + 1)
            .await
            .unwrap()
    );
    let ks1 = store
        .list_keys()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.kid == "ks-1")
        .unwrap();
    assert_eq!(ks1.retires_at, Some(t + 5_900));
}

/// Of concurrent scheduled rotations, exactly one rotates.
pub async fn concurrent_scheduled_rotation<S: Store>(store: Arc<S>) {
    let t: UnixTime = 3_500_000_000;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .insert_key_if_none_since(&sched_key(&format!("kc-{i}"), t), t - 100)
                .await
                .unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        if t.await.unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1, "exactly one instance rotates");
}
