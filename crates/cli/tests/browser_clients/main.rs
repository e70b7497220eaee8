//! The MCP clients people use, run for real against `mcp-oauth serve --dev --demo` (issue 11):
//! the MCP Inspector 2.12.0 and 1.0.3 ("Via Proxy" and "Direct") in headless Chromium, and the
//! `mcp-remote` 0.15.1 stdio bridge. Each signs in on our real login and consent pages, lists
//! the tools and calls `echo`, on the first try: no retries here.
//!
//! The clients are pinned in `interop/browser/package.json` (`npm ci --prefix interop/browser`);
//! the browser is Debian's `chromium`, driven over CDP by `interop/browser/drive.mjs`
//! (playwright-core, no browser download). Without them the tests print `SKIPPED`, unless
//! `MCP_OAUTH_REQUIRE_BROWSER_CLIENTS` is set (CI), when they fail.
//!
//! The scenarios take turns (one lock): each starts its own server, browser and client, and
//! running four browsers with their Node servers at once on a small machine only makes them
//! slower.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod mcp_remote;
mod support;

use serde_json::Value;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;
use support::*;

/// One scenario at a time.
static TURN: Mutex<()> = Mutex::new(());
/// The longest a driver may take for one client (page loads, sign-in, tools, echo).
const DRIVE_LIMIT: Duration = Duration::from_secs(60);

fn turn() -> std::sync::MutexGuard<'static, ()> {
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// What every Inspector scenario must show: the tools listed, the echo answered, no CORS error.
fn assert_driven(d: &support::Driven, demo: &Demo) {
    let r = &d.result;
    assert!(d.ok, "the client did not finish: {r}");
    let tools: Vec<&str> = r["tools"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(tools.contains(&"echo"), "tools listed: {r}");
    assert!(
        r["echo"]
            .as_str()
            .is_some_and(|e| e.contains("hello from the browser (echoed for")),
        "echo answer: {r}"
    );
    assert_eq!(
        r["cors"],
        Value::Array(vec![]),
        "CORS errors in the browser"
    );
    assert_eq!(demo.audit("login_succeeded").len(), 1, "one sign-in");
    let registered = demo.dcr_registrations();
    assert_eq!(registered.len(), 1, "a single registration: {registered:?}");
    assert!(
        !demo.audit("consent_given").is_empty(),
        "consent given on our page"
    );
}

/// MCP Inspector 2.12.0: its page sends every MCP and OAuth request through its own backend.
#[test]
fn inspector_2_12_connects_signs_in_lists_tools_and_calls_echo() {
    if !require() {
        return;
    }
    let _turn = turn();
    let demo = Demo::start();
    let state = tempfile::tempdir().unwrap();
    let (client, sandbox, app) = (free_port(), free_port(), free_port());
    let token = "inspector-api-token-for-this-test";
    let mut cmd = Command::new(node());
    cmd.arg(harness().join("node_modules/inspector-2/clients/launcher/build/index.js"))
        .args(["--web", "--transport", "http", "--server-url", &demo.mcp])
        .env("PATH", path_with_node())
        .env("HOME", state.path())
        .env("HOST", "127.0.0.1")
        .env("CLIENT_PORT", client.to_string())
        .env("MCP_SANDBOX_PORT", sandbox.to_string())
        .env("MCP_APP_ORIGIN_PORT", app.to_string())
        .env("MCP_INSPECTOR_API_TOKEN", token)
        .env("MCP_INSPECTOR_SECRET_STORE", "memory")
        .env("MCP_AUTO_OPEN_ENABLED", "false")
        .env("MCP_STORAGE_DIR", state.path().join("storage"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut inspector = Group::spawn("inspector 2.12.0", cmd);
    relay(inspector.take_stdout().unwrap(), "inspector");
    relay(inspector.take_stderr().unwrap(), "inspector");
    wait_port(client, "the Inspector", Duration::from_secs(30));
    let chrome = Chromium::start();
    let page = format!("http://127.0.0.1:{client}/?MCP_INSPECTOR_API_TOKEN={token}");
    let d = drive(
        &["inspector2"],
        &chrome,
        &[
            ("ISSUER", &demo.base),
            ("MCP_URL", &demo.mcp),
            ("INSPECTOR_URL", &page),
        ],
        DRIVE_LIMIT,
    );
    assert_driven(&d, &demo);
}

/// MCP Inspector 1.0.3 in one of its connection types ("Via Proxy", "Direct").
fn inspector_1(scenario: &str) {
    if !require() {
        return;
    }
    let _turn = turn();
    let demo = Demo::start();
    let home = tempfile::tempdir().unwrap();
    let (client, proxy) = (free_port(), free_port());
    let token = "inspector-proxy-token-for-this-test";
    let mut cmd = Command::new(node());
    cmd.arg(harness().join("node_modules/inspector-1/cli/build/cli.js"))
        .env("PATH", path_with_node())
        .env("HOME", home.path())
        .env("HOST", "127.0.0.1")
        .env("CLIENT_PORT", client.to_string())
        .env("SERVER_PORT", proxy.to_string())
        .env("MCP_PROXY_AUTH_TOKEN", token)
        .env("ALLOWED_ORIGINS", format!("http://127.0.0.1:{client}"))
        .env("MCP_AUTO_OPEN_ENABLED", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut inspector = Group::spawn("inspector 1.0.3", cmd);
    relay(inspector.take_stdout().unwrap(), "inspector");
    relay(inspector.take_stderr().unwrap(), "inspector");
    wait_port(proxy, "the Inspector's proxy", Duration::from_secs(30));
    wait_port(client, "the Inspector", Duration::from_secs(30));
    let chrome = Chromium::start();
    let query = serde_urlencoded::to_string([
        ("transport", "streamable-http"),
        ("serverUrl", demo.mcp.as_str()),
        (
            "MCP_PROXY_FULL_ADDRESS",
            &format!("http://127.0.0.1:{proxy}"),
        ),
        ("MCP_PROXY_AUTH_TOKEN", token),
    ])
    .unwrap();
    let page = format!("http://127.0.0.1:{client}/?{query}");
    let d = drive(
        &[scenario],
        &chrome,
        &[
            ("ISSUER", &demo.base),
            ("MCP_URL", &demo.mcp),
            ("INSPECTOR_URL", &page),
        ],
        DRIVE_LIMIT,
    );
    assert_driven(&d, &demo);
}

#[test]
fn inspector_1_0_via_proxy_connects_signs_in_lists_tools_and_calls_echo() {
    inspector_1("inspector1-proxy");
}

#[test]
fn inspector_1_0_direct_connects_signs_in_lists_tools_and_calls_echo() {
    inspector_1("inspector1-direct");
}
