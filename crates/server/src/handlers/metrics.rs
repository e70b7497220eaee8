//! `GET /metrics` (on the main listener behind a token, or alone on a private listener) and the
//! middleware that records every routed request's latency.

use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::secret::sha256_b64url;
use std::time::Instant;
use subtle::ConstantTimeEq;

/// Middleware recording the latency of every routed request.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("other", |p| crate::metrics::endpoint_name(p.as_str()));
    let start = Instant::now();
    let resp = next.run(req).await;
    state
        .metrics()
        .observe_latency(endpoint, start.elapsed().as_secs_f64());
    resp
}

/// `GET /metrics`.
/// `GET /metrics` on the main listener: with the configured bearer token (`401` with a Bearer
/// challenge otherwise); without one configured, only in `dev` (`404` otherwise, as if absent).
pub async fn serve_main(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match state.config().metrics_token.as_deref() {
        Some(expected) => {
            let presented = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.split_once(' ')
                        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                })
                .map(|(_, t)| t.trim());
            // Hashes first, so the comparison's time says nothing about the length either.
            let ok = presented.is_some_and(|p| {
                sha256_b64url(p.as_bytes())
                    .as_bytes()
                    .ct_eq(sha256_b64url(expected.as_bytes()).as_bytes())
                    .into()
            });
            if !ok {
                let mut r = StatusCode::UNAUTHORIZED.into_response();
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"metrics\""),
                );
                return r;
            }
        }
        None if state.config().dev => {}
        None => return (StatusCode::NOT_FOUND, "not found").into_response(),
    }
    serve(State(state)).await
}

/// `GET /metrics` without a check: for the separate metrics listener, which the operator keeps
/// private.
pub async fn serve(State(state): State<AppState>) -> Response {
    if let Some((open, idle)) = state.store().pool_stats() {
        state.metrics().set_pool(open, idle);
    }
    let mut r = state.metrics().encode().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}
