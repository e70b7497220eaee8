//! `mcp-oauth guard`: a reverse proxy that makes an existing MCP server (any language) an OAuth
//! 2.1 resource server without touching its code.
//!
//! Outermost first: the path normaliser ([`path`]: dot segments resolved, ambiguous paths
//! refused) → the router (the resource path and below, the PRM) → [`OriginGuardLayer`] →
//! [`RequireBearerLayer`] (JWTs of the trusted issuers, cached; the `--scopes-file` policy, failing
//! closed on bodies it cannot read; CORS preflights answered here) → [`SessionLimitLayer`] (live
//! `Mcp-Session-Id`s per client address) → the proxy, which forwards method, path, query, headers
//! and body (streamed) to the upstream and streams the response back unbuffered (SSE included).
//!
//! What the upstream never sees: the `Authorization` header (no token passthrough: the token is
//! for this resource, not for the upstream), hop-by-hop headers, and any client-sent
//! `X-MCP-OAuth-*` header. What it sees instead: `X-MCP-OAuth-Subject`, `X-MCP-OAuth-Client-Id`,
//! `X-MCP-OAuth-Scope` and `X-MCP-OAuth-Issuer`, set from the verified token (absent for public
//! requests without one), and `X-Forwarded-Host` / `X-Forwarded-Proto` of the original request.

mod path;

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Body;
use axum::serve::ListenerExt;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mcp_oauth_resource::{
    CachedVerifier, GuardedBody, JwtVerifier, MultiIssuerVerifier, OriginGuardLayer, Principal,
    PrmService, RequireBearerLayer, ScopePolicy, SessionLimitLayer, SessionRegistry, prm,
};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
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

/// Headers the guard sets for the upstream; a client's own values are dropped.
const IDENTITY_HEADERS: [&str; 4] = [
    "x-mcp-oauth-subject",
    "x-mcp-oauth-client-id",
    "x-mcp-oauth-scope",
    "x-mcp-oauth-issuer",
];

/// RFC 9110 §7.6.1 hop-by-hop headers (plus the pre-standard ones proxies still see).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The upstream, split once.
#[derive(Debug, Clone)]
struct Upstream {
    scheme: String,
    authority: String,
    /// The upstream's path, without a trailing slash (`/mcp`, or empty for the root).
    path: String,
}

/// Forwards guarded requests to the upstream.
#[derive(Clone)]
struct Proxy {
    client: Client<HttpConnector, Body>,
    upstream: Arc<Upstream>,
    /// The resource's path prefix, stripped before the upstream path is prepended.
    prefix: Arc<str>,
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
    let app = tower::service_fn(move |req: Request<Body>| normalized(app.clone(), req));
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
    let upstream = parse_upstream(&args.upstream)?;
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
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(Duration::from_secs(5)));
    connector.set_nodelay(true);
    let proxy = Proxy {
        client: Client::builder(TokioExecutor::new()).build(connector),
        upstream: Arc::new(upstream),
        prefix: prefix.clone().into(),
    };
    let forward = tower::service_fn(move |req| {
        let proxy = proxy.clone();
        async move { Ok::<_, Infallible>(proxy.forward(req).await) }
    });
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

/// Routes `req` through `app` with its path normalised, or refuses an ambiguous path (`400`).
async fn normalized(app: Router, mut req: Request<Body>) -> Result<Response<Body>, Infallible> {
    use tower::ServiceExt as _;
    let normal = match path::normalize(req.uri().path()) {
        Err(why) => return Ok(bad_path(why)),
        Ok(std::borrow::Cow::Borrowed(_)) => None,
        Ok(std::borrow::Cow::Owned(p)) => Some(p),
    };
    if let Some(p) = normal {
        let pq = match req.uri().query() {
            Some(q) => format!("{p}?{q}"),
            None => p,
        };
        let mut parts = req.uri().clone().into_parts();
        match pq.parse() {
            Ok(pq) => parts.path_and_query = Some(pq),
            Err(_) => return Ok(bad_path("the request path cannot be normalised")),
        }
        match Uri::from_parts(parts) {
            Ok(uri) => *req.uri_mut() = uri,
            Err(_) => return Ok(bad_path("the request path cannot be normalised")),
        }
    }
    app.oneshot(req).await
}

fn bad_path(why: &str) -> Response<Body> {
    let body = serde_json::json!({"error": "invalid_request", "error_description": why});
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::BAD_REQUEST;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
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

fn parse_upstream(s: &str) -> anyhow::Result<Upstream> {
    let u = url::Url::parse(s).with_context(|| format!("invalid --upstream `{s}`"))?;
    if u.scheme() != "http" {
        bail!(
            "invalid --upstream `{s}`: only http:// upstreams are supported (terminate TLS in front of the guard)"
        );
    }
    if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
        bail!("invalid --upstream `{s}`: no query, fragment or user info");
    }
    let host = u
        .host_str()
        .with_context(|| format!("invalid --upstream `{s}`: no host"))?;
    let authority = match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    };
    Ok(Upstream {
        scheme: u.scheme().to_owned(),
        authority,
        path: u.path().trim_end_matches('/').to_owned(),
    })
}

/// Removes hop-by-hop headers, including those the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        headers.remove(n);
    }
    for h in HOP_BY_HOP {
        headers.remove(h);
    }
}

fn bad_gateway(message: &str) -> Response<Body> {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "error": {"code": -32603, "message": message},
    });
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::BAD_GATEWAY;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

impl Proxy {
    /// The upstream URI for a request path and query.
    fn target(&self, uri: &Uri) -> Option<Uri> {
        let path = uri.path();
        let rest = path.strip_prefix(&*self.prefix).unwrap_or(path);
        let mut pq = format!("{}{}", self.upstream.path, rest);
        if pq.is_empty() {
            pq.push('/');
        }
        if let Some(q) = uri.query() {
            pq.push('?');
            pq.push_str(q);
        }
        Uri::builder()
            .scheme(self.upstream.scheme.as_str())
            .authority(self.upstream.authority.as_str())
            .path_and_query(pq)
            .build()
            .ok()
    }

    async fn forward(&self, req: Request<GuardedBody<Body>>) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        let Some(target) = self.target(&parts.uri) else {
            return bad_gateway("the request cannot be forwarded");
        };
        let original_host = parts.headers.get(header::HOST).cloned();
        let principal = parts.extensions.get::<Principal>().cloned();
        let h = &mut parts.headers;
        strip_hop_by_hop(h);
        // No token passthrough: the token's audience is this resource, not the upstream.
        h.remove(header::AUTHORIZATION);
        h.remove(header::HOST);
        for name in IDENTITY_HEADERS {
            h.remove(name);
        }
        h.remove("x-forwarded-host");
        h.remove("x-forwarded-proto");
        if let Some(host) = original_host {
            h.insert("x-forwarded-host", host);
        }
        h.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        if let Some(p) = &principal {
            let mut set = |name: &'static str, value: Option<String>| {
                if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
                    h.insert(name, v);
                }
            };
            set("x-mcp-oauth-subject", p.subject.clone());
            set("x-mcp-oauth-client-id", p.client_id.clone());
            set("x-mcp-oauth-scope", Some(p.scopes.to_string()));
            set("x-mcp-oauth-issuer", Some(p.issuer.clone()));
        }
        parts.uri = target;
        parts.version = http::Version::HTTP_11;
        let upstream_req = Request::from_parts(parts, Body::new(body));
        match self.client.request(upstream_req).await {
            Ok(resp) => {
                let (mut parts, incoming) = resp.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                // The body streams through frame by frame: SSE events are not buffered.
                Response::from_parts(parts, Body::new(incoming))
            }
            Err(e) => {
                tracing::warn!(target: "mcp_oauth::guard", error = %e, "upstream request failed");
                bad_gateway("the upstream MCP server could not be reached")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(upstream: &str, prefix: &str) -> Proxy {
        Proxy {
            client: Client::builder(TokioExecutor::new()).build(HttpConnector::new()),
            upstream: Arc::new(parse_upstream(upstream).unwrap()),
            prefix: prefix.into(),
        }
    }

    #[test]
    fn maps_paths_and_queries() {
        let p = proxy("http://127.0.0.1:9000/mcp", "/mcp");
        let t = |u: &str| p.target(&u.parse().unwrap()).unwrap().to_string();
        assert_eq!(t("/mcp"), "http://127.0.0.1:9000/mcp");
        assert_eq!(t("/mcp?a=b"), "http://127.0.0.1:9000/mcp?a=b");
        assert_eq!(t("/mcp/x"), "http://127.0.0.1:9000/mcp/x");
        let p = proxy("http://127.0.0.1:9000", "");
        let t = |u: &str| p.target(&u.parse().unwrap()).unwrap().to_string();
        assert_eq!(t("/"), "http://127.0.0.1:9000/");
        assert_eq!(t("/sse?x=1"), "http://127.0.0.1:9000/sse?x=1");
        assert!(parse_upstream("https://a.example/mcp").is_err());
        assert!(parse_upstream("http://a.example/mcp?x").is_err());
    }

    #[test]
    fn strips_hop_by_hop() {
        let mut h = HeaderMap::new();
        h.insert("connection", HeaderValue::from_static("close, x-private"));
        h.insert("x-private", HeaderValue::from_static("1"));
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("content-type", HeaderValue::from_static("text/plain"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("content-type"));
    }
}
