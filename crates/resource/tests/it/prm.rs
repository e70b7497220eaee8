//! Protected resource metadata over HTTP, and discovery from the guard's own challenge.

use crate::support::*;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use mcp_oauth_resource::{JwtVerifier, PrmService, RequireBearerLayer, ScopePolicy, prm};
use std::sync::Arc;

#[tokio::test]
async fn challenge_leads_to_the_metadata_at_both_paths() {
    let issuer = Issuer::start().await;
    let policy = ScopePolicy::new()
        .default_scopes("mcp")
        .tool("write_file", "files:write");
    let g = guarded_app(|resource| {
        let mut meta = prm::metadata(resource, [issuer.url.clone()]);
        meta.scopes_supported = Some(policy.scopes_supported());
        meta.resource_name = Some("Echo".into());
        meta.resource_documentation = Some("https://docs.example/echo".into());
        let v = JwtVerifier::builder(issuer.url.clone(), resource)
            .insecure_allow_http(true)
            .clock(Arc::new(test_clock()))
            .build()
            .unwrap();
        let guard = RequireBearerLayer::builder(resource, v)
            .policy(policy.clone())
            .build()
            .unwrap();
        PrmService::new(meta)
            .unwrap()
            .router()
            .merge(Router::new().route("/mcp", post(echo)).layer(guard))
    })
    .await;

    let r = rpc(&g.base, None, &tools_list()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let url = r.challenge().resource_metadata.unwrap();
    assert_eq!(
        url,
        format!("{}/.well-known/oauth-protected-resource/mcp", g.base)
    );
    let root = format!("{}/.well-known/oauth-protected-resource", g.base);
    for u in [url, root] {
        let r = send(reqwest::Client::new().get(&u)).await;
        assert_eq!(r.status, StatusCode::OK, "{u}");
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(
            r.body,
            serde_json::json!({
                "resource": g.resource,
                "authorization_servers": [issuer.url],
                "scopes_supported": ["files:write", "mcp"],
                "bearer_methods_supported": ["header"],
                "dpop_signing_alg_values_supported": ["ES256", "ES384", "EdDSA", "RS256", "PS256"],
                "resource_name": "Echo",
                "resource_documentation": "https://docs.example/echo",
            })
        );
        assert!(mcp_oauth_core::resource::identifies_server(
            r.body["resource"].as_str().unwrap(),
            &g.resource
        ));
    }
    let r = send(
        reqwest::Client::new().post(format!("{}/.well-known/oauth-protected-resource", g.base)),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}
