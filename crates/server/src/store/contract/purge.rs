//! The purge of expired records across the aggregates.

use super::*;

/// Purging: exact counts at the expiry boundaries, survivors intact.
pub async fn purge<S: Store>(store: &S) {
    let t = PURGE_BASE;
    // Clear whatever the other checks left behind that expires before the base.
    store.purge_expired(t).await.unwrap();
    store.purge_sessions(t).await.unwrap();
    account(store, "pg-user").await;

    store
        .insert_code(&code("pg-code-10", "pg-client", "pg-user", t + 10))
        .await
        .unwrap();
    store
        .insert_code(&code("pg-code-50", "pg-client", "pg-user", t + 50))
        .await
        .unwrap();
    // A used code that produced a grant which is purged before the code is.
    store
        .insert_code(&code("pg-code-used", "pg-client", "pg-user", t + 50))
        .await
        .unwrap();
    let g_short = grant("pg-short", "pg-client", Some("pg-user"), t + 20);
    store
        .redeem_code(
            "pg-code-used",
            t,
            &g_short,
            Some(&refresh("pg-short-r1", "pg-short", t + 90)),
        )
        .await
        .unwrap();
    store
        .rotate_refresh(
            "pg-short-r1",
            &refresh("pg-short-r2", "pg-short", t + 90),
            t,
            0,
        )
        .await
        .unwrap();
    let g_long = grant("pg-long", "pg-client", Some("pg-user"), t + 100);
    store
        .insert_grant(&g_long, Some(&refresh("pg-long-r10", "pg-long", t + 10)))
        .await
        .unwrap();
    store
        .rotate_refresh(
            "pg-long-r10",
            &refresh("pg-long-r90", "pg-long", t + 90),
            t,
            0,
        )
        .await
        .unwrap();
    store
        .revoke_access_token("pg-jti-10", t + 10)
        .await
        .unwrap();
    store
        .revoke_access_token("pg-jti-50", t + 50)
        .await
        .unwrap();
    // A second revocation with an earlier expiry does not shorten the first.
    store.revoke_access_token("pg-jti-50", t + 5).await.unwrap();

    assert_eq!(store.purge_expired(t + 9).await.unwrap(), 0);
    // code-10, long-r10, jti-10.
    assert_eq!(store.purge_expired(t + 10).await.unwrap(), 3);
    assert!(!store.is_access_token_revoked("pg-jti-10").await.unwrap());
    assert!(store.is_access_token_revoked("pg-jti-50").await.unwrap());
    assert_eq!(store.get_refresh("pg-long-r10").await.unwrap(), None);
    assert!(store.get_refresh("pg-long-r90").await.unwrap().is_some());
    // The short grant and its two refresh tokens.
    assert_eq!(store.purge_expired(t + 20).await.unwrap(), 3);
    assert_eq!(store.get_grant("pg-short").await.unwrap(), None);
    assert_eq!(store.get_refresh("pg-short-r2").await.unwrap(), None);
    assert!(store.get_grant("pg-long").await.unwrap().is_some());
    // The used code outlived its grant: a replay now has nothing to revoke.
    let probe = grant("pg-probe", "pg-client", Some("pg-user"), FAR);
    assert_eq!(
        store
            .redeem_code("pg-code-used", t + 20, &probe, None)
            .await
            .unwrap(),
        RedeemOutcome::Replayed {
            revoked_grant: None
        }
    );
    // code-50, code-used, jti-50.
    assert_eq!(store.purge_expired(t + 50).await.unwrap(), 3);
    assert!(!store.is_access_token_revoked("pg-jti-50").await.unwrap());
    assert_eq!(
        store
            .redeem_code("pg-code-50", t, &probe, None)
            .await
            .unwrap(),
        RedeemOutcome::NotFound
    );
    // long-r90, then the long grant.
    assert_eq!(store.purge_expired(t + 90).await.unwrap(), 1);
    assert_eq!(store.purge_expired(t + 100).await.unwrap(), 1);
    assert_eq!(store.get_grant("pg-long").await.unwrap(), None);
    assert_eq!(store.purge_expired(t + 1_000).await.unwrap(), 0);

    // Sessions.
    for (id, exp) in [("pg-s10", t + 10), ("pg-s11", t + 11), ("pg-s50", t + 50)] {
        store
            .insert_session(&Session {
                id_hash: id.into(),
                user_id: None,
                csrf_token: "t".into(),
                auth_time: None,
                created_at: t,
                expires_at: exp,
            })
            .await
            .unwrap();
    }
    assert_eq!(store.purge_sessions(t + 9).await.unwrap(), 0);
    assert_eq!(store.purge_sessions(t + 11).await.unwrap(), 2);
    assert!(store.get_session("pg-s50", t + 11).await.unwrap().is_some());
}
