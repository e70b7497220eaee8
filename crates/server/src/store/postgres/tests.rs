//! The store contract and PostgreSQL-specific checks, each on a database of its own.

use super::PostgresStore;
use super::test_db::TestDatabase;
use crate::model::{AuthorizationCode, Grant, RedeemOutcome, RefreshToken, RotateOutcome};
use crate::store::contract;
use crate::store::{ClientStore, CodeStore, GrantStore};
use mcp_oauth_core::ScopeSet;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_passes_the_contract() {
    let Some(db) = TestDatabase::create("postgres_store_passes_the_contract").await else {
        return;
    };
    let store = PostgresStore::connect(db.url()).await.unwrap();
    contract::run_all(&store).await;
    store.pool().close().await;
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_is_atomic_under_concurrency() {
    let Some(db) = TestDatabase::create("postgres_store_is_atomic_under_concurrency").await else {
        return;
    };
    let store = PostgresStore::connect(db.url()).await.unwrap();
    contract::run_concurrency(Arc::new(store.clone())).await;
    store.pool().close().await;
    db.drop_now().await;
}

/// Two stores (two pools, as two server processes have) on one database: concurrent
/// redemptions and rotations spread over both still give exactly one success.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_store_is_atomic_across_pools() {
    let Some(db) = TestDatabase::create("postgres_store_is_atomic_across_pools").await else {
        return;
    };
    let a = Arc::new(PostgresStore::connect(db.url()).await.unwrap());
    let b = Arc::new(PostgresStore::connect(db.url()).await.unwrap());
    let pick = |i: usize| {
        if i.is_multiple_of(2) {
            a.clone()
        } else {
            b.clone()
        }
    };

    let code = AuthorizationCode {
        code_hash: "x-code".into(),
        client_id: "x-client".into(),
        redirect_uri: "http://127.0.0.1/cb".into(),
        code_challenge: "c".into(),
        resource: "https://r.example".into(),
        scope: ScopeSet::parse("a").unwrap(),
        user_id: "x-user".into(),
        auth_time: 1,
        created_at: 1,
        expires_at: 4_000_000_000,
    };
    a.insert_code(&code).await.unwrap();
    let grant = |id: String| Grant {
        id,
        client_id: "x-client".into(),
        user_id: Some("x-user".into()),
        resource: "https://r.example".into(),
        scope: ScopeSet::parse("a").unwrap(),
        auth_time: Some(1),
        created_at: 1,
        expires_at: 4_000_000_000,
        revoked_at: None,
    };
    let refresh = |hash: String, grant_id: &str| RefreshToken {
        token_hash: hash,
        grant_id: grant_id.to_owned(),
        created_at: 1,
        expires_at: 4_000_000_000,
        rotated_at: None,
        successor_hash: None,
    };
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let s = pick(i);
            let g = grant(format!("x-g{i}"));
            let r = refresh(format!("x-r{i}"), &g.id);
            tokio::spawn(async move { s.redeem_code("x-code", 10, &g, Some(&r)).await })
        })
        .collect();
    let mut redeemed = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            RedeemOutcome::Redeemed(_) => redeemed += 1,
            RedeemOutcome::Replayed { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(redeemed, 1);

    contract::account(a.as_ref(), "x-user").await;
    let family = grant("x-fam".into());
    a.insert_grant(&family, Some(&refresh("x-fam-r0".into(), "x-fam")))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let s = pick(i);
            let next = refresh(format!("x-fam-s{i}"), "x-fam");
            tokio::spawn(async move { s.rotate_refresh("x-fam-r0", &next, 10, 0).await })
        })
        .collect();
    let mut rotated = 0;
    for t in tasks {
        match t.await.unwrap().unwrap() {
            RotateOutcome::Rotated(_) => rotated += 1,
            RotateOutcome::Reused { .. } | RotateOutcome::Invalid => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(rotated, 1);
    assert!(
        b.get_grant("x-fam")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    a.pool().close().await;
    b.pool().close().await;
    db.drop_now().await;
}

/// Instances starting together all migrate without error, and the schema is there once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_starts_migrate_once() {
    let Some(db) = TestDatabase::create("concurrent_starts_migrate_once").await else {
        return;
    };
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let url = db.url().to_owned();
            tokio::spawn(async move { PostgresStore::connect(&url).await })
        })
        .collect();
    let mut stores = Vec::new();
    for s in starts {
        stores.push(s.await.unwrap().expect("every instance starts"));
    }
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(stores[0].pool())
        .await
        .unwrap();
    assert_eq!(applied as usize, super::MIGRATOR.iter().count());
    // Reconnecting is a no-op, and data written before is there.
    stores[0]
        .insert_client(&contract::full_client("pg-persisted", 1))
        .await
        .unwrap();
    stores[1].revoke_access_token("pg-jti", 99).await.unwrap();
    for s in &stores {
        s.pool().close().await;
    }
    let again = PostgresStore::connect(db.url()).await.unwrap();
    assert_eq!(
        again.get_client("pg-persisted").await.unwrap(),
        Some(contract::full_client("pg-persisted", 1))
    );
    assert!(again.is_access_token_revoked("pg-jti").await.unwrap());
    again.pool().close().await;
    db.drop_now().await;
}

#[tokio::test]
async fn a_bad_url_is_a_clear_error() {
    let e = PostgresStore::connect("postgres://[::1").await.unwrap_err();
    assert!(e.to_string().contains("invalid database URL"), "{e}");
}

/// Lists sort text in byte order, as SQLite does, whatever the database's own collation: every
/// text column is `COLLATE "C"`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_sorts_in_byte_order_as_on_sqlite() {
    use crate::model::User;
    use crate::store::UserStore;
    let Some(db) = TestDatabase::create("text_sorts_in_byte_order_as_on_sqlite").await else {
        return;
    };
    let pg = PostgresStore::connect(db.url()).await.unwrap();
    let not_c: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' \
         AND data_type = 'text' AND table_name <> '_sqlx_migrations' \
         AND collation_name IS DISTINCT FROM 'C'",
    )
    .fetch_one(pg.pool())
    .await
    .unwrap();
    assert_eq!(not_c, 0, "every text column is COLLATE \"C\"");

    let dir = tempfile::tempdir().unwrap();
    let lite = crate::store::sqlite::SqliteStore::open(&dir.path().join("order.db"))
        .await
        .unwrap();
    let names = ["Zed", "alice", "\u{c9}mile", "bob", "_under", "Alice"];
    for (i, name) in names.iter().enumerate() {
        let u = User {
            id: format!("u{i}"),
            username: (*name).to_owned(),
            password_hash: "h".into(),
            created_at: 1,
            roles: Vec::new(),
            disabled_at: None,
        };
        pg.insert_user(&u).await.unwrap();
        lite.insert_user(&u).await.unwrap();
    }
    let mut bytewise: Vec<&str> = names.to_vec();
    bytewise.sort_unstable();
    let listed = |v: Vec<User>| v.into_iter().map(|u| u.username).collect::<Vec<_>>();
    assert_eq!(listed(pg.list_users().await.unwrap()), bytewise);
    assert_eq!(listed(lite.list_users().await.unwrap()), bytewise);
    pg.pool().close().await;
    db.drop_now().await;
}
