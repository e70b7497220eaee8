//! Issue 12 item 7: live MCP sessions are bounded per client address, in `guard` and in
//! `serve --demo`. The N+1-th session from one address is refused (`429`, `Retry-After`, a
//! JSON-RPC error), another address still gets one, and closing a session frees its slot.

use crate::hostile::{Hostile, POLICY};
use crate::support::*;
use reqwest::StatusCode;
use serde_json::json;
use std::net::IpAddr;

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
}

fn initialize() -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}})
}

fn open(http: &reqwest::Client, url: &str, token: &str) -> reqwest::RequestBuilder {
    http.post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(initialize().to_string())
}

fn close(http: &reqwest::Client, url: &str, token: &str, session: &str) -> reqwest::RequestBuilder {
    http.delete(url)
        .bearer_auth(token)
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", "2025-11-25")
}

/// Opens `n` sessions from `http` and returns their ids.
async fn open_sessions(http: &reqwest::Client, url: &str, token: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let r = send(open(http, url, token)).await;
        assert_eq!(r.status, StatusCode::OK, "session {i}: {}", r.text);
        ids.push(r.headers["mcp-session-id"].to_str().unwrap().to_owned());
    }
    ids
}

fn assert_too_many(r: &Reply) {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1, "{retry}");
    assert_eq!(r.body["jsonrpc"], "2.0");
    assert_eq!(r.body["error"]["code"], -32600);
    assert!(r.body.get("id").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guard_bounds_live_sessions_per_client_address() {
    let h = Hostile::start(POLICY, &["--max-sessions-per-client", "2"]).await;
    let token = h.token("files:read").await;
    let one = client_from("127.0.0.1");
    let ids = open_sessions(&one, &h.mcp, &token, 2).await;
    let before = h.rec.count();
    let r = send(open(&one, &h.mcp, &token)).await;
    assert_too_many(&r);
    assert_eq!(
        h.rec.count(),
        before,
        "the refused request never reached the upstream"
    );

    // A request within an existing session still works.
    let r = send(
        post(
            &h.mcp,
            Some(&token),
            &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        )
        .header("mcp-session-id", &ids[0]),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);

    // Another address has its own budget.
    let two = client_from("127.0.0.2");
    open_sessions(&two, &h.mcp, &token, 2).await;
    assert_too_many(&send(open(&two, &h.mcp, &token)).await);

    // Closing a session frees its slot.
    let r = send(close(&one, &h.mcp, &token, &ids[0])).await;
    assert_eq!(r.status, StatusCode::OK);
    open_sessions(&one, &h.mcp, &token, 1).await;
    assert_too_many(&send(open(&one, &h.mcp, &token)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_bounds_live_sessions_per_client_address() {
    const LIMIT: usize = 64;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let secret = admin(&[
        "clients",
        "add",
        "--data-dir",
        d,
        "--name",
        "bot",
        "--grant",
        "client_credentials",
        "--client-id",
        "bot",
        "--scope",
        "mcp:tools",
    ])["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let demo = spawn(
        &["serve", "--demo", "--addr", "127.0.0.1:0", "--data-dir", d],
        "mcp-oauth listening on",
    );
    let mcp = format!("{}/mcp", demo.base);
    let token = token(
        &reqwest::Client::new(),
        &demo.base,
        "bot",
        &secret,
        &mcp,
        "mcp:tools",
    )
    .await;
    let one = client_from("127.0.0.1");
    let ids = open_sessions(&one, &mcp, &token, LIMIT).await;
    assert_too_many(&send(open(&one, &mcp, &token)).await);
    let two = client_from("127.0.0.2");
    open_sessions(&two, &mcp, &token, 1).await;
    // rmcp closes the session on DELETE and the slot is free again.
    let r = send(close(&one, &mcp, &token, &ids[0])).await;
    assert!(r.status.is_success(), "{} {}", r.status, r.text);
    open_sessions(&one, &mcp, &token, 1).await;
    assert_too_many(&send(open(&one, &mcp, &token)).await);
}
