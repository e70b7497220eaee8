//! `mcp-remote` 0.15.1, the stdio bridge of desktop clients: it signs in once (its browser step
//! is `interop/browser/browser-step.sh` in headless Chromium), registers once, and answers
//! `initialize`, `tools/list` and `tools/call` on its stdin/stdout.

use crate::support::*;
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The whole scenario: start, sign in, three requests.
const LIMIT: Duration = Duration::from_secs(60);

/// Reads JSON-RPC messages from the bridge's stdout until the response with `id`.
fn response(lines: &mpsc::Receiver<String>, id: u64, until: Instant) -> Value {
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("no response {id} from mcp-remote within the limit: {e}"));
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if msg["id"] == json!(id) {
            return msg;
        }
    }
}

/// Kills, on drop, every browser step recorded in the pid file (`open` detaches them from the
/// bridge's process group), also when the test fails early.
struct BrowserSteps(std::path::PathBuf);

impl Drop for BrowserSteps {
    fn drop(&mut self) {
        let pids = std::fs::read_to_string(&self.0).unwrap_or_default();
        for pid in pids.lines() {
            let _ = Command::new("kill")
                .args(["-KILL", pid.trim()])
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[test]
fn mcp_remote_signs_in_once_registers_once_and_lists_tools_over_stdio() {
    if !require() {
        return;
    }
    let _turn = crate::turn();
    let demo = Demo::start();
    let chrome = Chromium::start();
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("browser-step.pids");
    let step_log = dir.path().join("browser-step.log");
    let steps = BrowserSteps(pids.clone());
    let callback = free_port();
    let mut cmd = Command::new(node());
    cmd.arg(harness().join("node_modules/mcp-remote/dist/proxy.js"))
        .arg(&demo.mcp)
        .arg(callback.to_string())
        .arg("--debug")
        .env("PATH", path_with_node())
        .env("HOME", dir.path())
        .env("MCP_REMOTE_CONFIG_DIR", dir.path().join("mcp-auth"))
        // How `open` reaches our browser step: the bundled xdg-open runs `$BROWSER URL`.
        .env("XDG_CURRENT_DESKTOP", "X-Generic")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("BROWSER", harness().join("browser-step.sh"))
        .env("BROWSER_STEP_NODE", node())
        .env("BROWSER_STEP_PIDS", &pids)
        .env("BROWSER_STEP_LOG", &step_log)
        .env("CDP_URL", &chrome.cdp)
        .env("ISSUER", &demo.base)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut bridge = Group::spawn("mcp-remote", cmd);
    let lines = relay(bridge.take_stdout().unwrap(), "mcp-remote stdout");
    relay(bridge.take_stderr().unwrap(), "mcp-remote");
    let mut stdin = bridge.take_stdin().unwrap();
    let mut send = |msg: Value| {
        writeln!(stdin, "{msg}").unwrap();
        stdin.flush().unwrap();
    };
    let until = Instant::now() + LIMIT;

    send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "mcp-oauth browser_clients test", "version": "1"}}}),
    );
    let init = response(&lines, 1, until);
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}));
    let list = response(&lines, 2, until);
    send(
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
        "name": "echo", "arguments": {"message": "hello over stdio"}}}),
    );
    let echo = response(&lines, 3, until);

    let step_pids = std::fs::read_to_string(&pids).unwrap_or_default();
    let step_out = std::fs::read_to_string(&step_log).unwrap_or_default();
    eprintln!("[browser step]\n{step_out}");
    // Stop the bridge's group, then any browser step still running.
    drop(bridge);
    drop(steps);

    assert!(
        init["result"]["serverInfo"].is_object(),
        "initialize: {init}"
    );
    let tools: Vec<&str> = list["result"]["tools"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    assert!(tools.contains(&"echo"), "tools/list: {list}");
    let text = echo["result"]["content"][0]["text"].as_str().unwrap_or("");
    assert!(
        text.starts_with("hello over stdio (echoed for"),
        "tools/call echo: {echo}"
    );
    assert_eq!(step_pids.lines().count(), 1, "one browser sign-in");
    assert!(
        step_out.contains("/oauth/callback"),
        "the browser step landed on the callback"
    );
    let registered = demo.dcr_registrations();
    assert_eq!(registered.len(), 1, "a single registration: {registered:?}");
    assert_eq!(demo.audit("login_succeeded").len(), 1, "a single sign-in");
}
