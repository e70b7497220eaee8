//! `mcp-oauth guard`: a reverse proxy that makes an existing MCP server (any language) an OAuth
//! 2.1 resource server without touching its code.
//!
//! Outermost first: the path normaliser ([`proxy::path`]: dot segments resolved, ambiguous paths
//! refused) → the router (the resource path and below, the PRM) → [`OriginGuardLayer`] →
//! [`RequireBearerLayer`] (JWTs of the trusted issuers, cached; the `--scopes-file` policy, failing
//! closed on bodies it cannot read; CORS preflights answered here) → [`SessionLimitLayer`] (live
//! `Mcp-Session-Id`s per client address) → the proxy ([`mcp_oauth_resource::proxy`], which says
//! what the upstream sees and never sees). This file only reads the arguments and assembles the
//! layers.

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::serve::ListenerExt;
use http::Request;
use mcp_oauth_resource::proxy::{self, Proxy, Upstream};
use mcp_oauth_resource::{
    CachedVerifier, JwtVerifier, MultiIssuerVerifier, OriginGuardLayer, PrmService,
    RequireBearerLayer, ScopePolicy, SessionLimitLayer, SessionRegistry, prm,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tower::Layer;

/// Options of `guard`.
#[derive(Debug, clap::Args)]
pub struct GuardArgs {
    /// The MCP server to protect (`http://HOST:PORT/PATH`; plain HTTP, usually on loopback).
    #[arg(long, env = "MCP_OAUTH_GUARD_UPSTREAM")]
    upstream: String,
    /// The canonical URI clients use for this MCP server: the token audience and the PRM
    /// `resource` (`https://mcp.example.com/mcp`). Its path is where the guard listens.
    #[arg(long, env = "MCP_OAUTH_GUARD_RESOURCE")]
    resource: String,
    /// A trusted authorization server (its issuer URL; repeatable for several issuers).
    #[arg(long = "issuer", env = "MCP_OAUTH_GUARD_ISSUER", required = true)]
    issuers: Vec<String>,
    /// A TOML scope policy (see the `mcp-oauth-resource` policy docs). Default: any valid
    /// token, nothing public.
    #[arg(long, env = "MCP_OAUTH_GUARD_SCOPES_FILE")]
    scopes_file: Option<PathBuf>,
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    #[arg(long, env = "MCP_OAUTH_GUARD_ADDR", default_value = "127.0.0.1:8090")]
    addr: String,
    /// A browser origin allowed besides loopback ones (repeatable; comma-separated in the
    /// environment): it passes the `Origin` check and gets CORS answers (preflights, exposed
    /// `WWW-Authenticate` and `Mcp-Session-Id`).
    #[arg(
        long = "allow-origin",
        env = "MCP_OAUTH_GUARD_ALLOW_ORIGIN",
        value_delimiter = ','
    )]
    allow_origins: Vec<String>,
    /// Allow `http://` issuers (local development and tests only).
    #[arg(long)]
    insecure_http: bool,
    /// The largest request body the guard reads to apply the scope policy (bytes).
    #[arg(long, default_value_t = mcp_oauth_resource::DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// At most this many live MCP sessions (`Mcp-Session-Id`s the upstream handed out) per
    /// client address (IPv4, or IPv6 /64); one more is refused with 429 and Retry-After.
    /// 0: no limit.
    #[arg(
        long,
        env = "MCP_OAUTH_GUARD_MAX_SESSIONS_PER_CLIENT",
        default_value_t = 64
    )]
    max_sessions_per_client: usize,
    /// A session without a request for this many seconds (and no open stream) no longer counts
    /// against its client's limit; set it to the upstream's own session timeout.
    #[arg(
        long,
        env = "MCP_OAUTH_GUARD_SESSION_IDLE_TIMEOUT",
        default_value_t = 600
    )]
    session_idle_timeout: u64,
}

pub async fn run(args: GuardArgs) -> anyhow::Result<()> {
    let addr: SocketAddr = args
        .addr
        .parse()
        .with_context(|| format!("invalid --addr `{}`: not HOST:PORT", args.addr))?;
    let app = app(&args)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    println!("mcp-oauth guard listening on http://{local}");
    println!(
        "protecting {} as {} (trusting {})",
        args.upstream,
        args.resource,
        args.issuers.join(", ")
    );
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
fn app(args: &GuardArgs) -> anyhow::Result<Router> {
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
    let verifier = verifier(&args.issuers, &args.resource, args.insecure_http)?;
    let mut meta = prm::metadata(args.resource.clone(), args.issuers.clone());
    let supported = policy.scopes_supported();
    if !supported.is_empty() {
        meta.scopes_supported = Some(supported);
    }
    let prm_routes = PrmService::new(meta)
        .context("invalid protected resource metadata (check --resource and --issuer)")?
        .router();
    let mut guard = RequireBearerLayer::builder(args.resource.clone(), verifier)
        .policy(policy)
        .max_body_bytes(args.max_body_bytes);
    for o in &args.allow_origins {
        guard = guard.cors_allow_origin(o);
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

/// One JWT verifier per issuer (a multi-issuer router when there are several), cached.
fn verifier(
    issuers: &[String],
    resource: &str,
    insecure_http: bool,
) -> anyhow::Result<CachedVerifier<MultiIssuerVerifier>> {
    let mut multi = MultiIssuerVerifier::new();
    for issuer in issuers {
        let v = JwtVerifier::builder(issuer.clone(), resource)
            .insecure_allow_http(insecure_http)
            .build()
            .with_context(|| {
                format!("cannot trust issuer `{issuer}` (an http:// issuer needs --insecure-http)")
            })?;
        multi = multi.with_issuer(issuer.clone(), v)?;
    }
    Ok(CachedVerifier::new(multi))
}
