//! The store contract and SQLite-specific checks.

use super::SqliteStore;
use crate::store::AssertionStore;
use crate::store::contract;
use crate::store::{ClientStore, GrantStore};
use std::sync::Arc;

async fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("auth.db"))
        .await
        .unwrap();
    (dir, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_passes_the_contract() {
    let (_dir, store) = fresh().await;
    contract::run_all(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_is_atomic_under_concurrency() {
    let (_dir, store) = fresh().await;
    contract::run_concurrency(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_use_the_documented_settings() {
    let (_dir, store) = fresh().await;
    let mut conn = store.pool().acquire().await.unwrap();
    let pragma = |name: &'static str| sqlx::query_scalar::<_, String>(name);
    assert_eq!(
        pragma("PRAGMA journal_mode")
            .fetch_one(&mut *conn)
            .await
            .unwrap(),
        "wal"
    );
    let int = |name: &'static str| sqlx::query_scalar::<_, i64>(name);
    // NORMAL is 1.
    assert_eq!(
        int("PRAGMA synchronous")
            .fetch_one(&mut *conn)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        int("PRAGMA foreign_keys")
            .fetch_one(&mut *conn)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        int("PRAGMA busy_timeout")
            .fetch_one(&mut *conn)
            .await
            .unwrap(),
        5_000
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (dir, store) = fresh().await;
    // Write something so that the WAL file exists too.
    store
        .insert_client(&contract::bare_client("perm", 1))
        .await
        .unwrap();
    let mode = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("auth.db"), 0o600);
    assert_eq!(mode("auth.db-wal"), 0o600);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.db");
    let client = contract::full_client("persisted", 42);
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store.insert_client(&client).await.unwrap();
        store
            .revoke_access_token("jti-persisted", 99)
            .await
            .unwrap();
        store.pool().close().await;
    }
    // Reopening runs the migrations again, which must be a no-op.
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.get_client("persisted").await.unwrap(), Some(client));
    assert!(
        store
            .is_access_token_revoked("jti-persisted")
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_used_assertion_stays_used_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.db");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        assert!(store.use_jti("c", "j", 200, 100).await.unwrap());
        store.pool().close().await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert!(
        !store.use_jti("c", "j", 200, 150).await.unwrap(),
        "replay after restart"
    );
}

/// A family `{ns}-g` with its first refresh token `{ns}-0`.
async fn chain(store: &SqliteStore, ns: &str) {
    let g = crate::model::Grant {
        id: format!("{ns}-g"),
        client_id: "chain-client".into(),
        user_id: None,
        resource: "https://mcp.example/mcp".into(),
        scope: mcp_oauth_core::ScopeSet::parse("tools:read").unwrap(),
        auth_time: None,
        created_at: 10,
        expires_at: i64::MAX / 2,
        revoked_at: None,
    };
    store.insert_grant(&g, Some(&link(ns, 0))).await.unwrap();
}

fn link(ns: &str, i: u32) -> crate::model::RefreshToken {
    crate::model::RefreshToken {
        token_hash: format!("{ns}-{i}"),
        grant_id: format!("{ns}-g"),
        created_at: 10,
        expires_at: i64::MAX / 2,
        rotated_at: None,
        successor_hash: None,
    }
}

/// Rotates `{ns}-0` → `{ns}-1` → … `steps` times; every step must rotate.
async fn rotate_chain(store: Arc<SqliteStore>, ns: String, steps: u32) {
    for i in 0..steps {
        let outcome = store
            .rotate_refresh(&format!("{ns}-{i}"), &link(&ns, i + 1), 100, 0)
            .await
            .unwrap();
        assert!(
            matches!(outcome, crate::model::RotateOutcome::Rotated(_)),
            "{ns} step {i}: {outcome:?}"
        );
    }
}

/// Many chains rotating side by side in this process (the write gate queues their transactions)
/// and in a second store on the same file (another process, such as an admin command: its
/// transactions meet this one's through SQLite's lock and busy timeout): every rotation of every
/// chain commits, and each chain ends at its last successor, unrotated, with every earlier
/// token spent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chains_rotate_side_by_side_in_one_process_and_beside_another() {
    let (dir, store) = fresh().await;
    let other = Arc::new(
        SqliteStore::open(&dir.path().join("auth.db"))
            .await
            .unwrap(),
    );
    let store = Arc::new(store);
    const CHAINS: u32 = 24;
    const STEPS: u32 = 8;
    for c in 0..CHAINS {
        chain(&store, &format!("c{c}")).await;
    }
    let mut tasks = Vec::new();
    for c in 0..CHAINS {
        let s = if c % 4 == 0 {
            other.clone()
        } else {
            store.clone()
        };
        tasks.push(tokio::spawn(rotate_chain(s, format!("c{c}"), STEPS)));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for c in 0..CHAINS {
        let ns = format!("c{c}");
        let (last, _) = store
            .get_refresh(&format!("{ns}-{STEPS}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(last.rotated_at, None, "{ns}: the last successor is live");
        let (first, _) = store
            .get_refresh(&format!("{ns}-0"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            first.successor_hash.as_deref(),
            Some(format!("{ns}-1").as_str())
        );
    }
}
