//! The guard in front of rmcp's `StreamableHttpService`, the main thing it is for.

use crate::support::*;
use axum::Router;
use axum::http::StatusCode;
use mcp_oauth_resource::{JwtVerifier, RequireBearerLayer, ScopePolicy};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};
use std::sync::Arc;
use tower::Layer;

#[derive(Debug, Clone, Default)]
struct Demo;

impl rmcp::ServerHandler for Demo {}

async fn call(base: &str, token: Option<&str>, body: &Value) -> Reply {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    send(req).await
}

#[tokio::test]
async fn guards_a_streamable_http_service() {
    let issuer = Issuer::start().await;
    let g = guarded_app(|resource| {
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None);
        let mcp = StreamableHttpService::new(
            || Ok(Demo),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        let v = JwtVerifier::builder(issuer.url.clone(), resource)
            .insecure_allow_http(true)
            .clock(Arc::new(test_clock()))
            .build()
            .unwrap();
        let guard = RequireBearerLayer::builder(resource, v)
            .policy(ScopePolicy::new().default_scopes("mcp").public_handshake())
            .build()
            .unwrap();
        Router::new().route_service("/mcp", guard.layer(mcp))
    })
    .await;

    // The public handshake reaches rmcp without a token, and rmcp answers it.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}});
    let r = call(&g.base, None, &init).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["id"], 1);
    assert!(r.body["result"]["serverInfo"].is_object(), "{:?}", r.body);

    // Anything else needs a token.
    let ping_less = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let r = call(&g.base, None, &ping_less).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.challenge().scope.as_deref(), Some("mcp"));

    let token = issuer.token(&g.resource, "mcp");
    let r = call(&g.base, Some(&token), &ping_less).await;
    assert_ne!(r.status, StatusCode::UNAUTHORIZED);
    assert_ne!(r.status, StatusCode::FORBIDDEN);
    assert!(r.status.is_success(), "{} {:?}", r.status, r.body);
}
