//! A user's browser sessions, for the console's "my sessions", and disabled users.

use super::*;

fn session(id: &str, user: Option<&str>, created_at: UnixTime, expires_at: UnixTime) -> Session {
    Session {
        id_hash: id.to_owned(),
        user_id: user.map(str::to_owned),
        csrf_token: format!("csrf-{id}"),
        auth_time: user.map(|_| created_at),
        created_at,
        expires_at,
    }
}

/// A user's live sessions in creation order (not another user's, not anonymous ones, not
/// expired ones); signing out of all but one deletes exactly the others.
pub async fn user_sessions<S: Store>(store: &S) {
    let a1 = session("us-b", Some("us-alice"), 10, 1_000);
    let a2 = session("us-a", Some("us-alice"), 20, 1_000);
    let a3 = session("us-c", Some("us-alice"), 30, 1_000);
    let expired = session("us-d", Some("us-alice"), 5, 50);
    let bob = session("us-e", Some("us-bob"), 10, 1_000);
    let anon = session("us-f", None, 10, 1_000);
    for s in [&a1, &a2, &a3, &expired, &bob, &anon] {
        store.insert_session(s).await.unwrap();
    }
    assert_eq!(
        store.list_user_sessions("us-alice", 100).await.unwrap(),
        vec![a1.clone(), a2.clone(), a3.clone()]
    );
    assert_eq!(
        store
            .delete_user_sessions("us-alice", Some("us-a"))
            .await
            .unwrap(),
        3,
        "the two others and the expired one"
    );
    assert_eq!(
        store.list_user_sessions("us-alice", 100).await.unwrap(),
        vec![a2.clone()]
    );
    assert_eq!(store.get_session("us-e", 100).await.unwrap(), Some(bob));
    assert_eq!(store.get_session("us-f", 100).await.unwrap(), Some(anon));
    assert_eq!(
        store.delete_user_sessions("us-alice", None).await.unwrap(),
        1
    );
    assert!(
        store
            .list_user_sessions("us-alice", 0)
            .await
            .unwrap()
            .is_empty()
    );
    for id in ["us-e", "us-f"] {
        store.delete_session(id).await.unwrap();
    }
}

/// Disabling a user is stored and undone; an unknown name is `false`.
pub async fn user_disabled<S: Store>(store: &S) {
    let mut u = user("ud-1", "ud-carol");
    store.insert_user(&u).await.unwrap();
    assert!(store.set_user_disabled("ud-carol", Some(77)).await.unwrap());
    u.disabled_at = Some(77);
    assert_eq!(store.get_user("ud-1").await.unwrap(), Some(u.clone()));
    assert!(store.set_user_disabled("ud-carol", None).await.unwrap());
    u.disabled_at = None;
    assert_eq!(store.get_user_by_name("ud-carol").await.unwrap(), Some(u));
    assert!(!store.set_user_disabled("ud-nobody", None).await.unwrap());
    assert!(store.delete_user("ud-carol").await.unwrap());
}
