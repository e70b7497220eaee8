//! Processes of the `mcp-oauth` binary, an in-process authorization server, and HTTP helpers.

#![allow(dead_code)]

use mcp_oauth_core::ScopeSet;
use mcp_oauth_core::clock::SystemClock;
use mcp_oauth_server::admin::{self, NewClient};
use mcp_oauth_server::keys::kek::Kek;
use mcp_oauth_server::store::Store;
use mcp_oauth_server::store::memory::MemoryStore;
use mcp_oauth_server::{AppState, AuthorizationServer, ServerConfig};
use reqwest::StatusCode;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

/// A running `mcp-oauth` process, killed (by its pid) on drop.
pub struct Proc {
    child: Child,
    /// `http://127.0.0.1:PORT`, from its first output line.
    pub base: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `mcp-oauth ARGS` and waits for the line `PREFIX http://…`.
pub fn spawn(args: &[&str], prefix: &str) -> Proc {
    spawn_with_env(args, &[], prefix)
}

/// Like [`spawn`], with `envs` set for the process.
pub fn spawn_with_env(args: &[&str], envs: &[(&str, &str)], prefix: &str) -> Proc {
    let mut child = Command::new(crate::bin::mcp_oauth())
        .args(args)
        .envs(envs.iter().copied())
        .env("MCP_OAUTH_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn mcp-oauth");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("mcp-oauth exited before printing its address")
            .unwrap();
        if let Some(rest) = line.strip_prefix(prefix) {
            break rest.trim().to_owned();
        }
    };
    // Keep draining the output so that the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Proc { child, base }
}

/// Runs a short `mcp-oauth` admin command with `--json` and returns its output.
pub fn admin(args: &[&str]) -> Value {
    let out = Command::new(crate::bin::mcp_oauth())
        .args(args)
        .arg("--json")
        .env("MCP_OAUTH_LOG", "warn")
        .output()
        .expect("run mcp-oauth");
    assert!(
        out.status.success(),
        "mcp-oauth {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An authorization server in this process, on 127.0.0.1:0, with the system clock (the guard
/// checks tokens against the real time).
pub struct TestAs {
    pub base: String,
    pub state: AppState,
    pub http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestAs {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub const M2M_SECRET_CLIENT: &str = "m2m";

impl TestAs {
    /// Registers `resources` (URI, scopes) and a confidential client `m2m` (client
    /// credentials, any scope); returns the server and the client's secret.
    pub async fn start(resources: &[(&str, &str)]) -> (Self, String) {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let mut config = ServerConfig::new(base.clone());
        config.dev = true;
        let config = config.validate().unwrap();
        let server = AuthorizationServer::new(
            config,
            store.clone(),
            Kek::generate().unwrap(),
            Arc::new(SystemClock),
        )
        .await
        .unwrap();
        let now = server.state().now();
        for (uri, scopes) in resources {
            let defs = scopes
                .split(' ')
                .map(|s| admin::parse_scope_def(s).unwrap())
                .collect();
            admin::add_resource(store.as_ref(), uri, "Test", defs, now)
                .await
                .unwrap();
        }
        let (_, secret) = admin::add_client(
            store.as_ref(),
            NewClient {
                name: "Machine".into(),
                grant_types: vec!["client_credentials".into()],
                client_id: Some(M2M_SECRET_CLIENT.into()),
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();
        let app = server
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let state = server.state().clone();
        (
            Self {
                base,
                state,
                http: reqwest::Client::new(),
                task,
            },
            secret.unwrap().expose().to_owned(),
        )
    }

    /// A client-credentials token of `m2m` for `resource` with `scope`.
    pub async fn token(&self, secret: &str, resource: &str, scope: &str) -> String {
        token(
            &self.http,
            &self.base,
            M2M_SECRET_CLIENT,
            secret,
            resource,
            scope,
        )
        .await
    }
}

/// A client-credentials token from the issuer at `base`.
pub async fn token(
    http: &reqwest::Client,
    base: &str,
    client_id: &str,
    secret: &str,
    resource: &str,
    scope: &str,
) -> String {
    let r = http
        .post(format!("{base}/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("resource", resource),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let granted = ScopeSet::parse(body["scope"].as_str().unwrap_or("")).unwrap();
    assert_eq!(granted, ScopeSet::parse(scope).unwrap(), "granted scope");
    body["access_token"].as_str().unwrap().to_owned()
}

/// One response; every response of the suite is checked: never a 500.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn challenge(&self) -> mcp_oauth_core::challenge::BearerChallenge {
        let h = self
            .headers
            .get("www-authenticate")
            .expect("a WWW-Authenticate header")
            .to_str()
            .unwrap();
        mcp_oauth_core::challenge::find_bearer([h]).expect("a Bearer challenge")
    }
}

pub async fn send(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "never a 500");
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
        text,
    }
}

/// A JSON-RPC POST as an MCP client sends it.
pub fn post(url: &str, token: Option<&str>, body: &Value) -> reqwest::RequestBuilder {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req
}

pub fn tool_call(id: u64, name: &str, args: Value) -> Value {
    serde_json::json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                       "params": {"name": name, "arguments": args}})
}

/// POSTs a request head declaring a `Content-Length` of `len` bytes (and only a few of them), and
/// returns the status code of the answer. A guard must refuse a too-large body from the header
/// alone, before reading it (a client sending the whole body could see its connection closed
/// first, so the test does not send it).
pub async fn post_declaring(url: &str, token: &str, len: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let u = url::Url::parse(url).unwrap();
    let authority = format!("{}:{}", u.host_str().unwrap(), u.port().unwrap());
    let mut s = tokio::net::TcpStream::connect(&authority).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         Content-Length: {len}\r\n\r\n{{\"jsonrpc\":",
        u.path()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        let k = s.read(&mut buf[n..]).await.unwrap();
        assert!(k > 0, "connection closed without a response");
        n += k;
    }
    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
    line[9..12].parse().unwrap()
}
