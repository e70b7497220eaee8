//! The MCP scope policy over HTTP: per-tool scopes, batches, public handshake, body limit,
//! bodies it cannot read, CORS preflights.

use crate::support::*;
use axum::http::StatusCode;
use mcp_oauth_resource::{JwtVerifier, RequireBearerLayer, ScopePolicy};
use serde_json::json;
use std::sync::Arc;

fn policy() -> ScopePolicy {
    ScopePolicy::new()
        .default_scopes("mcp")
        .tool("read_file", "files:read")
        .tool("write_file", "files:write")
        .resource("file:///home/*", "files:read")
        .public_handshake()
}

async fn setup(max_body: Option<usize>) -> (Issuer, Guarded) {
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let g = guarded(|resource| {
        let v = JwtVerifier::builder(issuer.url.clone(), resource)
            .insecure_allow_http(true)
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
        let mut b = RequireBearerLayer::builder(resource, v).policy(policy());
        if let Some(limit) = max_body {
            b = b.max_body_bytes(limit);
        }
        b.build().unwrap()
    })
    .await;
    (issuer, g)
}

#[tokio::test]
async fn insufficient_scope_gets_403_with_step_up_scopes() {
    let (issuer, g) = setup(None).await;
    // Holds mcp and files:read (relevant) plus an unrelated scope and offline_access.
    let token = issuer.token(&g.resource, "mcp files:read other:api offline_access");
    let r = rpc(&g.base, Some(&token), &tool_call(1, "read_file")).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = rpc(&g.base, Some(&token), &tool_call(1, "write_file")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let c = r.challenge();
    assert_eq!(c.error.as_deref(), Some("insufficient_scope"));
    assert_eq!(c.scope.as_deref(), Some("files:read files:write mcp"));
    assert_eq!(
        c.resource_metadata.as_deref(),
        Some(format!("{}/.well-known/oauth-protected-resource/mcp", g.base).as_str())
    );
    assert_eq!(r.body["error"], "insufficient_scope");
    assert_eq!(r.body["scope"], "files:read files:write mcp");
}

#[tokio::test]
async fn no_token_challenge_names_the_tool_scope() {
    let (_issuer, g) = setup(None).await;
    let r = rpc(&g.base, None, &tool_call(1, "write_file")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let c = r.challenge();
    assert_eq!(c.error, None);
    assert_eq!(c.scope.as_deref(), Some("files:write"));
}

#[tokio::test]
async fn batches_need_the_union() {
    let (issuer, g) = setup(None).await;
    let reader = issuer.token(&g.resource, "files:read");
    let batch = json!([tool_call(1, "read_file"), tool_call(2, "read_file"),
        {"jsonrpc": "2.0", "method": "notifications/initialized"}]);
    let r = rpc(&g.base, Some(&reader), &batch).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["body"], serde_json::to_string(&batch).unwrap());

    let mixed = json!([tool_call(1, "read_file"), tool_call(2, "write_file")]);
    let r = rpc(&g.base, Some(&reader), &mixed).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.challenge().scope.as_deref(),
        Some("files:read files:write")
    );

    let both = issuer.token(&g.resource, "files:read files:write");
    assert_eq!(
        rpc(&g.base, Some(&both), &mixed).await.status,
        StatusCode::OK
    );

    let r = rpc(&g.base, None, &mixed).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.challenge().scope.as_deref(),
        Some("files:read files:write")
    );
}

#[tokio::test]
async fn handshake_can_be_public() {
    let (issuer, g) = setup(None).await;
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    let r = rpc(&g.base, None, &init).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["subject"], serde_json::Value::Null);
    let r = rpc(
        &g.base,
        None,
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // A public method with a bad token is still refused: the client must learn its token is bad.
    let r = rpc(&g.base, Some("garbage"), &init).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // With a good token the principal is there.
    let r = rpc(&g.base, Some(&issuer.token(&g.resource, "")), &init).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["subject"], "alice");
    // A batch mixing public and protected messages is protected.
    let r = rpc(&g.base, None, &json!([init, tools_list()])).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.challenge().scope.as_deref(), Some("mcp"));
}

#[tokio::test]
async fn bodies_the_policy_cannot_read_are_refused_with_or_without_a_token() {
    let (issuer, g) = setup(None).await;
    let client = reqwest::Client::new();
    let url = format!("{}/mcp", g.base);
    let token = issuer.token(&g.resource, "mcp");
    let post = |ctype: Option<&str>, body: &'static str| {
        let mut r = client.post(&url).body(body);
        if let Some(t) = ctype {
            r = r.header("content-type", t);
        }
        r
    };
    for (t, auth) in [(None, false), (Some(token.as_str()), true)] {
        let cases = [
            (post(Some("application/json"), "{oops"), 400),
            (post(Some("application/json"), "\u{feff}{}"), 400),
            (
                post(
                    Some("application/json"),
                    r#"{"method":"tools/call","params":{"name":"read_file","name":"write_file"}}"#,
                ),
                400,
            ),
            (post(Some("text/plain"), "{}"), 415),
            (post(None, "{}"), 415),
            (post(Some("application/json; charset=latin1"), "{}"), 415),
            (
                post(Some("application/json"), "{}").header("content-encoding", "br"),
                415,
            ),
            (client.put(&url).body("{}"), 405),
            (client.get(&url).body("{}"), 400),
        ];
        for (i, (req, status)) in cases.into_iter().enumerate() {
            let req = match t {
                Some(t) => req.bearer_auth(t),
                None => req,
            };
            let r = send(req).await;
            assert_eq!(r.status.as_u16(), status, "case {i}, token: {auth}");
            assert_eq!(r.body["error"], "invalid_request", "case {i}");
            // Never the echo service's answer: nothing was handed on.
            assert!(r.body.get("body").is_none(), "case {i}");
        }
    }
}

#[tokio::test]
async fn cors_preflights_are_answered_and_never_handed_on() {
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let layer = |cors: bool| {
        let issuer = issuer.url.clone();
        let clock = clock.clone();
        move |resource: &str| {
            let v = JwtVerifier::builder(issuer, resource)
                .insecure_allow_http(true)
                .clock(Arc::new(clock))
                .build()
                .unwrap();
            RequireBearerLayer::builder(resource, v)
                .policy(policy())
                .cors_allow_origin("https://app.example")
                .cors(cors)
                .build()
                .unwrap()
        }
    };
    let g = guarded(layer(true)).await;
    let url = format!("{}/mcp", g.base);
    let preflight = |origin: &str| {
        reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&tool_call(1, "write_file")).unwrap())
    };
    for origin in ["http://localhost:6274", "https://app.example"] {
        let r = send(preflight(origin)).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{origin}");
        assert_eq!(r.headers["access-control-allow-origin"], origin);
        assert_eq!(r.body, serde_json::Value::Null, "not the echo service");
    }
    let r = send(preflight("https://evil.example")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.headers.get("access-control-allow-origin").is_none());

    // Refusals and answers for an allowed origin carry the CORS headers.
    let r = send(
        reqwest::Client::new()
            .post(&url)
            .header("origin", "https://app.example")
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&tools_list()).unwrap()),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["access-control-allow-origin"], "https://app.example");
    assert_eq!(
        r.headers["access-control-expose-headers"],
        "WWW-Authenticate, Mcp-Session-Id"
    );
    assert_eq!(r.headers["vary"], "Origin");

    // With the guard's CORS off (an outer CORS layer's job), a preflight is an ordinary
    // request: refused without a token, never handed on.
    let off = guarded(layer(false)).await;
    let r = send(
        reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, format!("{}/mcp", off.base))
            .header("origin", "http://localhost:6274")
            .header("access-control-request-method", "POST"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn oversized_body_gets_413_with_a_jsonrpc_error() {
    let (issuer, g) = setup(Some(1024)).await;
    let token = issuer.token(&g.resource, "mcp files:read");
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "read_file", "arguments": {"pad": "x".repeat(2000)}}});
    let r = rpc(&g.base, Some(&token), &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.body["jsonrpc"], "2.0");
    assert_eq!(r.body["error"]["code"], -32600);
    assert!(r.body.get("id").is_none());

    // Without Content-Length (chunked), the limit still holds.
    let chunk = format!("320\r\n{}\r\n", " ".repeat(800));
    let raw = format!(
        "POST /mcp HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunk}{chunk}0\r\n\r\n"
    );
    let head = raw_http(&g.base, raw.as_bytes()).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");

    // Just under the limit passes.
    let small = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "read_file", "arguments": {"pad": "x".repeat(500)}}});
    assert_eq!(
        rpc(&g.base, Some(&token), &small).await.status,
        StatusCode::OK
    );
}
