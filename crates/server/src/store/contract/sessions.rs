//! Consents, signing keys and browser sessions.

use super::*;

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
