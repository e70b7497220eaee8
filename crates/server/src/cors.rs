//! CORS for the endpoints a browser-based MCP client calls itself.
//!
//! An MCP client that runs in a web page (the MCP Inspector's "Direct" connection, a web IDE)
//! reads the metadata and the JWKS, registers (RFC 7591/7592), redeems its code and refreshes
//! (`/token`) and revokes (`/revoke`) with `fetch` from its own origin. Those endpoints use no
//! cookies and no ambient authority: every request carries its own credentials (PKCE verifier,
//! client secret, registration access token) in headers or the body. So `*` is safe for them and
//! is the default; a configured origin list narrows it to echoing the allowed origins (with
//! `Vary: Origin`). Credentials mode (`Access-Control-Allow-Credentials`) is never enabled.
//!
//! Everything a browser must only reach by navigation — `/authorize`, the login and consent pages,
//! whose session cookie must never be usable cross-origin — and the confidential or operator
//! surfaces (`/introspect`, `/metrics`, health) get no CORS headers at all: the router applies
//! this layer to the browser endpoints only.
//!
//! Preflights (`OPTIONS` with `Access-Control-Request-Method`) are answered here with `204` and
//! never reach a handler; every other answer of those endpoints, errors included, carries
//! `Access-Control-Allow-Origin` and exposes `WWW-Authenticate` and `Retry-After`, so a page can
//! read why it was refused.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The request headers a browser client may send: `authorization` (client secret by Basic, an
/// initial or registration access token, RFC 7591 §3 / RFC 7592 §2), `content-type` (JSON for
/// registration, a form for the token endpoint) and `mcp-protocol-version`, which MCP SDKs add to
/// their discovery requests, and `dpop` (a DPoP proof, RFC 9449).
pub const ALLOWED_HEADERS: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    HeaderName::from_static("mcp-protocol-version"),
    HeaderName::from_static("dpop"),
];

/// The response headers a page may read besides the CORS-safelisted ones: the challenge of a
/// refused client authentication, how long to wait after `429`, and a DPoP server nonce.
pub const EXPOSED_HEADERS: [HeaderName; 3] = [
    header::WWW_AUTHENTICATE,
    header::RETRY_AFTER,
    HeaderName::from_static("dpop-nonce"),
];

/// How long a browser may cache a preflight answer: an hour (browsers cap it lower anyway).
const MAX_AGE: Duration = Duration::from_secs(3600);

/// The CORS layer of the browser endpoints. `allowed_origins` empty: any origin (`*`); otherwise
/// exactly those origins (already normalised by [`crate::ServerConfig::validate`]), echoed.
pub fn layer(allowed_origins: &[String]) -> CorsLayer {
    let base = CorsLayer::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(ALLOWED_HEADERS)
        .expose_headers(EXPOSED_HEADERS)
        .max_age(MAX_AGE);
    if allowed_origins.is_empty() {
        // The answer does not depend on the origin, so nothing to vary on.
        base.allow_origin(AllowOrigin::any())
            .vary(Vec::<HeaderName>::new())
    } else {
        let origins = allowed_origins
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok());
        base.allow_origin(AllowOrigin::list(origins))
            .vary([header::ORIGIN])
    }
}

/// Turns the CORS layer's preflight answer (`200` with an empty body) into `204 No Content`,
/// which says the same without suggesting there is content. Sits outside [`layer`].
pub async fn preflight_no_content(req: Request, next: Next) -> Response {
    let preflight = req.method() == Method::OPTIONS;
    let mut resp = next.run(req).await;
    if preflight && resp.status() == StatusCode::OK {
        *resp.status_mut() = StatusCode::NO_CONTENT;
    }
    resp
}

/// Checks one configured origin: `scheme://host[:port]` as a browser sends it in `Origin`, no
/// path, no trailing slash. Returns it in lower case (browsers serialise origins in lower case).
pub fn normalise_origin(origin: &str) -> Result<String, &'static str> {
    let o = origin.trim().to_ascii_lowercase();
    let url = url::Url::parse(&o).map_err(|_| "entries are origins: scheme://host[:port]")?;
    if !matches!(url.scheme(), "https" | "http")
        || url.host_str().is_none()
        || url.origin().ascii_serialization() != o
    {
        return Err("entries are origins: scheme://host[:port], no path and no trailing slash");
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked_and_normalised() {
        assert_eq!(
            normalise_origin(" HTTP://LocalHost:6274 ").as_deref(),
            Ok("http://localhost:6274")
        );
        assert_eq!(
            normalise_origin("https://app.example").as_deref(),
            Ok("https://app.example")
        );
        for bad in [
            "https://app.example/",
            "https://app.example/path",
            "app.example",
            "*",
            "null",
            "ftp://app.example",
            "https://u@app.example",
        ] {
            assert!(normalise_origin(bad).is_err(), "{bad}");
        }
    }
}
