//! `mcp-oauth audit`: administrator actions appear in the trail, filtered by kind and time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-oauth");

fn cli(data: &Path, args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .arg("--json")
        .args(args)
        .env_remove("MCP_OAUTH_DATABASE")
        .env_remove("MCP_OAUTH_KEK")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{args:?}: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap()
}

#[test]
fn admin_actions_are_listed_by_kind_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let added = cli(
        data,
        &[
            "clients",
            "add",
            "--name",
            "Audited",
            "--grant",
            "client_credentials",
        ],
    );
    let id = added["client_id"].as_str().unwrap().to_owned();
    let secret = added["client_secret"].as_str().unwrap().to_owned();
    cli(data, &["clients", "remove", &id]);
    let all = cli(data, &["audit"]);
    let events = all.as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["client_removed", "client_registered"],
        "newest first"
    );
    assert!(events.iter().all(|e| e["client_id"] == id.as_str()));
    assert_eq!(events[1]["detail"]["origin"], "admin");
    assert!(!all.to_string().contains(&secret), "no secret");
    let removed = cli(
        data,
        &["audit", "--kind", "client_removed", "--since", "1h"],
    );
    assert_eq!(removed.as_array().unwrap().len(), 1);
    let future = cli(data, &["audit", "--since", "2999-01-01T00:00:00Z"]);
    assert_eq!(future.as_array().unwrap().len(), 0);
    let one = cli(data, &["audit", "--limit", "1"]);
    assert_eq!(one.as_array().unwrap().len(), 1);
    let bad = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(["audit", "--kind", "nope"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("login_failed"));
}
