//! Two `mcp-oauth serve` processes on one PostgreSQL database with a shared KEK, as behind a
//! load balancer: whatever one instance issues, the other honours.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod ops_support;

use mcp_oauth_server::store::postgres::test_db::TestDatabase;
use ops_support::{Deployment, kid_of};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgres_database_act_as_one() {
    let Some(db) = TestDatabase::create("two_instances_on_one_postgres_database_act_as_one").await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut dep = Deployment::new(dir.path(), Some(db.url().to_owned()));
    dep.envs = vec![
        ("MCP_OAUTH_REFRESH_GRACE".into(), "0".into()),
        ("MCP_OAUTH_KEY_RELOAD_INTERVAL".into(), "1".into()),
    ];
    let secret = dep.seed();
    let a = dep.serve();
    let b = dep.serve();
    assert_ne!(a.base, b.base);

    // The key A created at its start is B's too.
    let first_kids = a.kids().await;
    assert_eq!(first_kids.len(), 1);
    assert_eq!(b.kids().await, first_kids);

    // A code issued through A is redeemed at B.
    let code = a.code().await.unwrap();
    let t0 = b.exchange(&code).await.unwrap();
    let rt0 = t0["refresh_token"].as_str().unwrap().to_owned();
    // ... and its replay at A is refused (and revokes what B issued).
    assert_eq!(a.exchange(&code).await.unwrap_err().0, 400);
    assert_eq!(
        b.introspect(&secret, t0["access_token"].as_str().unwrap())
            .await["active"],
        false
    );
    assert_eq!(a.introspect(&secret, &rt0).await["active"], false);

    // A refresh at B follows one at A, and so on.
    let code = a.code().await.unwrap();
    let t = a.exchange(&code).await.unwrap();
    let mut rt = t["refresh_token"].as_str().unwrap().to_owned();
    for (i, inst) in [&a, &b, &a, &b].into_iter().enumerate() {
        let next = inst
            .refresh(&rt)
            .await
            .unwrap_or_else(|e| panic!("refresh {i}: {e:?}"));
        let old = rt;
        rt = next["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(old, rt);
        let other = if i.is_multiple_of(2) { &b } else { &a };
        assert_eq!(other.introspect(&secret, &rt).await["active"], true);
        assert_eq!(other.introspect(&secret, &old).await["active"], false);
    }

    // A revocation at A shows at B: an access token alone, then a whole family.
    let code = b.code().await.unwrap();
    let t = b.exchange(&code).await.unwrap();
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(b.introspect(&secret, at).await["active"], true);
    a.revoke(at).await;
    assert_eq!(b.introspect(&secret, at).await["active"], false);
    let family_rt = t["refresh_token"].as_str().unwrap();
    let fresh = b.refresh(family_rt).await.unwrap();
    let fresh_at = fresh["access_token"].as_str().unwrap();
    let fresh_rt = fresh["refresh_token"].as_str().unwrap();
    assert_eq!(b.introspect(&secret, fresh_at).await["active"], true);
    a.revoke(fresh_rt).await;
    assert_eq!(b.introspect(&secret, fresh_rt).await["active"], false);
    assert_eq!(b.introspect(&secret, fresh_at).await["active"], false);
    assert_eq!(b.refresh(fresh_rt).await.unwrap_err().0, 400);

    // A key rotation on the shared database (`keys rotate`, signing at once) is published by
    // both instances within the reload interval, and B accepts tokens A signs with it.
    let rotated = dep.admin(&["keys", "rotate", "--prepublish", "0"], None);
    let new_kid = rotated["kid"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (ka, kb) = (a.kids().await, b.kids().await);
        if ka.contains(&new_kid) && kb.contains(&new_kid) {
            assert!(kb.contains(&first_kids[0]), "the old key stays published");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "new key {new_kid} not published: A {ka:?}, B {kb:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let t = a.refresh(&rt).await.unwrap();
    rt = t["refresh_token"].as_str().unwrap().to_owned();
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(kid_of(at), new_kid, "A signs with the new key");
    assert_eq!(b.introspect(&secret, at).await["active"], true);

    // Concurrent refreshes of one token across A and B (no grace): exactly one succeeds.
    let attempts: Vec<_> = (0..12usize)
        .map(|i| {
            let inst = if i.is_multiple_of(2) { &a } else { &b };
            inst.refresh(&rt)
        })
        .collect();
    let results = futures::future::join_all(attempts).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 1, "exactly one concurrent refresh wins: {results:?}");
    for r in &results {
        if let Err((status, body)) = r {
            assert_eq!(*status, 400, "{body}");
            assert!(body.contains("invalid_grant"), "{body}");
        }
    }

    a.kill();
    b.kill();
    db.drop_now().await;
}
