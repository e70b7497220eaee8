//! The `Origin` check of the MCP Streamable HTTP transport, against DNS rebinding.
//!
//! A web page on `evil.example` whose DNS name is re-pointed at `127.0.0.1` can make a browser
//! send requests to a local MCP server; the browser still sends `Origin: https://evil.example`.
//! The transport therefore requires servers to validate `Origin` on every request and to answer
//! an invalid one with `403` (2025-11-25), here with a JSON-RPC error body without `id`.
//!
//! Requests without `Origin` (non-browser clients) pass. The default allows only loopback
//! origins (`http(s)://localhost`, `127.0.0.0/8`, `[::1]`, any port), right for a server bound
//! to localhost; add the origins of browser-based clients explicitly. `Origin: null`, several
//! `Origin` headers, or an unparsable value are refused.

use crate::body::ResponseBody;
use crate::response::jsonrpc_error;
use crate::wrap::layer_service;
use bytes::Bytes;
use http::header::ORIGIN;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use mcp_oauth_core::uri::{UriParts, is_loopback_host};
use pin_project_lite::pin_project;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tower::Service;

/// Refuses requests whose `Origin` is not allowed.
#[derive(Debug, Clone)]
pub struct OriginGuardLayer {
    policy: Arc<OriginPolicy>,
}

/// A set of allowed browser origins: loopback ones (any port) and a list. Shared by the
/// `Origin` check here and the guard's CORS answers ([`crate::cors`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct OriginPolicy {
    loopback: bool,
    /// Normalised `scheme://host[:port]` (scheme and host lower-cased).
    allowed: BTreeSet<String>,
}

impl Default for OriginGuardLayer {
    fn default() -> Self {
        Self::localhost()
    }
}

impl OriginGuardLayer {
    /// Allows loopback origins only: the safe default for a server bound to localhost.
    pub fn localhost() -> Self {
        Self {
            policy: Arc::new(OriginPolicy::loopback()),
        }
    }

    /// Allows exactly `origins` (`https://app.example`, `http://host:8080`), and no loopback
    /// origin unless listed or added with [`OriginGuardLayer::allow_loopback`].
    pub fn only<I, T>(origins: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let mut policy = OriginPolicy::default();
        for o in origins {
            if let Some(n) = normalise(o.as_ref()) {
                policy.allowed.insert(n);
            } else {
                tracing::warn!(target: "mcp_oauth::resource", origin = o.as_ref(), "ignoring unparsable allowed origin");
            }
        }
        Self {
            policy: Arc::new(policy),
        }
    }

    /// Also allows `origin`. An unparsable value is ignored (and logged).
    pub fn allow(mut self, origin: &str) -> Self {
        Arc::make_mut(&mut self.policy).add(origin);
        self
    }

    /// Whether loopback origins (any port) are allowed.
    pub fn allow_loopback(mut self, allow: bool) -> Self {
        Arc::make_mut(&mut self.policy).set_loopback(allow);
        self
    }

    /// Whether a request with these headers passes.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        self.policy.allows(headers)
    }
}

/// `scheme://host[:port]` with scheme and host lower-cased, or `None` if `origin` is not a
/// serialised http(s) origin (no path, query, fragment or user info).
fn normalise(origin: &str) -> Option<String> {
    let p = UriParts::split(origin.trim())?;
    let scheme = p.scheme.to_ascii_lowercase();
    if (scheme != "http" && scheme != "https")
        || !(p.path.is_empty() || p.path == "/")
        || p.query.is_some()
        || p.fragment.is_some()
        || p.has_userinfo()
    {
        return None;
    }
    Some(format!("{scheme}://{}", p.authority.to_ascii_lowercase()))
}

impl OriginPolicy {
    /// Loopback origins only.
    pub(crate) fn loopback() -> Self {
        Self {
            loopback: true,
            allowed: BTreeSet::new(),
        }
    }

    /// Also `origin` (ignored, and logged, when it does not parse).
    #[cfg(test)]
    pub(crate) fn with(mut self, origin: &str) -> Self {
        self.add(origin);
        self
    }

    pub(crate) fn add(&mut self, origin: &str) {
        match normalise(origin) {
            Some(n) => {
                self.allowed.insert(n);
            }
            None => {
                tracing::warn!(target: "mcp_oauth::resource", origin, "ignoring unparsable allowed origin");
            }
        }
    }

    pub(crate) fn set_loopback(&mut self, allow: bool) {
        self.loopback = allow;
    }

    fn allows(&self, headers: &HeaderMap) -> bool {
        let mut values = headers.get_all(ORIGIN).iter();
        let Some(value) = values.next() else {
            return true;
        };
        if values.next().is_some() {
            return false;
        }
        self.allows_value(value)
    }

    /// Whether one `Origin` value is allowed.
    pub(crate) fn allows_value(&self, value: &HeaderValue) -> bool {
        let Some(origin) = value.to_str().ok().and_then(normalise) else {
            return false;
        };
        if self.allowed.contains(&origin) {
            return true;
        }
        self.loopback && UriParts::split(&origin).is_some_and(|p| is_loopback_host(p.host()))
    }
}

layer_service! {
    /// The service made by [`OriginGuardLayer`].
    OriginGuardLayer => OriginGuard { policy: OriginPolicy }
}

impl<S, B, ResBody> Service<Request<B>> for OriginGuard<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = OriginFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if self.policy.allows(req.headers()) {
            OriginFuture {
                kind: Kind::Inner {
                    fut: self.inner.call(req),
                },
            }
        } else {
            tracing::debug!(target: "mcp_oauth::resource", "request refused: Origin not allowed");
            OriginFuture {
                kind: Kind::Refused {
                    response: Some(jsonrpc_error(
                        StatusCode::FORBIDDEN,
                        "Forbidden: Origin not allowed",
                    )),
                },
            }
        }
    }
}

pin_project! {
    /// The response future of [`OriginGuard`].
    pub struct OriginFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner { #[pin] fut: F },
        Refused { response: Option<Response<Full<Bytes>>> },
    }
}

impl<F> std::fmt::Debug for OriginFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OriginFuture").finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for OriginFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { fut } => fut.poll(cx).map_ok(|r| r.map(ResponseBody::inner)),
            KindProj::Refused { response } => match response.take() {
                Some(r) => Poll::Ready(Ok(r.map(ResponseBody::refusal))),
                // Polled after completion: never resolves again (and never panics).
                None => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_origin(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(ORIGIN, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn localhost_default() {
        let g = OriginGuardLayer::default();
        assert!(g.allows(&HeaderMap::new()));
        for ok in [
            "http://localhost:3000",
            "https://LOCALHOST",
            "http://127.0.0.1:6274",
            "http://[::1]:8080",
        ] {
            assert!(g.allows(&with_origin(&[ok])), "{ok}");
        }
        for bad in [
            "https://evil.example",
            "http://localhost.evil.example",
            "http://127.0.0.1.nip.io",
            "null",
            "file://",
            "http://user@localhost",
            "",
        ] {
            assert!(!g.allows(&with_origin(&[bad])), "{bad}");
        }
        assert!(!g.allows(&with_origin(&["http://localhost", "http://localhost"])));
    }

    #[test]
    fn explicit_allow_list() {
        let g = OriginGuardLayer::only(["https://App.Example", "http://host:8080"]);
        assert!(g.allows(&with_origin(&["https://app.example"])));
        assert!(g.allows(&with_origin(&["http://host:8080"])));
        assert!(!g.allows(&with_origin(&["http://host:8081"])));
        assert!(!g.allows(&with_origin(&["http://app.example"])));
        assert!(!g.allows(&with_origin(&["http://localhost:3000"])));
        let g = g.allow_loopback(true).allow("https://other.example");
        assert!(g.allows(&with_origin(&["http://localhost:3000"])));
        assert!(g.allows(&with_origin(&["https://other.example"])));
    }
}
