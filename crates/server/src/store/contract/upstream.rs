//! Federated login's records: sign-ins in flight (consumed once), links, upstream tokens
//! following their code into its grant and out with its revocation.

use super::*;
use crate::model::upstream::{SignInFor, UpstreamLink, UpstreamLogin, UpstreamTokens};

fn login(state_hash: &str, expires_at: UnixTime) -> UpstreamLogin {
    UpstreamLogin {
        state_hash: state_hash.to_owned(),
        upstream_id: "corp".into(),
        session_hash: "sess".into(),
        target: SignInFor::Authorization {
            query: "client_id=a&response_type=code".into(),
        },
        sealed_verifier: vec![0, 1, 2, 255],
        nonce: "nonce".into(),
        created_at: expires_at - 600,
        expires_at,
    }
}

fn link(upstream: &str, subject: &str, user_id: &str, email: &str, verified: bool) -> UpstreamLink {
    UpstreamLink {
        upstream_id: upstream.to_owned(),
        subject: subject.to_owned(),
        user_id: user_id.to_owned(),
        email: Some(email.to_owned()),
        email_verified: verified,
        created_at: 10,
    }
}

fn kept(code_hash: &str) -> UpstreamTokens {
    UpstreamTokens {
        code_hash: code_hash.to_owned(),
        grant_id: None,
        upstream_id: "corp".into(),
        sealed: vec![9; 40],
        expires_at: Some(500),
        updated_at: 10,
    }
}

/// Sign-ins in flight (for an authorization or a device): consumed once, not after their
/// expiry, purged.
pub async fn upstream_logins<S: Store>(store: &S) {
    store
        .insert_upstream_login(&login("ul-1", 700))
        .await
        .unwrap();
    assert_conflict(
        store.insert_upstream_login(&login("ul-1", 700)).await,
        "same state",
    );
    let got = store.take_upstream_login("ul-1", 100).await.unwrap();
    assert_eq!(got, Some(login("ul-1", 700)));
    // A device page's sign-in round-trips its target.
    let mut device = login("ul-d", 700);
    device.target = SignInFor::Device {
        user_code_hash: "uc-hash".into(),
    };
    store.insert_upstream_login(&device).await.unwrap();
    assert_eq!(
        store.take_upstream_login("ul-d", 100).await.unwrap(),
        Some(device)
    );
    assert_eq!(
        store.take_upstream_login("ul-1", 100).await.unwrap(),
        None,
        "a replay"
    );
    store
        .insert_upstream_login(&login("ul-2", 700))
        .await
        .unwrap();
    assert_eq!(
        store.take_upstream_login("ul-2", 700).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store.take_upstream_login("ul-2", 100).await.unwrap(),
        None,
        "and gone"
    );
    store
        .insert_upstream_login(&login("ul-3", 700))
        .await
        .unwrap();
    store
        .insert_upstream_login(&login("ul-4", 900))
        .await
        .unwrap();
    assert_eq!(store.purge_upstream_logins(800).await.unwrap(), 1);
    assert!(
        store
            .take_upstream_login("ul-4", 800)
            .await
            .unwrap()
            .is_some()
    );
}

/// Links: one atomic step with a new user, unique by (upstream, subject), verified e-mails
/// found, deleted with the user.
pub async fn upstream_links<S: Store>(store: &S) {
    let u = user("lk-u1", "lk-ann");
    store
        .create_upstream_user(&u, &link("corp", "s1", "lk-u1", "ann@x.example", true))
        .await
        .unwrap();
    assert_eq!(store.get_user("lk-u1").await.unwrap(), Some(u));
    assert_conflict(
        store
            .create_upstream_user(
                &user("lk-u2", "lk-other"),
                &link("corp", "s1", "lk-u2", "o@x.example", false),
            )
            .await,
        "the same upstream account again",
    );
    assert_eq!(
        store.get_user("lk-u2").await.unwrap(),
        None,
        "no user half-made"
    );
    assert_conflict(
        store
            .create_upstream_user(
                &user("lk-u3", "lk-ann"),
                &link("corp", "s3", "lk-u3", "p@x.example", false),
            )
            .await,
        "a taken username",
    );
    assert_eq!(
        store.get_upstream_link("corp", "s3").await.unwrap(),
        None,
        "no link half-made"
    );
    store
        .insert_upstream_link(&link("other", "s1", "lk-u1", "ann@x.example", false))
        .await
        .unwrap();
    assert_conflict(
        store
            .insert_upstream_link(&link("other", "s1", "lk-u1", "ann@x.example", false))
            .await,
        "link twice",
    );
    assert!(
        store
            .insert_upstream_link(&link("third", "s1", "lk-nobody", "n@x.example", false))
            .await
            .is_err()
    );
    let found = store.find_verified_links("ann@x.example").await.unwrap();
    assert_eq!(found.len(), 1, "only the verified one");
    assert_eq!(found[0].upstream_id, "corp");
    let all = store.list_upstream_links().await.unwrap();
    let mine: Vec<_> = all.iter().filter(|l| l.user_id == "lk-u1").collect();
    assert_eq!(mine.len(), 2);
    assert_eq!(
        (mine[0].upstream_id.as_str(), mine[1].upstream_id.as_str()),
        ("corp", "other")
    );
    assert_eq!(
        store
            .get_upstream_link("corp", "s1")
            .await
            .unwrap()
            .map(|l| l.user_id),
        Some("lk-u1".to_owned())
    );
    assert!(store.delete_user("lk-ann").await.unwrap());
    assert_eq!(
        store.get_upstream_link("corp", "s1").await.unwrap(),
        None,
        "deleted with the user"
    );
    assert_eq!(store.get_upstream_link("other", "s1").await.unwrap(), None);
}

/// Upstream tokens: kept with a code, moved to the grant at redemption, refreshed, deleted
/// when the grant is revoked; an unredeemed code's purged with it.
pub async fn upstream_tokens<S: Store>(store: &S) {
    store
        .insert_user(&user("ut-user", "ut-user"))
        .await
        .unwrap();
    let c = code("ut-code", "ut-client", "ut-user", 900);
    store.insert_code(&c).await.unwrap();
    store.put_upstream_tokens(&kept("ut-code")).await.unwrap();
    let g = grant("ut-grant", "ut-client", None, FAR);
    assert_eq!(
        store.get_grant_upstream_tokens("ut-grant").await.unwrap(),
        None
    );
    assert!(matches!(
        store.redeem_code("ut-code", 800, &g, None).await.unwrap(),
        RedeemOutcome::Redeemed(_)
    ));
    let got = store
        .get_grant_upstream_tokens("ut-grant")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.grant_id.as_deref(), Some("ut-grant"));
    assert_eq!(got.sealed, vec![9; 40]);
    let mut fresh = got.clone();
    fresh.sealed = vec![7; 40];
    fresh.expires_at = Some(1_000);
    assert!(store.update_grant_upstream_tokens(&fresh).await.unwrap());
    assert_eq!(
        store.get_grant_upstream_tokens("ut-grant").await.unwrap(),
        Some(fresh.clone())
    );
    let mut elsewhere = fresh.clone();
    elsewhere.grant_id = Some("ut-other".into());
    assert!(
        !store
            .update_grant_upstream_tokens(&elsewhere)
            .await
            .unwrap()
    );
    assert!(store.revoke_grant("ut-grant", 850).await.unwrap());
    assert_eq!(
        store.get_grant_upstream_tokens("ut-grant").await.unwrap(),
        None
    );
    assert!(
        !store.update_grant_upstream_tokens(&fresh).await.unwrap(),
        "deleted, not hidden"
    );
    // A code never redeemed: its tokens go when it is purged.
    store
        .insert_code(&code("ut-code2", "ut-client", "ut-user", 900))
        .await
        .unwrap();
    store.put_upstream_tokens(&kept("ut-code2")).await.unwrap();
    let g2 = grant("ut-grant2", "ut-client", None, FAR);
    store.purge_expired(901).await.unwrap();
    assert!(matches!(
        store.redeem_code("ut-code2", 902, &g2, None).await.unwrap(),
        RedeemOutcome::NotFound
    ));
    store
        .insert_code(&code("ut-code2", "ut-client", "ut-user", 990))
        .await
        .unwrap();
    assert!(matches!(
        store.redeem_code("ut-code2", 903, &g2, None).await.unwrap(),
        RedeemOutcome::Redeemed(_)
    ));
    assert_eq!(
        store.get_grant_upstream_tokens("ut-grant2").await.unwrap(),
        None,
        "the purged code's tokens did not survive into a later grant"
    );
}

/// Concurrent callbacks with one state: exactly one gets the sign-in.
pub async fn concurrent_upstream_logins<S: Store>(store: Arc<S>) {
    store
        .insert_upstream_login(&login("cul-1", FAR))
        .await
        .unwrap();
    let outcomes = race(&store, |s, _| async move {
        s.take_upstream_login("cul-1", 100).await
    })
    .await;
    let got = outcomes
        .into_iter()
        .map(|o| o.expect("no backend error"))
        .filter(Option::is_some)
        .count();
    assert_eq!(got, 1);
}
