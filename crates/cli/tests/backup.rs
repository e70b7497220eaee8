//! `mcp-oauth backup FILE`: an online SQLite copy that restores as documented in
//! docs/deployment.md; PostgreSQL users are pointed to pg_dump.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod ops_support;

use ops_support::{Deployment, USER};
use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_serving_restores() {
    let live = tempfile::tempdir().unwrap();
    let dep = Deployment::new(live.path(), None);
    dep.seed();
    let server = dep.serve();
    let code = server.code().await.unwrap();
    let tokens = server.exchange(&code).await.unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    let out = tempfile::tempdir().unwrap();
    let copy = out.path().join("copy.db");
    let report = dep.admin(&["backup", copy.to_str().unwrap()], None);
    assert!(report["bytes"].as_u64().unwrap() > 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // Never overwrites.
    let again = Command::new(ops_support::BIN)
        .args(["--data-dir", live.path().to_str().unwrap(), "backup"])
        .arg(&copy)
        .env_remove("MCP_OAUTH_DATABASE")
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    server.kill();

    // Restore into a fresh data directory with the same KEK: the account, and the refresh token
    // issued before the backup, work there.
    let restored = tempfile::tempdir().unwrap();
    std::fs::copy(&copy, restored.path().join("mcp-oauth.db")).unwrap();
    let mut dep2 = Deployment::new(restored.path(), None);
    dep2.kek = dep.kek.clone();
    let users = dep2.admin(&["users", "list"], None);
    assert_eq!(users[0]["username"], USER);
    let server = dep2.serve();
    server.refresh(&refresh).await.unwrap();
    server.kill();
}

#[test]
fn postgres_users_are_pointed_to_pg_dump() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(ops_support::BIN)
        .args(["--data-dir", dir.path().to_str().unwrap()])
        .args([
            "--database",
            "postgres://u:secret@db.invalid/auth",
            "backup",
        ])
        .arg(dir.path().join("x.db"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pg_dump"), "{err}");
    assert!(!err.contains("secret"), "the password is masked: {err}");
    assert!(!dir.path().join("x.db").exists());
}
