//! Clients, resources and users, and what deleting a client or a user takes with it.

use super::*;

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
