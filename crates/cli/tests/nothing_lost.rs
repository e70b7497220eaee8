//! Nothing lost: tokens are issued and refreshed under load against a `serve` process, which is
//! killed with SIGKILL mid-load and restarted on the same data. Every refresh token whose
//! response arrived must still work (unused, or rotated by a request whose response was lost and
//! so retried within the grace window), and no half-written change may remain — on SQLite and
//! on PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod ops_support;

use mcp_oauth_server::store::postgres::PostgresStore;
use mcp_oauth_server::store::postgres::test_db::TestDatabase;
use mcp_oauth_server::store::sqlite::SqliteStore;
use ops_support::{Deployment, Instance};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Refresh chains refreshed in a loop while the server is killed.
const CHAINS: usize = 6;
/// Tasks that run whole authorization flows (new grants) meanwhile.
const FLOWS: usize = 2;
/// Refreshes to see before the kill.
const REFRESHES_BEFORE_KILL: usize = 150;
/// Upper bound of each loop.
const MAX_ITERATIONS: usize = 2_000;

/// What the load saw.
#[derive(Default)]
struct Seen {
    /// The newest refresh token received per chain (grant).
    latest: Mutex<Vec<String>>,
    refreshes: AtomicUsize,
    new_grants: AtomicUsize,
    /// Error responses (as opposed to lost connections) before the kill.
    failures: Mutex<Vec<String>>,
}

/// Invariants on the stored rows (portable SQL: the same on SQLite and PostgreSQL), each a
/// count that must be zero.
const INVARIANTS: [(&str, &str); 6] = [
    (
        "grant without a refresh token",
        "SELECT count(*) FROM grants g WHERE NOT EXISTS \
         (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = g.id)",
    ),
    (
        "used code without its grant",
        "SELECT count(*) FROM authorization_codes c WHERE c.used_at IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM grants g WHERE g.id = c.grant_id)",
    ),
    (
        "rotated token without its successor",
        "SELECT count(*) FROM refresh_tokens r WHERE r.successor_hash IS NOT NULL AND NOT EXISTS \
         (SELECT 1 FROM refresh_tokens s WHERE s.token_hash = r.successor_hash)",
    ),
    (
        "rotation half recorded",
        "SELECT count(*) FROM refresh_tokens WHERE \
         (rotated_at IS NULL AND successor_hash IS NOT NULL) \
         OR (rotated_at IS NOT NULL AND successor_hash IS NULL)",
    ),
    (
        "family with two live tokens",
        "SELECT count(*) FROM (SELECT grant_id FROM refresh_tokens WHERE rotated_at IS NULL \
         GROUP BY grant_id HAVING count(*) > 1) AS x",
    ),
    (
        "revoked family (nothing was reused)",
        "SELECT count(*) FROM grants WHERE revoked_at IS NOT NULL",
    ),
];

async fn run(label: &str, dep: Deployment, check: impl AsyncFnOnce(&str) -> Vec<String>) {
    let secret = dep.seed();
    let server = Arc::new(dep.serve());
    let seen = Arc::new(Seen::default());
    for _ in 0..CHAINS {
        let code = server.code().await.unwrap();
        let t = server.exchange(&code).await.unwrap();
        seen.latest
            .lock()
            .unwrap()
            .push(t["refresh_token"].as_str().unwrap().to_owned());
    }
    let killed = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for chain in 0..CHAINS {
        let (server, seen, killed) = (server.clone(), seen.clone(), killed.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..MAX_ITERATIONS {
                let current = seen.latest.lock().unwrap()[chain].clone();
                match server.refresh(&current).await {
                    Ok(t) => {
                        seen.latest.lock().unwrap()[chain] =
                            t["refresh_token"].as_str().unwrap().to_owned();
                        seen.refreshes.fetch_add(1, Ordering::SeqCst);
                    }
                    Err((0, _)) => break,
                    Err((status, body)) => {
                        if !killed.load(Ordering::SeqCst) {
                            seen.failures
                                .lock()
                                .unwrap()
                                .push(format!("refresh: {status} {body}"));
                        }
                        break;
                    }
                }
            }
        }));
    }
    for _ in 0..FLOWS {
        let (server, seen, killed) = (server.clone(), seen.clone(), killed.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..MAX_ITERATIONS {
                let Ok(code) = server.code().await else { break };
                match server.exchange(&code).await {
                    Ok(t) => {
                        seen.latest
                            .lock()
                            .unwrap()
                            .push(t["refresh_token"].as_str().unwrap().to_owned());
                        seen.new_grants.fetch_add(1, Ordering::SeqCst);
                    }
                    Err((0, _)) => break,
                    Err((status, body)) => {
                        if !killed.load(Ordering::SeqCst) {
                            seen.failures
                                .lock()
                                .unwrap()
                                .push(format!("exchange: {status} {body}"));
                        }
                        break;
                    }
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.refreshes.load(Ordering::SeqCst) < REFRESHES_BEFORE_KILL && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    killed.store(true, Ordering::SeqCst);
    server.sigkill();
    for t in tasks {
        t.await.unwrap();
    }
    drop(server);
    let failures = seen.failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "errors under load: {failures:?}");
    let refreshes = seen.refreshes.load(Ordering::SeqCst);
    let new_grants = seen.new_grants.load(Ordering::SeqCst);
    assert!(
        refreshes >= REFRESHES_BEFORE_KILL,
        "only {refreshes} refreshes in time"
    );

    // Restart on the same data.
    let server = dep.serve();
    let broken = check(label).await;
    assert!(
        broken.is_empty(),
        "half-written state after SIGKILL: {broken:?}"
    );
    let latest = seen.latest.lock().unwrap().clone();
    let (mut unused, mut in_grace) = (0, 0);
    for (i, rt) in latest.iter().enumerate() {
        let active = server.introspect(&secret, rt).await["active"] == true;
        let next = refresh_after_restart(&server, rt)
            .await
            .unwrap_or_else(|e| panic!("chain {i}: received refresh token unusable: {e:?}"));
        if active {
            unused += 1;
        } else {
            in_grace += 1;
        }
        assert_eq!(server.introspect(&secret, &next).await["active"], true);
    }
    let _ = writeln!(
        std::io::stderr(),
        "nothing lost ({label}): {refreshes} refreshes and {new_grants} new grants answered before \
         SIGKILL; {} refresh tokens checked after restart: {unused} unused, {in_grace} rotated by a \
         lost response and retried within grace; {} invariants hold",
        latest.len(),
        INVARIANTS.len()
    );
    assert_eq!(unused + in_grace, CHAINS + new_grants);
    server.kill();
}

/// Refreshes after the restart: a token rotated by a request whose response was lost gets the
/// same successor again (grace), an unused one rotates.
async fn refresh_after_restart(server: &Instance, rt: &str) -> Result<String, (u16, String)> {
    let t = server.refresh(rt).await?;
    Ok(t["refresh_token"].as_str().unwrap().to_owned())
}

/// Counts rows breaking each invariant; the names of those broken.
macro_rules! broken_invariants {
    ($pool:expr) => {{
        let mut broken = Vec::new();
        for (name, sql) in INVARIANTS {
            let n: i64 = sqlx::query_scalar(sql).fetch_one($pool).await.unwrap();
            if n != 0 {
                broken.push(format!("{name}: {n}"));
            }
        }
        broken
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_nothing_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let mut dep = Deployment::new(dir.path(), None);
    dep.envs = vec![("MCP_OAUTH_REFRESH_GRACE".into(), "300".into())];
    let db_path = dir.path().join("mcp-oauth.db");
    run("SQLite", dep, async |_| {
        let store = SqliteStore::open(&db_path).await.unwrap();
        let mut broken = broken_invariants!(store.pool());
        let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(store.pool())
            .await
            .unwrap();
        if integrity != "ok" {
            broken.push(format!("integrity_check: {integrity}"));
        }
        store.pool().close().await;
        broken
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_nothing_on_postgres() {
    let Some(db) = TestDatabase::create("sigkill_under_load_loses_nothing_on_postgres").await
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut dep = Deployment::new(dir.path(), Some(db.url().to_owned()));
    dep.envs = vec![("MCP_OAUTH_REFRESH_GRACE".into(), "300".into())];
    let url = db.url().to_owned();
    run("PostgreSQL", dep, async |_| {
        let store = PostgresStore::connect(&url).await.unwrap();
        let broken = broken_invariants!(store.pool());
        store.pool().close().await;
        broken
    })
    .await;
    db.drop_now().await;
}
