//! Device authorizations (RFC 8628).

use super::*;

fn device(ns: &str, client_id: &str, expires_at: UnixTime) -> DeviceAuthorization {
    DeviceAuthorization {
        device_code_hash: format!("{ns}-dc"),
        user_code_hash: format!("{ns}-uc"),
        client_id: client_id.to_owned(),
        resource: "https://mcp.example/mcp".into(),
        scope: scopes("tools:read tools:call"),
        created_at: expires_at - 600,
        expires_at,
        interval: 5,
        last_poll_at: None,
        status: DeviceStatus::Pending,
    }
}

/// A client and a user for the device checks of namespace `ns`.
async fn parties<S: Store>(store: &S, ns: &str) -> (String, String) {
    let client = bare_client(&format!("{ns}-client"), 10);
    store.insert_client(&client).await.unwrap();
    let u = user(&format!("{ns}-user"), &format!("{ns}-username"));
    store.insert_user(&u).await.unwrap();
    (client.client_id, u.id)
}

fn approve(user_id: &str, scope: &str) -> DeviceDecision {
    DeviceDecision::Approve {
        user_id: user_id.to_owned(),
        auth_time: 150,
        scope: scopes(scope),
        upstream: None,
    }
}

/// Insert (every column round-trips), conflicts on either code hash, lookup by user code until
/// expiry, polls (pending, `slow_down` remembered, another client changes nothing), a decision
/// only once and only while pending, redemption into a grant exactly once, denial reported once,
/// expiry and the purge, and deletion with the client or the approving user.
pub async fn device_authorizations<S: Store>(store: &S) {
    let (client, user_id) = parties(store, "dv").await;
    let a = device("dv-a", &client, 1_000);
    store.insert_device_authorization(&a).await.unwrap();
    let mut same_user_code = device("dv-b", &client, 1_000);
    same_user_code.user_code_hash = a.user_code_hash.clone();
    assert_conflict(
        store.insert_device_authorization(&same_user_code).await,
        "same user code",
    );
    let mut same_device_code = device("dv-c", &client, 1_000);
    same_device_code.device_code_hash = a.device_code_hash.clone();
    assert_conflict(
        store.insert_device_authorization(&same_device_code).await,
        "same device code",
    );
    assert_eq!(
        store
            .find_device_authorization("dv-a-uc", 999)
            .await
            .unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store
            .find_device_authorization("dv-a-uc", 1_000)
            .await
            .unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store.find_device_authorization("dv-x", 100).await.unwrap(),
        None
    );

    let g = grant("dv-g1", &client, None, FAR);
    let r = refresh("dv-r1", "dv-g1", FAR);
    let poll = |now: UnixTime, client: &str| {
        let (g, r, client) = (g.clone(), r.clone(), client.to_owned());
        async move {
            store
                .poll_device_authorization("dv-a-dc", &client, now, &g, Some(&r))
                .await
                .unwrap()
        }
    };
    assert_eq!(poll(100, &client).await, DevicePoll::Pending);
    assert_eq!(
        poll(101, &client).await,
        DevicePoll::SlowDown { interval: 10 }
    );
    assert_eq!(
        poll(110, &client).await,
        DevicePoll::SlowDown { interval: 15 },
        "the longer interval is remembered"
    );
    assert_eq!(poll(125, &client).await, DevicePoll::Pending);
    assert_eq!(poll(200, "dv-other").await, DevicePoll::OtherClient);
    let stored = store
        .find_device_authorization("dv-a-uc", 200)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.interval, stored.last_poll_at),
        (15, Some(125)),
        "another client's poll changed nothing"
    );
    assert_eq!(
        store
            .poll_device_authorization("dv-nope", &client, 200, &g, None)
            .await
            .unwrap(),
        DevicePoll::NotFound
    );

    // The decision: once, while pending and live.
    assert!(
        !store
            .decide_device_authorization("dv-a-uc", 1_000, &approve(&user_id, "tools:read"))
            .await
            .unwrap(),
        "expired"
    );
    assert!(
        store
            .decide_device_authorization("dv-a-uc", 200, &approve(&user_id, "tools:read"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .decide_device_authorization("dv-a-uc", 201, &DeviceDecision::Deny)
            .await
            .unwrap(),
        "decided already"
    );
    assert_eq!(poll(200, "dv-other").await, DevicePoll::OtherClient);
    assert_eq!(
        store.get_grant("dv-g1").await.unwrap(),
        None,
        "another client redeems nothing"
    );
    let expected = Grant {
        user_id: Some(user_id.clone()),
        scope: scopes("tools:read"),
        auth_time: Some(150),
        ..g.clone()
    };
    assert_eq!(
        poll(201, &client).await,
        DevicePoll::Redeemed(expected.clone()),
        "redeemed even within the interval once approved"
    );
    assert_eq!(store.get_grant("dv-g1").await.unwrap(), Some(expected));
    assert_eq!(
        store
            .get_refresh("dv-r1")
            .await
            .unwrap()
            .map(|(t, _)| t.grant_id),
        Some("dv-g1".into())
    );
    assert_eq!(poll(300, &client).await, DevicePoll::NotFound, "spent");
    assert_eq!(
        store
            .find_device_authorization("dv-a-uc", 300)
            .await
            .unwrap(),
        None
    );

    // Denied: reported once, then unknown.
    let d = device("dv-d", &client, 1_000);
    store.insert_device_authorization(&d).await.unwrap();
    assert!(
        store
            .decide_device_authorization("dv-d-uc", 100, &DeviceDecision::Deny)
            .await
            .unwrap()
    );
    let deny_poll = |now| async move {
        store
            .poll_device_authorization(
                "dv-d-dc",
                "dv-client",
                now,
                &grant("dv-g2", "dv-client", None, FAR),
                None,
            )
            .await
            .unwrap()
    };
    assert_eq!(deny_poll(100).await, DevicePoll::Denied);
    assert_eq!(deny_poll(200).await, DevicePoll::NotFound);
    assert_eq!(store.get_grant("dv-g2").await.unwrap(), None);

    // Expired: reported as such, nothing redeemed even if approved.
    let e = device("dv-e", &client, 1_000);
    store.insert_device_authorization(&e).await.unwrap();
    assert!(
        store
            .decide_device_authorization("dv-e-uc", 900, &approve(&user_id, "tools:read"))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .poll_device_authorization(
                "dv-e-dc",
                &client,
                1_000,
                &grant("dv-g3", &client, None, FAR),
                None
            )
            .await
            .unwrap(),
        DevicePoll::Expired
    );
    assert_eq!(store.get_grant("dv-g3").await.unwrap(), None);
    // The purge deletes it (this check runs just before `purge`, which clears up to its base).
    store.purge_expired(1_000).await.unwrap();
    assert_eq!(
        store
            .poll_device_authorization(
                "dv-e-dc",
                &client,
                999,
                &grant("dv-g3", &client, None, FAR),
                None
            )
            .await
            .unwrap(),
        DevicePoll::NotFound,
        "purged"
    );

    // An unknown approver is refused, as a foreign key would.
    let f = device("dv-f", &client, 1_000);
    store.insert_device_authorization(&f).await.unwrap();
    assert!(
        store
            .decide_device_authorization("dv-f-uc", 100, &approve("dv-ghost", "tools:read"))
            .await
            .is_err()
    );

    // Deleting the approving user, or the client, takes the authorizations with it.
    let (client2, user2) = parties(store, "dw").await;
    for ns in ["dw-a", "dw-b"] {
        store
            .insert_device_authorization(&device(ns, &client2, 1_000))
            .await
            .unwrap();
    }
    assert!(
        store
            .decide_device_authorization("dw-a-uc", 100, &approve(&user2, "tools:read"))
            .await
            .unwrap()
    );
    assert!(store.delete_user("dw-username").await.unwrap());
    assert_eq!(
        store
            .find_device_authorization("dw-a-uc", 100)
            .await
            .unwrap(),
        None,
        "approved by a deleted user"
    );
    assert!(
        store
            .find_device_authorization("dw-b-uc", 100)
            .await
            .unwrap()
            .is_some(),
        "still pending"
    );
    assert!(store.delete_client(&client2).await.unwrap());
    assert_eq!(
        store
            .find_device_authorization("dw-b-uc", 100)
            .await
            .unwrap(),
        None,
        "deleted with its client"
    );
}

/// 50 simultaneous polls of one approved device code: exactly one redeems, every other finds
/// it spent, and only the winner's grant exists.
pub async fn concurrent_device_polls<S: Store>(store: Arc<S>) {
    let (client, user_id) = parties(&*store, "cd").await;
    store
        .insert_device_authorization(&device("cd-a", &client, FAR))
        .await
        .unwrap();
    assert!(
        store
            .decide_device_authorization("cd-a-uc", 100, &approve(&user_id, "tools:read"))
            .await
            .unwrap()
    );
    let outcomes = race(&store, |s, i| {
        let client = client.clone();
        async move {
            let g = grant(&format!("cd-g{i}"), &client, None, FAR);
            let r = refresh(&format!("cd-r{i}"), &g.id, FAR);
            s.poll_device_authorization("cd-a-dc", &client, 200, &g, Some(&r))
                .await
        }
    })
    .await;
    let winners: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| matches!(o, Ok(DevicePoll::Redeemed(_))))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one redemption: {outcomes:?}");
    for (i, o) in outcomes.iter().enumerate() {
        if i != winners[0] {
            assert_eq!(o.as_ref().expect("no backend error"), &DevicePoll::NotFound);
            assert_eq!(store.get_grant(&format!("cd-g{i}")).await.unwrap(), None);
        }
    }
    assert!(
        store
            .get_grant(&format!("cd-g{}", winners[0]))
            .await
            .unwrap()
            .is_some()
    );
}
