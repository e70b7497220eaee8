//! `mcp-oauth guard`: a reverse proxy that makes an existing MCP server (any language) an OAuth
//! 2.1 resource server without touching its code.
//!
//! Outermost first: the path normaliser ([`proxy::path`]: dot segments resolved, ambiguous paths
//! refused) → the router (the resource path and below, the PRM) → [`OriginGuardLayer`] →
//! [`RequireBearerLayer`] (JWTs of the trusted issuers checked by the provider's profile, opaque
//! tokens by introspection, cached; the `--scopes-file` policy, failing
//! closed on bodies it cannot read; CORS preflights answered here) → [`SessionLimitLayer`] (live
//! `Mcp-Session-Id`s per client address) → the proxy ([`mcp_oauth_resource::proxy`], which says
//! what the upstream sees and never sees). This file only reads the arguments and assembles the
//! layers; `settings.rs` merges the flags over `--config`, `trust.rs` builds the verifiers for the
//! provider's profile, `startup.rs` checks the issuers before the guard listens.

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::serve::ListenerExt;
use http::Request;
use mcp_oauth_resource::proxy::{self, Proxy, Upstream};
use mcp_oauth_resource::{
    OriginGuardLayer, PrmService, RequireBearerLayer, ScopePolicy, SessionLimitLayer,
    SessionRegistry, prm,
};
use settings::Settings;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tower::Layer;
use trust::Trust;

mod settings;
mod startup;
mod trust;

/// Options of `guard`. Each is also a key of the `[guard]` table of `--config FILE` (the long
/// name with `_` for `-`); a flag wins over the file.
#[derive(Debug, clap::Args)]
pub struct GuardArgs {
    /// A TOML file whose `[guard]` table holds these settings (flags win over it), plus the
    /// `generic` profile's `scope_claims`, `audience_claims`, `typ` and `required_claims`.
    #[arg(long, env = "MCP_OAUTH_GUARD_CONFIG")]
    config: Option<PathBuf>,
    /// The MCP server to protect (`http://HOST:PORT/PATH`; plain HTTP, usually on loopback).
    #[arg(long, env = "MCP_OAUTH_GUARD_UPSTREAM")]
    upstream: Option<String>,
    /// The canonical URI clients use for this MCP server: the token audience and the PRM
    /// `resource` (`https://mcp.example.com/mcp`). Its path is where the guard listens.
    #[arg(long, env = "MCP_OAUTH_GUARD_RESOURCE")]
    resource: Option<String>,
    /// A trusted authorization server (its issuer URL, the tokens' `iss`; repeatable for several
    /// issuers).
    #[arg(long = "issuer", env = "MCP_OAUTH_GUARD_ISSUER")]
    issuers: Vec<String>,
    /// The identity provider's token profile: rfc9068 (default), auth0, okta, entra, cognito,
    /// keycloak, generic (see docs/identity-providers/).
    #[arg(long, env = "MCP_OAUTH_GUARD_PROFILE")]
    profile: Option<String>,
    /// An accepted token audience besides the resource URI, compared exactly (an Entra ID
    /// `api://...` or client id, an Auth0 API identifier, a Keycloak Audience mapper's value, a
    /// Cognito app client id). Repeatable.
    #[arg(long = "audience")]
    audiences: Vec<String>,
    /// Entra ID: a tenant id whose tokens are accepted (repeatable; the allow-list of a
    /// multi-tenant app).
    #[arg(long = "tenant")]
    tenants: Vec<String>,
    /// The issuer's JWK Set URL, where it is not the `jwks_uri` of its metadata.
    #[arg(long)]
    jwks_uri: Option<String>,
    /// RFC 7662 introspection for opaque tokens at this endpoint (default: the metadata's
    /// `introspection_endpoint` when --client-id is given).
    #[arg(long)]
    introspection_endpoint: Option<String>,
    /// The guard's client id at the provider, for introspection.
    #[arg(long)]
    client_id: Option<String>,
    /// The environment variable holding the introspection client's secret.
    #[arg(long)]
    client_secret_env: Option<String>,
    /// A file holding the introspection client's secret.
    #[arg(long)]
    client_secret_file: Option<PathBuf>,
    /// A TOML scope policy (see the `mcp-oauth-resource` policy docs). Default: any valid
    /// token, nothing public.
    #[arg(long, env = "MCP_OAUTH_GUARD_SCOPES_FILE")]
    scopes_file: Option<PathBuf>,
    /// Address to listen on (`127.0.0.1:0` picks a free port). Default 127.0.0.1:8090.
    #[arg(long, env = "MCP_OAUTH_GUARD_ADDR")]
    addr: Option<String>,
    /// A browser origin allowed besides loopback ones (repeatable; comma-separated in the
    /// environment): it passes the `Origin` check and gets CORS answers (preflights, exposed
    /// `WWW-Authenticate` and `Mcp-Session-Id`).
    #[arg(
        long = "allow-origin",
        env = "MCP_OAUTH_GUARD_ALLOW_ORIGIN",
        value_delimiter = ','
    )]
    allow_origins: Vec<String>,
    /// Also take the credential from this header (`X-API-Key`), for API-key clients that cannot
    /// set `Authorization`; a request with both is refused. Keys are opaque tokens: they are
    /// introspected (--client-id), the answer cached at most 30 s.
    #[arg(long, env = "MCP_OAUTH_GUARD_API_KEY_HEADER")]
    api_key_header: Option<String>,
    /// Share the DPoP proof replay cache with the other guards of this resource on this Redis
    /// (`redis://HOST:PORT/DB`, `rediss://` for TLS): a proof one guard accepted is refused by the
    /// others. Each call waits at most 50 ms; a Redis that does not answer refuses DPoP requests
    /// (`503`). Default: per process.
    #[arg(long, env = "MCP_OAUTH_GUARD_REDIS", value_name = "URL")]
    redis: Option<String>,
    /// The CA certificates (PEM) a `rediss://` Redis's certificate must chain to, instead of the
    /// system's trust store.
    #[arg(long, env = "MCP_OAUTH_GUARD_REDIS_CA_FILE", value_name = "PEM")]
    redis_ca_file: Option<PathBuf>,
    /// Allow `http://` issuers (local development and tests only).
    #[arg(long)]
    insecure_http: bool,
    /// The largest request body the guard reads to apply the scope policy (bytes). Default
    /// 1 MiB.
    #[arg(long)]
    max_body_bytes: Option<usize>,
    /// At most this many live MCP sessions (`Mcp-Session-Id`s the upstream handed out) per
    /// client address (IPv4, or IPv6 /64); one more is refused with 429 and Retry-After.
    /// 0: no limit. Default 64.
    #[arg(long, env = "MCP_OAUTH_GUARD_MAX_SESSIONS_PER_CLIENT")]
    max_sessions_per_client: Option<usize>,
    /// A session without a request for this many seconds (and no open stream) no longer counts
    /// against its client's limit; set it to the upstream's own session timeout. Default 600.
    #[arg(long, env = "MCP_OAUTH_GUARD_SESSION_IDLE_TIMEOUT")]
    session_idle_timeout: Option<u64>,
}

pub async fn run(args: GuardArgs, config: Option<PathBuf>) -> anyhow::Result<()> {
    let settings = Settings::resolve(args, config)?;
    let addr: SocketAddr = settings
        .addr
        .parse()
        .with_context(|| format!("invalid --addr `{}`: not HOST:PORT", settings.addr))?;
    let trust = trust::assemble(&settings).await?;
    for note in &trust.notes {
        eprintln!("{note}");
    }
    let summary = format!(
        "protecting {} as {} (trusting {}, profile {}{})",
        settings.upstream,
        settings.resource,
        trust.issuers.join(", "),
        settings.profile,
        trust
            .introspection
            .as_ref()
            .map(|e| format!(", opaque tokens introspected at {e}"))
            .unwrap_or_default()
    );
    let app = app(&settings, trust)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    println!("mcp-oauth guard listening on http://{local}");
    println!("{summary}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // TCP_NODELAY, so that an SSE event written after another is not held for the peer's
    // delayed ACK (see `serve`).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    // The path is normalised before the router sees it (a layer on the router would run after
    // routing); the peer address is what sessions are counted by.
    let app = tower::service_fn(move |req: Request<Body>| proxy::normalized(app.clone(), req));
    use axum::ServiceExt as _;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(crate::signal::shutdown("guard"))
    .await
    .context("the guard stopped")
}

/// The guard's app: the proxied resource path and its protected resource metadata.
fn app(args: &Settings, trust: Trust) -> anyhow::Result<Router> {
    let upstream = Upstream::parse(&args.upstream)
        .with_context(|| format!("invalid --upstream `{}`", args.upstream))?;
    let resource = url::Url::parse(&args.resource)
        .with_context(|| format!("invalid --resource `{}`", args.resource))?;
    let prefix = resource.path().trim_end_matches('/').to_owned();
    let policy = match &args.scopes_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the scopes file {}", path.display()))?;
            toml::from_str::<ScopePolicy>(&text)
                .with_context(|| format!("invalid scopes file {}", path.display()))?
        }
        None => ScopePolicy::new(),
    };
    let mut meta = prm::metadata(args.resource.clone(), trust.issuers.clone());
    let supported = policy.scopes_supported();
    if !supported.is_empty() {
        meta.scopes_supported = Some(supported);
    }
    let prm_routes = PrmService::new(meta)
        .context("invalid protected resource metadata (check --resource and --issuer)")?
        .router();
    let mut guard = RequireBearerLayer::builder(args.resource.clone(), trust.verifier)
        .policy(policy)
        .max_body_bytes(args.max_body_bytes);
    for o in &args.allow_origins {
        guard = guard.cors_allow_origin(o);
    }
    if let Some(h) = &args.api_key_header {
        guard = guard.api_key_header(h.clone());
    }
    if let Some(url) = &args.redis {
        let (prefix, timeout) = ("mcp-oauth:", Duration::from_millis(50));
        let store = match &args.redis_ca_file {
            None => mcp_oauth_resource::dpop_redis::RedisReplay::new(url, prefix, timeout),
            Some(path) => {
                let pem = std::fs::read(path).with_context(|| {
                    format!("invalid configuration `redis_ca_file`: {}", path.display())
                })?;
                mcp_oauth_resource::dpop_redis::RedisReplay::with_root_certificates(
                    url, pem, prefix, timeout,
                )
            }
        }
        .map_err(|e| anyhow::anyhow!("invalid configuration `redis`: {e}"))?;
        guard = guard.dpop(mcp_oauth_resource::dpop::DpopSettings {
            replay: Some(std::sync::Arc::new(store)),
            ..Default::default()
        });
    }
    let guard = guard.build().context("invalid guard settings")?;
    let forward = Proxy::new(upstream, &prefix).service();
    let service = if args.max_sessions_per_client > 0 {
        let registry = SessionRegistry::new(
            args.max_sessions_per_client,
            Some(Duration::from_secs(args.session_idle_timeout.max(1))),
        );
        let limited = SessionLimitLayer::new(registry).layer(forward);
        axum::routing::any_service(guard.layer(limited))
    } else {
        axum::routing::any_service(guard.layer(forward))
    };
    let mut origins = OriginGuardLayer::localhost();
    for o in &args.allow_origins {
        origins = origins.allow(o);
    }
    let root = if prefix.is_empty() { "/" } else { &prefix };
    let mut routes = Router::new().route(root, service.clone());
    routes = if prefix.is_empty() {
        routes.route("/{*rest}", service)
    } else {
        routes.route(&format!("{prefix}/{{*rest}}"), service)
    };
    Ok(prm_routes.merge(routes.layer(origins)))
}
