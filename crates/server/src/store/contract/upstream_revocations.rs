//! Deleted upstream tokens still to revoke at their provider: queued by every path that deletes
//! them (a grant revoked, a client or user removed, an expired grant or unredeemed code purged)
//! and taken once; and the refresh lease of a grant's upstream tokens, held by one at a time.

use super::*;
use crate::model::upstream::UpstreamTokens;

fn kept(code_hash: &str) -> UpstreamTokens {
    UpstreamTokens {
        code_hash: code_hash.to_owned(),
        grant_id: None,
        upstream_id: "corp".into(),
        sealed: code_hash.as_bytes().to_vec(),
        expires_at: Some(500),
        updated_at: 10,
    }
}

/// Everything queued now, by code hash.
async fn queued<S: Store>(store: &S) -> Vec<String> {
    let mut got: Vec<String> = store
        .take_upstream_revocations(1_000)
        .await
        .unwrap()
        .into_iter()
        .map(|t| {
            assert_eq!(t.upstream_id, "corp");
            assert_eq!(t.sealed, t.code_hash.as_bytes(), "sealed as kept");
            t.code_hash
        })
        .collect();
    got.sort();
    got
}

/// A code of `user` at `client` with kept tokens, redeemed into grant `grant_id` unless `None`.
async fn signed_in<S: Store>(
    store: &S,
    hash: &str,
    client: &str,
    user: &str,
    grant_id: Option<(&str, UnixTime)>,
) {
    store
        .insert_code(&code(hash, client, user, 900))
        .await
        .unwrap();
    store.put_upstream_tokens(&kept(hash)).await.unwrap();
    if let Some((id, expires_at)) = grant_id {
        let g = grant(id, client, Some(user), expires_at);
        assert!(matches!(
            store.redeem_code(hash, 800, &g, None).await.unwrap(),
            RedeemOutcome::Redeemed(_)
        ));
    }
}

/// Every path that deletes kept tokens queues them, once; the queue is taken once.
pub async fn upstream_revocations<S: Store>(store: &S) {
    // What earlier checks left (`upstream_tokens` revokes a grant with kept tokens).
    store.take_upstream_revocations(1_000).await.unwrap();
    for c in ["ur-client", "ur-client2"] {
        store.insert_client(&bare_client(c, 1)).await.unwrap();
    }
    for u in ["ur-user", "ur-user2"] {
        store.insert_user(&user(u, u)).await.unwrap();
    }

    signed_in(store, "ur-c1", "ur-client", "ur-user", Some(("ur-g1", FAR))).await;
    assert_eq!(
        queued(store).await,
        Vec::<String>::new(),
        "kept, not queued"
    );
    assert!(store.revoke_grant("ur-g1", 850).await.unwrap());
    assert_eq!(queued(store).await, ["ur-c1"], "a revoked grant's");
    assert_eq!(queued(store).await, Vec::<String>::new(), "taken once");

    // Purge: a code gone unredeemed, a grant expired; a live one stays.
    signed_in(store, "ur-c2", "ur-client", "ur-user", None).await;
    signed_in(store, "ur-c3", "ur-client", "ur-user", Some(("ur-g3", 950))).await;
    signed_in(store, "ur-c4", "ur-client", "ur-user", Some(("ur-g4", FAR))).await;
    store.purge_expired(960).await.unwrap();
    assert_eq!(queued(store).await, ["ur-c2", "ur-c3"], "purged");
    assert!(
        store
            .get_grant_upstream_tokens("ur-g4")
            .await
            .unwrap()
            .is_some()
    );

    // A user removed: the tokens of their grants and of their pending codes.
    signed_in(store, "ur-c5", "ur-client", "ur-user", None).await;
    signed_in(
        store,
        "ur-c6",
        "ur-client",
        "ur-user2",
        Some(("ur-g6", FAR)),
    )
    .await;
    assert!(store.delete_user("ur-user").await.unwrap());
    assert_eq!(queued(store).await, ["ur-c4", "ur-c5"], "a removed user's");

    // A client removed: the same.
    signed_in(
        store,
        "ur-c7",
        "ur-client2",
        "ur-user2",
        Some(("ur-g7", FAR)),
    )
    .await;
    signed_in(store, "ur-c8", "ur-client2", "ur-user2", None).await;
    assert!(store.delete_client("ur-client2").await.unwrap());
    assert_eq!(
        queued(store).await,
        ["ur-c7", "ur-c8"],
        "a removed client's"
    );
    assert!(
        store
            .get_grant_upstream_tokens("ur-g6")
            .await
            .unwrap()
            .is_some(),
        "another user's and client's stay"
    );

    // Taken in batches.
    for (i, g) in ["ur-g6"].iter().enumerate() {
        assert!(store.revoke_grant(g, 870 + i as i64).await.unwrap());
    }
    signed_in(
        store,
        "ur-c9",
        "ur-client",
        "ur-user2",
        Some(("ur-g9", FAR)),
    )
    .await;
    signed_in(
        store,
        "ur-ca",
        "ur-client",
        "ur-user2",
        Some(("ur-ga", FAR)),
    )
    .await;
    assert!(store.delete_user("ur-user2").await.unwrap());
    assert_eq!(store.take_upstream_revocations(2).await.unwrap().len(), 2);
    assert_eq!(store.take_upstream_revocations(2).await.unwrap().len(), 1);
    assert_eq!(queued(store).await, Vec::<String>::new());
}

/// The refresh lease: one holder until it expires or is released; only for kept tokens.
pub async fn upstream_refresh_lease<S: Store>(store: &S) {
    store
        .insert_client(&bare_client("ul-client", 1))
        .await
        .unwrap();
    store
        .insert_user(&user("ul-user", "ul-user"))
        .await
        .unwrap();
    signed_in(store, "ul-c1", "ul-client", "ul-user", Some(("ul-g1", FAR))).await;
    assert!(
        store
            .claim_upstream_refresh("ul-g1", 100, 130)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_upstream_refresh("ul-g1", 110, 140)
            .await
            .unwrap(),
        "held"
    );
    assert!(
        store
            .claim_upstream_refresh("ul-g1", 130, 160)
            .await
            .unwrap(),
        "expired at its time"
    );
    store.release_upstream_refresh("ul-g1").await.unwrap();
    assert!(
        store
            .claim_upstream_refresh("ul-g1", 131, 161)
            .await
            .unwrap(),
        "released"
    );
    let mut refreshed = store
        .get_grant_upstream_tokens("ul-g1")
        .await
        .unwrap()
        .unwrap();
    refreshed.sealed = vec![1; 8];
    assert!(
        store
            .update_grant_upstream_tokens(&refreshed)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_upstream_refresh("ul-g1", 132, 162)
            .await
            .unwrap(),
        "a refresh does not end the lease; the release does"
    );
    store.release_upstream_refresh("ul-g1").await.unwrap();
    assert!(
        !store
            .claim_upstream_refresh("ul-none", 100, 130)
            .await
            .unwrap(),
        "no kept tokens, no lease"
    );
    assert!(store.revoke_grant("ul-g1", 140).await.unwrap());
    assert!(
        !store
            .claim_upstream_refresh("ul-g1", 200, 230)
            .await
            .unwrap(),
        "revoked: nothing to refresh"
    );
    store.take_upstream_revocations(1_000).await.unwrap();
}

/// Instances racing for one lease: exactly one gets it.
pub async fn concurrent_upstream_refresh_lease<S: Store>(store: Arc<S>) {
    store
        .insert_client(&bare_client("cul-client", 1))
        .await
        .unwrap();
    store
        .insert_user(&user("cul-user", "cul-user"))
        .await
        .unwrap();
    signed_in(
        &*store,
        "cul-c1",
        "cul-client",
        "cul-user",
        Some(("cul-g1", FAR)),
    )
    .await;
    let outcomes = race(&store, |s, _| async move {
        s.claim_upstream_refresh("cul-g1", 100, 130).await
    })
    .await;
    let won = outcomes
        .into_iter()
        .map(|o| o.expect("no backend error"))
        .filter(|w| *w)
        .count();
    assert_eq!(won, 1);
}

/// A device authorization pending at 100 for `client`, approved by `user`, with tokens of a
/// federated approval kept under its device code's hash (`{ns}-dc`).
async fn device_signed_in<S: Store>(
    store: &S,
    ns: &str,
    client: &str,
    user: &str,
    expires_at: UnixTime,
) {
    let a = DeviceAuthorization {
        device_code_hash: format!("{ns}-dc"),
        user_code_hash: format!("{ns}-uc"),
        client_id: client.to_owned(),
        resource: "https://mcp.example/mcp".into(),
        scope: scopes("tools:read"),
        created_at: 100,
        expires_at,
        interval: 5,
        last_poll_at: None,
        status: DeviceStatus::Pending,
    };
    store.insert_device_authorization(&a).await.unwrap();
    let approve = DeviceDecision::Approve {
        user_id: user.to_owned(),
        auth_time: 100,
        scope: scopes("tools:read"),
        upstream: Some(kept(&a.device_code_hash)),
    };
    assert!(
        store
            .decide_device_authorization(&a.user_code_hash, 100, &approve)
            .await
            .unwrap()
    );
    // A second federated approval loses, and its tokens are not kept.
    let mut late = kept(&a.device_code_hash);
    late.sealed = b"late".to_vec();
    let again = DeviceDecision::Approve {
        user_id: user.to_owned(),
        auth_time: 101,
        scope: scopes("tools:read"),
        upstream: Some(late),
    };
    assert!(
        !store
            .decide_device_authorization(&a.user_code_hash, 101, &again)
            .await
            .unwrap()
    );
}

/// The tokens of a federated device approval: kept while the authorization lives (a purge
/// leaves them), moved to the grant its poll redeems, and queued for revocation when it expires
/// unredeemed or its approver or client is removed.
pub async fn device_upstream_tokens<S: Store>(store: &S) {
    store.take_upstream_revocations(1_000).await.unwrap();
    for c in ["du-client", "du-client2"] {
        store.insert_client(&bare_client(c, 1)).await.unwrap();
    }
    for u in ["du-user", "du-user2"] {
        store.insert_user(&user(u, u)).await.unwrap();
    }
    device_signed_in(store, "du-a", "du-client", "du-user", 1_500).await;
    device_signed_in(store, "du-b", "du-client", "du-user", 1_400).await;
    store.purge_expired(1_200).await.unwrap();
    assert_eq!(
        queued(store).await,
        Vec::<String>::new(),
        "kept while the authorizations live"
    );
    let g = grant("du-g1", "du-client", None, FAR);
    assert!(matches!(
        store
            .poll_device_authorization("du-a-dc", "du-client", 1_300, &g, None)
            .await
            .unwrap(),
        DevicePoll::Redeemed(_)
    ));
    let moved = store
        .get_grant_upstream_tokens("du-g1")
        .await
        .unwrap()
        .expect("the grant's");
    assert_eq!(
        (
            moved.code_hash.as_str(),
            moved.grant_id.as_deref(),
            moved.sealed.as_slice()
        ),
        ("du-a-dc", Some("du-g1"), b"du-a-dc".as_slice()),
        "the winning approval's tokens"
    );
    store.purge_expired(1_400).await.unwrap();
    assert_eq!(queued(store).await, ["du-b-dc"], "expired unredeemed");
    assert!(
        store
            .get_grant_upstream_tokens("du-g1")
            .await
            .unwrap()
            .is_some(),
        "the redeemed one stays with its grant"
    );

    device_signed_in(store, "du-c", "du-client", "du-user2", FAR).await;
    assert!(store.delete_user("du-user2").await.unwrap());
    assert_eq!(queued(store).await, ["du-c-dc"], "its approver removed");
    device_signed_in(store, "du-d", "du-client2", "du-user", FAR).await;
    assert!(store.delete_client("du-client2").await.unwrap());
    assert_eq!(queued(store).await, ["du-d-dc"], "its client removed");
}
