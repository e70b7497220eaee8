//! The per-address budgets of `/token`, `/authorize` and `/login` applied to requests (the buckets
//! themselves are [`crate::rate_limit`]): `429 slow_down` JSON at the token endpoint, a `429` page
//! at the browser ones.

use crate::error::OAuthError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// The TCP peer's address. Without connection info (a router served without it) every caller
/// shares one bucket: stricter, never looser.
pub fn peer_ip(req: &Request) -> IpAddr {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// The `POST /token` per-address budget: the `429 slow_down` answer when it is spent.
pub async fn token_ip_refusal(state: &AppState, ip: IpAddr) -> Option<Response> {
    if let Some(l) = &state.0.limits.token_ip
        && let Err(wait) = l.take(&ip, state.now()).await
    {
        tracing::debug!(target: "mcp_oauth::token", %ip, "token rate limit (per IP) hit");
        return Some(OAuthError::rate_limited(wait).into_response());
    }
    None
}

/// Middleware of `GET /authorize`: the per-address budget, answered with a `429` page.
pub async fn authorize_per_ip(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(l) = &state.0.limits.authorize_ip
        && let Err(wait) = l.take(&peer_ip(&req), state.now()).await
    {
        tracing::warn!(target: "mcp_oauth::authorize", ip = %peer_ip(&req), "authorization rate limit (per IP) hit");
        return too_many_page(wait);
    }
    next.run(req).await
}

/// Middleware of `POST /login`: the per-address budget, answered with a `429` page before the
/// form is read or a password hashed.
pub async fn login_per_ip(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(l) = &state.0.limits.login_ip
        && let Err(wait) = l.take(&peer_ip(&req), state.now()).await
    {
        tracing::warn!(target: "mcp_oauth::login", ip = %peer_ip(&req), "login rate limit (per IP) hit");
        return too_many_page(wait);
    }
    next.run(req).await
}

fn too_many_page(wait: u64) -> Response {
    crate::ui::PageError::too_many_requests(wait).into_response()
}
