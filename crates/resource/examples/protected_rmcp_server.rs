//! Guard your own rmcp server in a few lines: an MCP server whose `hello` tool greets the caller
//! named by the verified access token.
//!
//! ```bash
//! cargo run -p mcp-oauth -- serve --dev                # an authorization server on :8080
//! cargo run -p mcp-oauth -- resources add http://127.0.0.1:3000/mcp --name Hello --scope hello
//! cargo run -p mcp-oauth-resource --example protected_rmcp_server
//! ```
//!
//! `ISSUER` (default `http://127.0.0.1:8080`), `RESOURCE` (default `http://127.0.0.1:3000/mcp`)
//! and `ADDR` (default `127.0.0.1:3000`) change the defaults.

use mcp_oauth_resource::{
    CachedVerifier, JwtVerifier, OriginGuardLayer, Principal, PrmService, RequireBearerLayer,
    ScopePolicy, prm,
};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use std::sync::Arc;
use tower::Layer;

/// The MCP server: nothing in it knows about OAuth except where it reads the caller.
#[derive(Debug, Clone)]
struct Hello {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Hello {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    /// rmcp hands every handler the HTTP request's parts; the guard put the verified
    /// `Principal` into their extensions.
    #[tool(description = "Say hello to the authenticated caller")]
    async fn hello(&self, Extension(parts): Extension<http::request::Parts>) -> String {
        match parts.extensions.get::<Principal>() {
            Some(p) => format!(
                "Hello, {} (client {}, scopes {})!",
                p.subject.as_deref().unwrap_or("?"),
                p.client_id.as_deref().unwrap_or("?"),
                p.scopes
            ),
            None => "Hello, stranger!".to_owned(),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Hello {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
    let issuer = env("ISSUER", "http://127.0.0.1:8080");
    let resource = env("RESOURCE", "http://127.0.0.1:3000/mcp");
    let addr = env("ADDR", "127.0.0.1:3000");

    // 1. Trust the issuer's JWT access tokens for this resource (keys from its JWKS, cached).
    let verifier = JwtVerifier::builder(&issuer, &resource)
        .insecure_allow_http(issuer.starts_with("http://")) // local development only
        .build()?;
    // 2. Say which scope each request needs. Nothing is public: `initialize` is challenged
    //    with `scope="hello"`, so clients authorize once, at once, for the least scope.
    let policy = ScopePolicy::new().default_scopes("hello");
    // 3. Publish the protected resource metadata clients discover the issuer from.
    let mut meta = prm::metadata(resource.clone(), [issuer.clone()]);
    meta.scopes_supported = Some(policy.scopes_supported());
    // 4. Put the guard in front of rmcp's streamable HTTP service.
    let guard = RequireBearerLayer::builder(resource.clone(), CachedVerifier::new(verifier))
        .policy(policy)
        .build()?;
    let mcp = StreamableHttpService::new(
        || Ok(Hello::new()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let path = url::Url::parse(&resource)?.path().to_owned();
    let app = axum::Router::new()
        .route_service(&path, guard.layer(mcp))
        .layer(OriginGuardLayer::localhost())
        .merge(PrmService::new(meta)?.router());

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("protected MCP server at {resource} (listening on {addr}), trusting {issuer}");
    axum::serve(listener, app).await?;
    Ok(())
}
