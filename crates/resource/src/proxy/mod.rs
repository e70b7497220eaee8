//! A reverse proxy to an MCP server that has no OAuth of its own (feature `proxy`): put
//! [`RequireBearerLayer`](crate::RequireBearerLayer) in front of [`Proxy::service`] and any MCP
//! server, in any language, becomes an OAuth 2.1 resource server without touching its code. The
//! `mcp-oauth guard` command is this proxy with its arguments.
//!
//! [`Proxy::forward`] sends method, path, query, headers and body (streamed) to the upstream and
//! streams the response back unbuffered (SSE included). What the upstream never sees: the
//! `Authorization` header (no token passthrough: the token's audience is this resource, not the
//! upstream), hop-by-hop headers, and any client-sent `X-MCP-OAuth-*` or `X-Forwarded-*` header.
//! What it sees instead: `X-MCP-OAuth-Subject`, `X-MCP-OAuth-Client-Id`, `X-MCP-OAuth-Scope` and
//! `X-MCP-OAuth-Issuer`, set from the verified [`Principal`] (absent for public requests without
//! a token), and `X-Forwarded-Host` / `X-Forwarded-Proto` of the original request.
//!
//! Paths are routed and forwarded as one thing only: [`normalized`] resolves dot segments and
//! refuses the paths servers resolve differently ([`path`]), before the router sees them.

pub mod path;

use crate::{GuardedBody, Principal};
use axum::Router;
use axum::body::Body;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// Headers the proxy sets for the upstream; a client's own values are dropped.
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

/// Why an upstream URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpstreamError {
    /// Not a URL at all.
    #[error("not a URL ({0})")]
    Url(String),
    /// Not `http://`: TLS is terminated in front of the proxy, and the upstream is usually on
    /// loopback.
    #[error("only http:// upstreams are supported (terminate TLS in front of the guard)")]
    Scheme,
    /// A query, fragment or user information, which would be sent on every request.
    #[error("no query, fragment or user info")]
    Extra,
    /// No host.
    #[error("no host")]
    Host,
}

/// The upstream MCP server (`http://HOST:PORT/PATH`), split once.
#[derive(Debug, Clone)]
pub struct Upstream {
    scheme: String,
    authority: String,
    /// The upstream's path, without a trailing slash (`/mcp`, or empty for the root).
    path: String,
}

impl Upstream {
    /// Parses and checks an upstream URL.
    pub fn parse(s: &str) -> Result<Self, UpstreamError> {
        let u = url::Url::parse(s).map_err(|e| UpstreamError::Url(e.to_string()))?;
        if u.scheme() != "http" {
            return Err(UpstreamError::Scheme);
        }
        if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
            return Err(UpstreamError::Extra);
        }
        let host = u.host_str().ok_or(UpstreamError::Host)?;
        let authority = match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        Ok(Self {
            scheme: u.scheme().to_owned(),
            authority,
            path: u.path().trim_end_matches('/').to_owned(),
        })
    }
}

/// Forwards guarded requests to the upstream. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct Proxy {
    client: Client<HttpConnector, Body>,
    upstream: Arc<Upstream>,
    /// The resource's path prefix, stripped before the upstream path is prepended.
    prefix: Arc<str>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("upstream", &self.upstream)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// A proxy that maps the request path `prefix` (the resource's path, `/mcp`; empty for the
    /// root) and below onto the upstream's path. Connections: 5 s connect timeout, `TCP_NODELAY`
    /// (an SSE event is not held back for the peer's delayed ACK), pooled.
    pub fn new(upstream: Upstream, prefix: &str) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.set_nodelay(true);
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            upstream: Arc::new(upstream),
            prefix: prefix.trim_end_matches('/').into(),
        }
    }

    /// The proxy as a tower service, for the inside of the guard's layers.
    pub fn service(
        self,
    ) -> impl tower::Service<
        Request<GuardedBody<Body>>,
        Response = Response<Body>,
        Error = Infallible,
        Future = impl Future<Output = Result<Response<Body>, Infallible>> + Send,
    > + Clone
    + Send
    + 'static {
        tower::service_fn(move |req| {
            let proxy = self.clone();
            async move { Ok::<_, Infallible>(proxy.forward(req).await) }
        })
    }

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

    /// Forwards one request that the guard let through; `502` with a JSON-RPC error when the
    /// upstream cannot be reached.
    pub async fn forward(&self, req: Request<GuardedBody<Body>>) -> Response<Body> {
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

/// Routes `req` through `app` with its path normalised ([`path::normalize`]), or refuses an
/// ambiguous path (`400`). Runs outside the router: a layer on the router would run after
/// routing, on the path not yet normalised.
pub async fn normalized(app: Router, mut req: Request<Body>) -> Result<Response<Body>, Infallible> {
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
    json_response(StatusCode::BAD_REQUEST, &body)
}

fn bad_gateway(message: &str) -> Response<Body> {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "error": {"code": -32603, "message": message},
    });
    json_response(StatusCode::BAD_GATEWAY, &body)
}

fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
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

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(upstream: &str, prefix: &str) -> Proxy {
        Proxy::new(Upstream::parse(upstream).unwrap(), prefix)
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
    }

    #[test]
    fn refuses_upstreams_it_cannot_forward_to() {
        assert_eq!(
            Upstream::parse("https://a.example/mcp").unwrap_err(),
            UpstreamError::Scheme
        );
        assert_eq!(
            Upstream::parse("http://a.example/mcp?x").unwrap_err(),
            UpstreamError::Extra
        );
        assert_eq!(
            Upstream::parse("http://u@a.example/mcp").unwrap_err(),
            UpstreamError::Extra
        );
        assert!(matches!(
            Upstream::parse("not a url"),
            Err(UpstreamError::Url(_))
        ));
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
