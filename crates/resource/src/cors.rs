//! CORS for browser-based MCP clients (the MCP Inspector's "Direct" connection, web apps).
//!
//! The guard answers a CORS preflight (`OPTIONS` with `Origin` and
//! `Access-Control-Request-Method`) itself and never hands one to the protected service: a
//! preflight carries no credentials, so forwarding it would let anyone reach the MCP server
//! without a token (and a preflight can carry a body). For an allowed origin it answers `204`
//! with what an MCP client needs; for any other origin `403` without CORS headers, so the browser
//! refuses the real request.
//!
//! Every other response to an allowed origin, the guard's own refusals (`401`, `403`, `400`,
//! ...) included, carries `Access-Control-Allow-Origin: <origin>`, `Vary: Origin` and
//! `Access-Control-Expose-Headers: WWW-Authenticate, Mcp-Session-Id`: without them a browser
//! client can read neither the challenge (and so never finds the metadata) nor its session id.
//!
//! Allowed by default: loopback origins on any port (`http://localhost:6274`, the Inspector);
//! add others with [`crate::RequireBearerBuilder::cors_allow_origin`]. No credentials mode:
//! bearer tokens travel in `Authorization`, never in cookies.

use crate::origin::OriginPolicy;
use crate::response::jsonrpc_error;
use bytes::Bytes;
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD,
    CACHE_CONTROL, HeaderValue, ORIGIN, VARY,
};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::Full;

/// The methods of the MCP Streamable HTTP transport.
pub const ALLOW_METHODS: &str = "GET, POST, DELETE";
/// The request headers an MCP client sends.
pub const ALLOW_HEADERS: &str =
    "authorization, content-type, dpop, mcp-protocol-version, mcp-session-id, last-event-id";
/// The response headers a browser client must be able to read.
pub const EXPOSE_HEADERS: &str = "WWW-Authenticate, Mcp-Session-Id";
/// How long a browser may cache a preflight answer (seconds).
pub const MAX_AGE_SECONDS: u32 = 600;

/// Which browser origins get CORS answers. See the module documentation.
#[derive(Debug, Clone)]
pub(crate) enum Cors {
    /// The guard does no CORS (an outer layer does): preflights are treated as any other
    /// request, so they need a token like everything else.
    Off,
    /// Preflights answered by the guard; CORS headers for the allowed origins.
    On(OriginPolicy),
}

impl Default for Cors {
    fn default() -> Self {
        Cors::On(OriginPolicy::loopback())
    }
}

impl Cors {
    /// The request's `Origin`, when CORS is on and it is allowed.
    pub(crate) fn allowed_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let Cors::On(policy) = self else {
            return None;
        };
        let mut values = headers.get_all(ORIGIN).iter();
        let value = values.next()?;
        if values.next().is_some() {
            return None;
        }
        policy.allows_value(value).then(|| value.clone())
    }

    /// Whether the guard answers this request itself as a preflight.
    pub(crate) fn is_preflight<B>(&self, req: &Request<B>) -> bool {
        matches!(self, Cors::On(_)) && is_preflight(req)
    }
}

/// `OPTIONS` with `Origin` and `Access-Control-Request-Method`: a CORS preflight.
pub(crate) fn is_preflight<B>(req: &Request<B>) -> bool {
    req.method() == Method::OPTIONS
        && req.headers().contains_key(ORIGIN)
        && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

/// The answer to a preflight: `204` with the CORS grant for an allowed origin, `403` with a
/// JSON-RPC error and no CORS headers otherwise (the browser then refuses the real request).
pub(crate) fn preflight(allowed: Option<HeaderValue>) -> Response<Full<Bytes>> {
    let Some(origin) = allowed else {
        return jsonrpc_error(StatusCode::FORBIDDEN, "Forbidden: Origin not allowed");
    };
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    h.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(MAX_AGE_SECONDS));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    decorate(h, origin);
    resp
}

/// Adds the CORS headers of an allowed origin to a response (the guard's or the service's).
pub(crate) fn decorate(h: &mut HeaderMap, origin: HeaderValue) {
    h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    h.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
    let varies = h.get_all(VARY).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("origin"))
        })
    });
    if !varies {
        h.append(VARY, HeaderValue::from_static("Origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().method(method).uri("/mcp");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn preflight_detection_and_origins() {
        let cors = Cors::default();
        let p = req(
            Method::OPTIONS,
            &[
                ("origin", "http://localhost:6274"),
                ("access-control-request-method", "POST"),
            ],
        );
        assert!(cors.is_preflight(&p));
        assert!(!Cors::Off.is_preflight(&p));
        assert!(!cors.is_preflight(&req(Method::OPTIONS, &[("origin", "http://localhost")])));
        assert_eq!(
            cors.allowed_origin(p.headers()).unwrap(),
            "http://localhost:6274"
        );
        let evil = req(Method::POST, &[("origin", "https://evil.example")]);
        assert!(cors.allowed_origin(evil.headers()).is_none());
        assert!(Cors::Off.allowed_origin(p.headers()).is_none());
        let listed = Cors::On(OriginPolicy::loopback().with("https://app.example"));
        let app = req(Method::POST, &[("origin", "https://APP.example")]);
        assert!(listed.allowed_origin(app.headers()).is_some());
    }

    #[test]
    fn preflight_answers() {
        let r = preflight(Some(HeaderValue::from_static("http://127.0.0.1:6274")));
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let h = r.headers();
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "http://127.0.0.1:6274");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_METHODS], ALLOW_METHODS);
        assert_eq!(h[ACCESS_CONTROL_ALLOW_HEADERS], ALLOW_HEADERS);
        assert_eq!(h[VARY], "Origin");
        let r = preflight(None);
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        assert!(r.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        let mut h = HeaderMap::new();
        h.insert(VARY, HeaderValue::from_static("accept, origin"));
        decorate(&mut h, HeaderValue::from_static("http://localhost"));
        assert_eq!(h.get_all(VARY).iter().count(), 1);
    }
}
