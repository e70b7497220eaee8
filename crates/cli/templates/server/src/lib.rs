//! An MCP server (rmcp, streamable HTTP) protected by OAuth 2.1 with `mcp-oauth-resource`:
//! JWT access tokens verified against the authorization server's keys, a scope per tool, the
//! protected resource metadata clients discover the authorization server from, and an Origin
//! guard against DNS rebinding. Every setting comes from the environment (`.env.example`).
//! `main.rs` only reads the settings and serves [`app`]; `tests/protected.rs` serves it too.

use mcp_oauth_resource::{
    CachedVerifier, JwtVerifier, OriginGuardLayer, Principal, PrmService, RequireBearerLayer,
    ScopePolicy, prm,
};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use std::sync::Arc;
use tower::Layer;

/// The scope every request needs, `initialize` included (the least scope: clients authorize
/// for it at once and ask for more only when a tool needs it).
pub const BASE_SCOPE: &str = "mcp:tools";
/// The extra scope of the `whoami` tool: a client asking for it gets `403 insufficient_scope`
/// and steps up.
pub const PROFILE_SCOPE: &str = "profile:read";

/// The settings, each from an environment variable (see `.env.example`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `MCP_ISSUER`: the authorization server whose tokens are trusted.
    pub issuer: String,
    /// `MCP_RESOURCE`: the URL clients connect to; the audience of the tokens.
    pub resource: String,
    /// `MCP_ADDR`: where to listen.
    pub addr: String,
    /// `MCP_ALLOWED_ORIGINS`: browser origins allowed besides loopback ones.
    pub allowed_origins: Vec<String>,
}

impl Settings {
    /// Reads the environment; the defaults fit `mcp-oauth serve --dev` on this machine.
    pub fn from_env() -> Self {
        let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
        Self {
            issuer: var("MCP_ISSUER", "http://127.0.0.1:8080"),
            resource: var("MCP_RESOURCE", "http://127.0.0.1:3000/mcp"),
            addr: var("MCP_ADDR", "127.0.0.1:3000"),
            allowed_origins: var("MCP_ALLOWED_ORIGINS", "")
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// The arguments of `echo`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
pub struct EchoArgs {
    /// The text to send back.
    pub text: String,
}

/// The MCP server: nothing in it knows about OAuth except where a tool reads the caller.
#[derive(Debug, Clone)]
pub struct Tools {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Tools {
    fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    /// Needs the base scope only.
    #[tool(description = "Send the text back")]
    async fn echo(&self, Parameters(args): Parameters<EchoArgs>) -> String {
        args.text
    }

    /// Needs the extra scope too. rmcp hands every tool the HTTP request's parts; the guard
    /// put the verified `Principal` into their extensions.
    #[tool(description = "Who the access token says you are (needs profile:read)")]
    async fn whoami(&self, Extension(parts): Extension<http::request::Parts>) -> String {
        match parts.extensions.get::<Principal>() {
            Some(p) => format!(
                "subject {}, client {}, scopes {}",
                p.subject.as_deref().unwrap_or("-"),
                p.client_id.as_deref().unwrap_or("-"),
                p.scopes
            ),
            None => "no verified caller".to_owned(),
        }
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

/// Which scope each request needs: the base scope for everything (nothing is public), and the
/// extra one for `whoami`.
pub fn policy() -> ScopePolicy {
    ScopePolicy::new()
        .default_scopes(BASE_SCOPE)
        .tool("whoami", &format!("{BASE_SCOPE} {PROFILE_SCOPE}"))
}

/// Whether `url` is plain http on this machine (development against `mcp-oauth serve --dev`).
fn loopback_http(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| {
        u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
    })
}

/// The whole app: the guarded MCP endpoint at the resource's path, and its metadata.
pub fn app(settings: &Settings) -> Result<axum::Router, Box<dyn std::error::Error>> {
    let resource = settings.resource.clone();
    // Tokens of the issuer, for this resource only (their `aud`), keys from its JWKS, cached.
    // Plain http is accepted only for an issuer on this machine.
    let verifier = JwtVerifier::builder(&settings.issuer, &resource)
        .insecure_allow_http(loopback_http(&settings.issuer))
        .build()?;
    let policy = policy();
    let mut meta = prm::metadata(resource.clone(), [settings.issuer.clone()]);
    meta.scopes_supported = Some(policy.scopes_supported());
    let mut guard =
        RequireBearerLayer::builder(resource.clone(), CachedVerifier::new(verifier)).policy(policy);
    let mut origins = OriginGuardLayer::localhost();
    for o in &settings.allowed_origins {
        guard = guard.cors_allow_origin(o);
        origins = origins.allow(o);
    }
    // rmcp checks the `Host` header too (DNS rebinding): loopback names, and the resource's.
    let url = url::Url::parse(&resource)?;
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    hosts.extend(
        url.host_str()
            .map(|h| h.trim_matches(['[', ']']).to_owned()),
    );
    let mcp = StreamableHttpService::new(
        || Ok(Tools::new()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_allowed_hosts(hosts),
    );
    let path = url.path().to_owned();
    Ok(axum::Router::new()
        .route_service(&path, guard.build()?.layer(mcp))
        .layer(origins)
        .merge(PrmService::new(meta)?.router()))
}
