//! `KeychainStore` against a real Secret Service: a private `dbus-daemon` and
//! `gnome-keyring-daemon` started by the test, their files in a temporary directory.
//!
//! The store finds the bus through `DBUS_SESSION_BUS_ADDRESS`, which a test cannot set in its
//! own process (`set_var` is unsafe, and this workspace forbids unsafe code; it would also race
//! with other tests). So the scenarios run in child processes: this test binary run again as
//! `<binary> <scenario> --exact --ignored`, with the private bus's address in its environment and
//! [`CHILD`] set. A scenario started any other way (`cargo test -- --ignored`) returns at once and
//! never touches the user's real keyring.
#![cfg(feature = "keychain")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/secret_service.rs"]
mod secret_service;

use mcp_oauth_client::store::{
    CredentialStore, KeychainStore, StoredRegistration, StoredToken, TokenKey,
};
use mcp_oauth_core::secret::Secret;
use secret_service::SecretService;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Set (to the lock directory) in the environment of a scenario's child process.
const CHILD: &str = "MCP_OAUTH_KEYCHAIN_TEST_LOCK_DIR";
/// The keychain service name the scenarios use.
const SERVICE: &str = "mcp-oauth-test";
/// How long a scenario process may run.
const SCENARIO_WAIT: Duration = Duration::from_secs(90);

/// The whole story, each step in a process of its own: round trips and two instances in one
/// process; the same contents read by another process; read again after the keyring daemon was
/// killed and started again on the same files; a locked keyring; a bus without a Secret Service;
/// no bus at all; a keyring daemon that answers nothing. The last four must fail with a clear error in bounded time.
#[test]
fn keychain_store_on_a_private_secret_service() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut ss) = SecretService::start_bus(dir.path()) else {
        return;
    };
    let locks = dir.path().join("locks");
    ss.start_keyring(true);
    scenario(
        &ss,
        &ss.address,
        &locks,
        "scenario_round_trips_and_two_instances",
    );
    scenario(&ss, &ss.address, &locks, "scenario_read_back");

    // Persistence: the same data directory, a new daemon process, unlocked with the password.
    ss.stop_keyring();
    ss.start_keyring(true);
    scenario(&ss, &ss.address, &locks, "scenario_read_back");

    // A keyring that keeps its bus name but never answers: the call is given up, the process ends.
    ss.signal_keyring(false);
    scenario(
        &ss,
        &ss.address,
        &locks,
        "scenario_unresponsive_keyring_times_out",
    );
    ss.signal_keyring(true);
    scenario(&ss, &ss.address, &locks, "scenario_read_back");

    // The same files, but nobody types the password: the login keyring stays locked.
    ss.stop_keyring();
    ss.start_keyring(false);
    scenario(&ss, &ss.address, &locks, "scenario_locked_fails_clearly");

    ss.stop_keyring();
    scenario(
        &ss,
        &ss.address,
        &locks,
        "scenario_no_secret_service_fails_clearly",
    );
    let nobody = format!("unix:path={}", dir.path().join("no-bus-here").display());
    scenario(
        &ss,
        &nobody,
        &locks,
        "scenario_no_secret_service_fails_clearly",
    );

    ss.start_keyring(true);
    scenario(&ss, &ss.address, &locks, "scenario_read_back");
}

/// Runs one scenario in a child process on the bus at `address`; fails with its output unless
/// it ran and passed within [`SCENARIO_WAIT`].
fn scenario(ss: &SecretService, address: &str, locks: &Path, name: &str) {
    let started = Instant::now();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            name,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("DBUS_SESSION_BUS_ADDRESS", address)
        .env(CHILD, locks)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > SCENARIO_WAIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} still running after {SCENARIO_WAIT:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "{name} failed:\n{stdout}\n{stderr}\nkeyring log:\n{}",
        ss.keyring_log()
    );
    // The scenario's own report: what it printed after its name.
    let report: Vec<_> = stdout
        .lines()
        .filter_map(|l| l.split_once(&format!("test {name} ... ")).map(|(_, r)| r))
        .collect();
    println!(
        "{name} passed in {} ms: {}",
        started.elapsed().as_millis(),
        report.join(" ").trim()
    );
}

/// The store a scenario uses, `None` when not started by [`scenario`].
fn child_store() -> Option<KeychainStore> {
    let locks = std::env::var_os(CHILD)?;
    Some(
        KeychainStore::new(locks)
            .with_service(SERVICE)
            .with_timeout(Duration::from_secs(10)),
    )
}

fn key(n: u32, server: &str) -> TokenKey {
    TokenKey {
        issuer: "https://as.example".into(),
        resource: server.into(),
        client_id: format!("client-{n}"),
        grant: None,
    }
}

fn token(n: u32, server: &str, generation: u32) -> StoredToken {
    StoredToken {
        server_url: server.into(),
        token_endpoint: "https://as.example/token".into(),
        access_token: Secret::new(format!("at-{n}-{generation}-very-secret")),
        refresh_token: (n % 2 == 1).then(|| Secret::new(format!("rt-{n}-very-secret"))),
        expires_at: Some(2_000_000_000 + i64::from(n)),
        scope: Some("mcp:tools".into()),
        obtained_at: 1_700_000_000,
        auth_method: None,
        dpop_key: n
            .is_multiple_of(3)
            .then(|| Secret::new(format!("dpop-{n}-very-secret"))),
    }
}

fn registration(issuer: &str, client_id: &str) -> StoredRegistration {
    StoredRegistration {
        issuer: issuer.into(),
        client_id: client_id.into(),
        client_secret: Some(Secret::new(format!("{client_id}-very-secret"))),
        token_endpoint_auth_method: "client_secret_basic".into(),
        client_secret_expires_at: None,
        redirect_uris: vec!["http://127.0.0.1/callback".into()],
    }
}

const ONE: &str = "https://one.example/mcp";
const TWO: &str = "https://two.example/mcp";

/// What [`scenario_round_trips_and_two_instances`] leaves behind.
fn expected_tokens() -> Vec<(TokenKey, StoredToken)> {
    let mut v = vec![
        (key(1, ONE), token(1, ONE, 2)),
        (key(2, ONE), token(2, ONE, 1)),
        (key(3, TWO), token(3, TWO, 1)),
    ];
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[tokio::test]
#[ignore = "a child process of keychain_store_on_a_private_secret_service"]
async fn scenario_round_trips_and_two_instances() {
    let Some(a) = child_store() else { return };
    let b = child_store().unwrap();
    assert!(!format!("{a:?}").contains("very-secret"));

    // Empty to begin with.
    assert!(a.all_tokens().await.unwrap().is_empty());
    assert!(a.all_registrations().await.unwrap().is_empty());
    assert_eq!(a.get_token(&key(1, ONE)).await.unwrap(), None);

    // Tokens: put, get, replace.
    a.put_token(&key(1, ONE), &token(1, ONE, 1)).await.unwrap();
    a.put_token(&key(2, ONE), &token(2, ONE, 1)).await.unwrap();
    a.put_token(&key(3, TWO), &token(3, TWO, 1)).await.unwrap();
    assert_eq!(
        a.get_token(&key(1, ONE)).await.unwrap(),
        Some(token(1, ONE, 1))
    );
    a.put_token(&key(1, ONE), &token(1, ONE, 2)).await.unwrap();
    assert_eq!(
        a.get_token(&key(1, ONE)).await.unwrap(),
        Some(token(1, ONE, 2))
    );

    // Enumeration.
    assert_eq!(a.all_tokens().await.unwrap(), expected_tokens());
    let one = a.tokens_for_server(ONE).await.unwrap();
    assert_eq!(
        one.iter()
            .map(|(k, _)| k.client_id.as_str())
            .collect::<Vec<_>>(),
        ["client-1", "client-2"]
    );
    assert_eq!(a.tokens_for_server(TWO).await.unwrap().len(), 1);
    assert!(
        a.tokens_for_server("https://none.example/mcp")
            .await
            .unwrap()
            .is_empty()
    );

    // Registrations: put, get, remove only with the right client id.
    a.put_registration(&registration("https://as.example", "reg-1"))
        .await
        .unwrap();
    a.put_registration(&registration("https://other.example", "reg-2"))
        .await
        .unwrap();
    assert_eq!(
        a.get_registration("https://as.example").await.unwrap(),
        Some(registration("https://as.example", "reg-1"))
    );
    assert_eq!(a.all_registrations().await.unwrap().len(), 2);
    a.remove_registration("https://other.example", "someone-else")
        .await
        .unwrap();
    assert!(
        a.get_registration("https://other.example")
            .await
            .unwrap()
            .is_some()
    );
    a.remove_registration("https://other.example", "reg-2")
        .await
        .unwrap();
    assert_eq!(
        a.get_registration("https://other.example").await.unwrap(),
        None
    );

    // A second instance sees the first one's writes, and the other way round.
    assert_eq!(b.all_tokens().await.unwrap(), expected_tokens());
    b.put_token(&key(9, TWO), &token(9, TWO, 1)).await.unwrap();
    assert_eq!(
        a.get_token(&key(9, TWO)).await.unwrap(),
        Some(token(9, TWO, 1))
    );
    assert_eq!(a.tokens_for_server(TWO).await.unwrap().len(), 2);
    a.remove_token(&key(9, TWO)).await.unwrap();
    assert_eq!(b.get_token(&key(9, TWO)).await.unwrap(), None);
    assert_eq!(b.all_tokens().await.unwrap(), expected_tokens());
    a.remove_token(&key(9, TWO)).await.unwrap(); // removing what is gone is fine

    // Concurrent writers through the two instances lose none of each other's index updates.
    let writes = (10..20).map(|n| {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        async move { store.put_token(&key(n, TWO), &token(n, TWO, 1)).await }
    });
    for r in join_all(writes).await {
        r.unwrap();
    }
    assert_eq!(a.tokens_for_server(TWO).await.unwrap().len(), 11);
    for n in 10..20 {
        b.remove_token(&key(n, TWO)).await.unwrap();
    }
    assert_eq!(a.all_tokens().await.unwrap(), expected_tokens());

    // The refresh lock is exclusive across instances.
    let held = a.lock(&key(1, ONE)).await.unwrap();
    let waiting = tokio::time::timeout(Duration::from_millis(300), b.lock(&key(1, ONE))).await;
    assert!(waiting.is_err(), "the lock must be exclusive");
    drop(held);
    drop(b.lock(&key(1, ONE)).await.unwrap());
    println!("  round trips, enumeration, two instances, concurrent writers: ok");
}

/// Joins futures on the current task (the test depends on no futures crate).
async fn join_all<F: std::future::Future + Send + 'static>(
    futs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
#[ignore = "a child process of keychain_store_on_a_private_secret_service"]
async fn scenario_read_back() {
    let Some(store) = child_store() else { return };
    assert_eq!(store.all_tokens().await.unwrap(), expected_tokens());
    assert_eq!(
        store.all_registrations().await.unwrap(),
        [registration("https://as.example", "reg-1")]
    );
    assert_eq!(
        store.get_token(&key(3, TWO)).await.unwrap(),
        Some(token(3, TWO, 1))
    );
    println!(
        "  {} tokens and 1 registration read back",
        expected_tokens().len()
    );
}

#[tokio::test]
#[ignore = "a child process of keychain_store_on_a_private_secret_service"]
async fn scenario_locked_fails_clearly() {
    let Some(store) = child_store() else { return };
    let start = Instant::now();
    let err = store.all_tokens().await.unwrap_err().to_string();
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert!(
        err.contains("locked") || err.contains("no answer from the keychain"),
        "{err}"
    );
    assert!(!err.contains("very-secret"), "{err}");
    println!(
        "  locked keyring: {err} ({} ms)",
        start.elapsed().as_millis()
    );
}

#[tokio::test]
#[ignore = "a child process of keychain_store_on_a_private_secret_service"]
async fn scenario_no_secret_service_fails_clearly() {
    let Some(store) = child_store() else { return };
    let start = Instant::now();
    let err = store.get_token(&key(1, ONE)).await.unwrap_err().to_string();
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert!(
        err.contains("no Secret Service on the session bus"),
        "{err}"
    );
    assert!(err.contains("--store file"), "{err}");
    let err = store
        .put_token(&key(1, ONE), &token(1, ONE, 3))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no Secret Service"), "{err}");
    println!(
        "  no Secret Service: {err} ({} ms)",
        start.elapsed().as_millis()
    );
}

#[tokio::test]
#[ignore = "a child process of keychain_store_on_a_private_secret_service"]
async fn scenario_unresponsive_keyring_times_out() {
    let Some(store) = child_store() else { return };
    let store = store.with_timeout(Duration::from_secs(2));
    let start = Instant::now();
    let err = store.all_tokens().await.unwrap_err().to_string();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "{took:?}"
    );
    assert!(
        err.contains("no answer from the keychain within 2 s"),
        "{err}"
    );
    println!("  unresponsive keyring: {err} ({} ms)", took.as_millis());
}
