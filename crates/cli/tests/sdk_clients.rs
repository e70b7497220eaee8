#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The official MCP SDKs' own OAuth clients against `mcp-oauth serve --demo`: the TypeScript SDK
//! (`@modelcontextprotocol/sdk` 1.x, `StreamableHTTPClientTransport` with an `authProvider`) and
//! the Python SDK (`mcp`, its `OAuthClientProvider`), from `interop/sdk/`.
//!
//! Each client runs as a child process with its own deadline; the test is its user's browser:
//! when the client prints `AUTHORIZE <url>`, the test signs in on the server's real login and
//! consent pages (a cookie-keeping HTTP client that reads the CSRF token from the form, as a
//! browser submits it) and follows the final redirect to the client's loopback listener. The
//! client then lists the tools and calls `echo`. Asserted: one sign-in, ONE dynamic registration
//! (as stored by the server), tokens for the least scope the challenge named, and both calls
//! answered. No retries anywhere: the first request the client makes must be the one that is
//! challenged.
//!
//! The harnesses are installed by `.ci/run` (`npm ci --prefix interop/sdk`, a venv in
//! `interop/sdk/.venv`). Without them the tests print `SKIPPED`; with
//! `MCP_OAUTH_REQUIRE_SDK_CLIENTS` set (CI) they fail instead.

#[path = "common/pages.rs"]
mod pages;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_mcp-oauth");
/// How long one client may take from start to result (it has its own, shorter, deadline).
const DEADLINE: Duration = Duration::from_secs(90);

fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/sdk")
}

/// Skips (loudly) or, when CI requires the SDK clients, fails.
fn missing(what: &str) -> Option<Command> {
    if std::env::var_os("MCP_OAUTH_REQUIRE_SDK_CLIENTS").is_some() {
        panic!("{what} (MCP_OAUTH_REQUIRE_SDK_CLIENTS is set; .ci/run installs it)");
    }
    eprintln!(
        "SKIPPED: {what}; install with `npm ci --prefix interop/sdk` and `python3 -m venv interop/sdk/.venv && interop/sdk/.venv/bin/pip install -r interop/sdk/requirements.txt`"
    );
    None
}

/// `node interop/sdk/ts-client.mjs`, when Node and the pinned SDK are installed.
fn typescript_client() -> Option<Command> {
    let dir = sdk_dir();
    if !dir
        .join("node_modules/@modelcontextprotocol/sdk/package.json")
        .exists()
    {
        return missing("the TypeScript SDK is not installed in interop/sdk/node_modules");
    }
    let node_ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_ok {
        return missing("node is not on PATH");
    }
    let mut c = Command::new("node");
    c.arg(dir.join("ts-client.mjs")).current_dir(&dir);
    Some(c)
}

/// `interop/sdk/.venv/bin/python interop/sdk/py_client.py`, when the venv holds the pinned SDK.
fn python_client() -> Option<Command> {
    let dir = sdk_dir();
    let python = dir.join(".venv/bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import mcp.client.auth"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        return missing("the Python SDK is not installed in interop/sdk/.venv");
    }
    let mut c = Command::new(python);
    c.arg(dir.join("py_client.py")).current_dir(&dir);
    Some(c)
}

/// A child process, killed by its pid on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `serve --demo` on 127.0.0.1:0 in a fresh data directory.
struct Demo {
    _proc: Killed,
    base: String,
    dir: tempfile::TempDir,
}

impl Demo {
    fn start() -> Demo {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--demo", "--addr", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env("MCP_OAUTH_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn mcp-oauth");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let proc = Killed(child);
        let base = loop {
            let line = lines
                .next()
                .expect("mcp-oauth exited before printing its address")
                .unwrap();
            if let Some(rest) = line.strip_prefix("mcp-oauth listening on") {
                break rest.trim().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Demo {
            _proc: proc,
            base,
            dir,
        }
    }

    fn mcp(&self) -> String {
        format!("{}/mcp", self.base)
    }

    /// The clients the server registered by DCR, as `clients list` shows them.
    fn dcr_clients(&self) -> Vec<Value> {
        let out = Command::new(BIN)
            .args(["clients", "list", "--json", "--data-dir"])
            .arg(self.dir.path())
            .env("MCP_OAUTH_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let all: Value = serde_json::from_slice(&out.stdout).unwrap();
        all.as_array()
            .unwrap()
            .iter()
            .filter(|c| c["origin"] == "dcr")
            .cloned()
            .collect()
    }
}

/// The user's browser: opens `authorization_url`, signs in as demo/demo, approves, and follows
/// the final redirect to the client's listener. Returns that redirect's URL.
async fn sign_in(authorization_url: &str) -> String {
    let location = pages::sign_in(authorization_url, "demo", "demo").await;
    assert!(
        location.starts_with("http://127.0.0.1:") && location.contains("code="),
        "{location}"
    );
    let landed = pages::browser().get(&location).send().await.unwrap();
    assert_eq!(landed.status(), 200, "the client's listener took the code");
    location
}

/// Runs one client against the demo's MCP endpoint, acting as its browser; returns its `RESULT`
/// and how many times it sent the user to sign in.
async fn run_client(mut cmd: Command, mcp_url: &str) -> (Value, usize) {
    let mut child = cmd
        .arg(mcp_url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the SDK client");
    let stdout = child.stdout.take().unwrap();
    let _child = Killed(child);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut sign_ins = 0;
    let result = tokio::time::timeout(DEADLINE, async {
        while let Some(line) = rx.recv().await {
            if let Some(url) = line.strip_prefix("AUTHORIZE ") {
                sign_ins += 1;
                sign_in(url).await;
            } else if let Some(json) = line.strip_prefix("RESULT ") {
                return serde_json::from_str::<Value>(json).unwrap();
            } else if let Some(why) = line.strip_prefix("FAILED ") {
                panic!("the client failed: {why}");
            } else {
                eprintln!("client: {line}");
            }
        }
        panic!("the client exited without a result");
    })
    .await
    .expect("the client did not finish within the deadline");
    (result, sign_ins)
}

/// What every SDK client must have done.
fn assert_connected_once(demo: &Demo, result: &Value, sign_ins: usize, sdk: &str) {
    assert_eq!(sign_ins, 1, "{sdk}: one sign-in");
    assert_eq!(
        result["registrations"], 1,
        "{sdk}: the client saved one registration"
    );
    let dcr = demo.dcr_clients();
    assert_eq!(
        dcr.len(),
        1,
        "{sdk}: ONE registration at the server: {dcr:?}"
    );
    let tools: Vec<&str> = result["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(tools.contains(&"echo"), "{sdk}: tools/list: {tools:?}");
    assert_eq!(result["isError"], false, "{sdk}: {result}");
    let echo = result["echo"].as_str().unwrap_or_default();
    assert!(
        echo.starts_with(&format!("hello from the {sdk}")) && echo.contains("echoed for"),
        "{sdk}: echo answered for the signed-in user: {echo}"
    );
    let scope = result["scope"].as_str().unwrap_or_default();
    assert!(
        !scope.split(' ').any(|s| s == "mcp:admin"),
        "{sdk}: asked for the least scope the challenge named, not everything: {scope}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_sdk_client_signs_in_once_and_calls_a_tool() {
    let Some(cmd) = typescript_client() else {
        return;
    };
    let demo = Demo::start();
    let (result, sign_ins) = run_client(cmd, &demo.mcp()).await;
    assert_connected_once(&demo, &result, sign_ins, "TypeScript SDK");
    assert_eq!(result["authorizations"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_client_signs_in_once_and_calls_a_tool() {
    let Some(cmd) = python_client() else {
        return;
    };
    let demo = Demo::start();
    let (result, sign_ins) = run_client(cmd, &demo.mcp()).await;
    assert_connected_once(&demo, &result, sign_ins, "Python SDK");
    assert_eq!(result["authorizations"], 1);
}

/// rmcp's own client over our OAuth transport: the prompt is the user's browser.
#[derive(Debug, Default)]
struct BrowserPrompt {
    sign_ins: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl mcp_oauth_client::prompt::AuthorizationPrompt for BrowserPrompt {
    async fn authorize(
        &self,
        request: &mcp_oauth_client::prompt::PromptRequest,
        listener: mcp_oauth_client::callback::LoopbackListener,
    ) -> mcp_oauth_client::Result<mcp_oauth_core::form::OAuthParams> {
        self.sign_ins
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (params, _) = tokio::join!(
            listener.wait(request.timeout),
            sign_in(&request.authorization_url)
        );
        params
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_client_over_our_transport_signs_in_once_and_calls_a_tool() {
    use mcp_oauth_client::transport::OAuthHttpClient;
    use mcp_oauth_client::{ClientConfig, MemoryStore, TokenManager};
    use rmcp::ServiceExt;
    use rmcp::model::CallToolRequestParams;
    use std::sync::Arc;

    let demo = Demo::start();
    let prompt = Arc::new(BrowserPrompt::default());
    let manager = Arc::new(
        TokenManager::builder(
            ClientConfig::new()
                .allow_insecure_http(true)
                .callback_timeout(Duration::from_secs(30)),
        )
        .store(Arc::new(MemoryStore::new()))
        .prompt(prompt.clone())
        .build()
        .unwrap(),
    );
    let transport = OAuthHttpClient::new(manager, demo.mcp())
        .unwrap()
        .into_transport();
    let client = tokio::time::timeout(DEADLINE, ().serve(transport))
        .await
        .expect("connected within the deadline")
        .unwrap();
    let tools = client.list_all_tools().await.unwrap();
    let mut args = serde_json::Map::new();
    args.insert("message".into(), "hello from the rmcp client".into());
    let echo = client
        .call_tool(CallToolRequestParams::new("echo").with_arguments(args))
        .await
        .unwrap();
    let text = echo
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default();
    let _ = client.cancel().await;
    let result = serde_json::json!({
        "tools": tools.iter().map(|t| t.name.to_string()).collect::<Vec<_>>(),
        "echo": text,
        "isError": echo.is_error.unwrap_or(false),
        "registrations": demo.dcr_clients().len(),
    });
    let sign_ins = prompt.sign_ins.load(std::sync::atomic::Ordering::SeqCst);
    assert_connected_once(&demo, &result, sign_ins, "rmcp client");
}
