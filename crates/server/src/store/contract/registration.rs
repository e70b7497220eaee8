//! Initial access tokens and the purge of unused dynamic registrations.

use super::*;

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
