//! API keys.

use super::*;

fn api_key(id: &str, user_id: Option<&str>, created_at: UnixTime) -> ApiKey {
    ApiKey {
        id: id.to_owned(),
        key_hash: format!("hmac-{id}"),
        label: format!("key {id}"),
        user_id: user_id.map(str::to_owned),
        resource: "https://mcp.example/mcp".into(),
        scope: scopes("tools:read tools:call"),
        created_at,
        expires_at: FAR,
        last_used_at: None,
        revoked_at: None,
    }
}

/// API keys: insert (every column round-trips), conflicts on id and hash, lookup by hash and by
/// id, list all or one user's in creation order, last use, revocation once.
pub async fn api_keys<S: Store>(store: &S) {
    let alice = api_key("ak-b", Some("ak-alice"), 20);
    let service = api_key("ak-a", None, 30);
    let alice2 = api_key("ak-c", Some("ak-alice"), 30);
    for k in [&alice, &service, &alice2] {
        store.insert_api_key(k).await.unwrap();
    }
    assert_conflict(
        store.insert_api_key(&api_key("ak-b", None, 1)).await,
        "same id",
    );
    let mut same_hash = api_key("ak-d", None, 1);
    same_hash.key_hash = "hmac-ak-a".into();
    assert_conflict(store.insert_api_key(&same_hash).await, "same hash");

    assert_eq!(
        store.find_api_key("hmac-ak-b").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.find_api_key("hmac-nope").await.unwrap(), None);
    assert_eq!(
        store.get_api_key("ak-a").await.unwrap(),
        Some(service.clone())
    );
    assert_eq!(store.get_api_key("ak-nope").await.unwrap(), None);
    let all: Vec<ApiKey> = store
        .list_api_keys(None)
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.id.starts_with("ak-"))
        .collect();
    assert_eq!(
        all,
        vec![alice.clone(), service.clone(), alice2.clone()],
        "by creation, then id"
    );
    assert_eq!(
        store.list_api_keys(Some("ak-alice")).await.unwrap(),
        vec![alice.clone(), alice2.clone()]
    );
    assert!(
        store
            .list_api_keys(Some("ak-bob"))
            .await
            .unwrap()
            .is_empty()
    );

    store.touch_api_key("ak-b", 77).await.unwrap();
    store.touch_api_key("ak-nope", 77).await.unwrap();
    let touched = store.get_api_key("ak-b").await.unwrap().unwrap();
    assert_eq!(touched.last_used_at, Some(77));
    assert!(touched.is_active(78));

    assert!(store.revoke_api_key("ak-b", 80).await.unwrap());
    assert!(!store.revoke_api_key("ak-b", 90).await.unwrap(), "once");
    assert!(!store.revoke_api_key("ak-nope", 90).await.unwrap());
    let revoked = store.find_api_key("hmac-ak-b").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(80), "the first revocation stays");
    assert!(!revoked.is_active(81));
    assert!(
        !api_key("x", None, 1).is_active(FAR),
        "expired at its expiry"
    );
}
