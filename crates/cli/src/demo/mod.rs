//! `serve --demo`: a real rmcp streamable-HTTP MCP server at `{issuer}/mcp`, protected by the
//! guard of `mcp-oauth-resource` and trusting the built-in authorization server.
//!
//! The stack for `/mcp`, outermost first: [`OriginGuardLayer`] (DNS rebinding, loopback origins)
//! → [`RequireBearerLayer`] (JWT verified against the issuer's JWKS, cached, then asked in process
//! whether its grant and client still hold; API keys checked in process, also from `X-API-Key`; the scope policy of
//! [`policy`]; CORS for loopback origins) → [`SessionLimitLayer`] (at most
//! [`MAX_SESSIONS_PER_CLIENT`] live sessions per address, freed when rmcp closes one) → rmcp's
//! `StreamableHttpService` running [`DemoServer`]. The protected resource
//! metadata is served at `/.well-known/oauth-protected-resource/mcp` and at the root.

pub mod api_keys;
#[cfg(feature = "conformance")]
mod fixtures;
#[cfg(not(feature = "conformance"))]
#[path = "no_fixtures.rs"]
mod fixtures;
pub mod server;
pub mod sessions;
mod upstream_account;

pub use server::{DemoServer, Shared};

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use http::header::AUTHORIZATION;
use mcp_oauth_resource::{
    CachedVerifier, JwtVerifier, OriginGuardLayer, PrmService, RequireBearerLayer, ScopePolicy,
    SessionLimitLayer, SessionRegistry, SplitVerifier, prm,
};
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use sessions::{CountedSessions, MAX_SESSIONS_PER_CLIENT};
use std::sync::Arc;
use tower::{Layer, ServiceExt};

/// What each request to the demo needs: tools `mcp:tools` (`system_info` also `system:read`,
/// `reset_counter` also `mcp:admin`), resources `mcp:resources`, prompts and completions
/// `mcp:prompts`; anything else (`initialize`, `ping`, notifications, the SSE `GET`, `DELETE`,
/// `logging/setLevel`) the default, `mcp:tools`.
///
/// Nothing is public: the very first request (`initialize`) is answered `401` with
/// `scope="mcp:tools"`, so a client starts authorization once, at once, asking for the least
/// scope, and steps up later (`403 insufficient_scope`). With a public handshake, clients
/// connect without a token and then get two 401s at the same moment (their `POST` and their
/// `GET` stream), start two authorizations and register twice (issue 11). `--demo-public`
/// (the conformance harness) bypasses the guard for token-less requests instead.
pub fn policy() -> ScopePolicy {
    ScopePolicy::new()
        .default_scopes("mcp:tools")
        .method("tools/*", "mcp:tools")
        .method("resources/*", "mcp:resources")
        .method("prompts/*", "mcp:prompts")
        .method("completion/complete", "mcp:prompts")
        .tool("system_info", "mcp:tools system:read")
        .tool("reset_counter", "mcp:tools mcp:admin")
}

/// The rmcp service running the demo server (sessions in memory, reported to `registry` when
/// they end; SSE responses).
pub fn mcp_service(
    shared: Arc<Shared>,
    issuer_host: Option<&str>,
    registry: Arc<SessionRegistry>,
) -> StreamableHttpService<DemoServer, CountedSessions> {
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    if let Some(h) = issuer_host {
        hosts.push(h.trim_start_matches('[').trim_end_matches(']').to_owned());
    }
    let config = StreamableHttpServerConfig::default().with_allowed_hosts(hosts);
    StreamableHttpService::new(
        move || Ok(DemoServer::new(shared.clone())),
        Arc::new(CountedSessions::new(registry)),
        config,
    )
}

/// The demo protected resource of `--dev`: `/mcp` below the issuer.
pub fn resource_uri(issuer: &str) -> String {
    format!("{issuer}/mcp")
}

/// The header the demo also takes an API key from, for clients that cannot set `Authorization`.
pub const API_KEY_HEADER: &str = "x-api-key";

/// The demo's routes for `issuer`: `/mcp` (guarded unless `public`) and its metadata. Returns
/// the router and the MCP URL (the resource URI). JWT access tokens are verified against the
/// issuer's JWKS; API keys (in `Authorization: Bearer` or [`API_KEY_HEADER`]) in process, in
/// `server`'s store.
///
/// `public` (`serve --demo-public`) is for the conformance harness only, which cannot send a
/// token: requests without `Authorization` then skip the bearer guard (a sent token is still
/// verified; the Origin guard stays on), and the harness's fixtures are listed.
///
/// `server`: the authorization server of this process (API keys are checked in it; with
/// upstreams, the `upstream_account` tool reads the caller's upstream account from it).
pub fn router(
    issuer: &str,
    public: bool,
    server: mcp_oauth_server::AppState,
) -> anyhow::Result<(Router, String)> {
    let resource = resource_uri(issuer);
    let url = url::Url::parse(&resource).with_context(|| format!("invalid resource {resource}"))?;
    let path = url.path().to_owned();
    let federation = (!server.config().upstream.is_empty()).then(|| server.clone());
    let shared = Shared::new(public, federation);
    // At most MAX_SESSIONS_PER_CLIENT live sessions per address; rmcp reports the ends.
    let registry = SessionRegistry::new(MAX_SESSIONS_PER_CLIENT, None);
    let limit = SessionLimitLayer::new(registry.clone());
    let mcp = limit.layer(mcp_service(shared, url.host_str(), registry));
    let policy = policy();
    let mut meta = prm::metadata(resource.clone(), [issuer.to_owned()]);
    meta.scopes_supported = Some(policy.scopes_supported());
    meta.resource_name = Some("mcp-oauth demo MCP server".into());
    let prm_routes = PrmService::new(meta)
        .context("invalid protected resource metadata")?
        .router();
    let verifier = JwtVerifier::builder(issuer, resource.clone())
        .insecure_allow_http(url.scheme() == "http")
        .build()
        .context("cannot build the token verifier of the demo")?;
    let keys = api_keys::InProcessKeys::new(server.clone(), resource.clone());
    let jwts = api_keys::StillValid::new(CachedVerifier::new(verifier), server.clone());
    let verifier = SplitVerifier::new(jwts, keys);
    let guard = RequireBearerLayer::builder(resource.clone(), verifier)
        .policy(policy)
        .api_key_header(API_KEY_HEADER)
        .build()
        .context("cannot build the guard of the demo")?;
    let guarded = guard.layer(mcp.clone());
    let mcp_routes = if public {
        // Requests without `Authorization` skip the bearer guard; a token, when sent, is still
        // verified and checked against the policy exactly as without --demo-public.
        let steer = tower::service_fn(move |req: Request| {
            let (guarded, open) = (guarded.clone(), mcp.clone());
            async move {
                if req.headers().contains_key(AUTHORIZATION) {
                    guarded.oneshot(req).await.map(|r| r.map(Body::new))
                } else {
                    open.oneshot(req).await.map(|r| r.map(Body::new))
                }
            }
        });
        Router::new().route_service(&path, steer)
    } else {
        Router::new().route_service(&path, guarded)
    };
    let app = mcp_routes
        .layer(OriginGuardLayer::localhost())
        .merge(prm_routes);
    Ok((app, resource))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn need(v: Value) -> (bool, String) {
        let r = policy()
            .requirement_for_body(v.to_string().as_bytes())
            .unwrap();
        (r.public, r.scopes.to_string())
    }

    #[test]
    fn demo_policy() {
        assert!(policy().validate().is_ok());
        let call = |n: &str| json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": n}});
        let needs = |s: &str| (false, s.to_owned());
        assert_eq!(need(call("echo")), needs("mcp:tools"));
        assert_eq!(need(call("system_info")), needs("mcp:tools system:read"));
        assert_eq!(need(call("reset_counter")), needs("mcp:admin mcp:tools"));
        let read = json!({"jsonrpc": "2.0", "id": 1, "method": "resources/read",
                          "params": {"uri": "demo://system/metrics"}});
        assert_eq!(need(read), needs("mcp:resources"));
        let get = json!({"jsonrpc": "2.0", "id": 1, "method": "prompts/get",
                         "params": {"name": "system_report"}});
        assert_eq!(need(get), needs("mcp:prompts"));
        // Nothing is public: the handshake needs the default, the least scope.
        for m in ["initialize", "ping", "notifications/initialized"] {
            assert_eq!(
                need(json!({"jsonrpc": "2.0", "id": 1, "method": m})),
                needs("mcp:tools"),
                "{m}"
            );
        }
        assert!(policy().public.is_empty());
        assert_eq!(
            policy().requirement_without_body().scopes.to_string(),
            "mcp:tools"
        );
        assert_eq!(
            policy().scopes_supported(),
            [
                "mcp:admin",
                "mcp:prompts",
                "mcp:resources",
                "mcp:tools",
                "system:read"
            ]
        );
    }
}
