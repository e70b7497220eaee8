//! The Origin guard over HTTP, alone and in front of the bearer guard.

use crate::support::*;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use mcp_oauth_core::jose::JwkSet;
use mcp_oauth_resource::{JwtVerifier, OriginGuardLayer, RequireBearerLayer};

async fn with_origin(base: &str, origin: Option<&str>, token: Option<&str>) -> Reply {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .body(tools_list().to_string());
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    send(req).await
}

#[tokio::test]
async fn localhost_default_and_allow_list() {
    let g = guarded_app(|_| {
        Router::new()
            .route("/mcp", post(echo))
            .layer(OriginGuardLayer::localhost())
    })
    .await;
    for ok in [
        None,
        Some("http://localhost:6274"),
        Some("http://127.0.0.1"),
        Some("https://[::1]:9"),
    ] {
        assert_eq!(
            with_origin(&g.base, ok, None).await.status,
            StatusCode::OK,
            "{ok:?}"
        );
    }
    for bad in [
        "https://evil.example",
        "null",
        "http://localhost.evil.example:80",
    ] {
        let r = with_origin(&g.base, Some(bad), None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{bad}");
        assert_eq!(r.body["jsonrpc"], "2.0");
        assert_eq!(r.body["error"]["code"], -32600);
        assert!(r.body.get("id").is_none());
    }

    let g = guarded_app(|_| {
        Router::new()
            .route("/mcp", post(echo))
            .layer(OriginGuardLayer::only(["https://app.example"]))
    })
    .await;
    assert_eq!(
        with_origin(&g.base, Some("https://app.example"), None)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        with_origin(&g.base, Some("http://localhost:3000"), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn origin_is_checked_before_the_token() {
    let issuer = Issuer::start().await;
    let g = guarded_app(|resource| {
        let v = JwtVerifier::builder(issuer.url.clone(), resource)
            .static_jwks(JwkSet {
                keys: vec![issuer.key.public_jwk().clone()],
            })
            .clock(std::sync::Arc::new(test_clock()))
            .build()
            .unwrap();
        Router::new()
            .route("/mcp", post(echo))
            .layer(RequireBearerLayer::new(resource, v).unwrap())
            .layer(OriginGuardLayer::localhost())
    })
    .await;
    let token = issuer.token(&g.resource, "mcp");
    assert_eq!(
        with_origin(&g.base, Some("https://evil.example"), Some(&token))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        with_origin(&g.base, Some("https://evil.example"), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        with_origin(&g.base, Some("http://localhost:1"), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        with_origin(&g.base, Some("http://localhost:1"), Some(&token))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        issuer.jwks_fetches(),
        0,
        "a static key set is never fetched"
    );
}
