//! The scheduled key rotation.

use super::*;

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
