//! `POST /register` (RFC 7591) and `GET`/`PUT`/`DELETE /register/{client_id}` (RFC 7592): the
//! HTTP side. The decisions are in [`crate::registration`].
//!
//! Registration is rate-limited per client IP before anything else is done (no body is read and
//! no storage touched for a request over the limit). Bodies must be `application/json` and at
//! most `max_body_bytes`. Bearer credentials (initial access tokens, registration access tokens)
//! are never logged.

use crate::audit::{self, AuditEvent, AuditKind};
use crate::config::RegistrationPolicy;
use crate::error::{OAuthError, no_store_json};
use crate::registration::{self, Outcome};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::ErrorCode;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// `POST /register`.
pub async fn register(State(state): State<AppState>, req: Request) -> Response {
    // Without connection info (a router served without it) every caller shares one bucket:
    // stricter, never looser.
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let (parts, body) = req.into_parts();
    match handle_register(&state, ip, &parts.headers, body).await {
        Ok(v) => no_store_json(StatusCode::CREATED, &v),
        Err(e) => refused(e),
    }
}

async fn handle_register(
    state: &AppState,
    ip: IpAddr,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, OAuthError> {
    if let Err(wait) = state.0.limits.register_ip.take(&ip, state.now()).await {
        tracing::warn!(target: "mcp_oauth::register", %ip, "registration rate limit hit");
        return Err(OAuthError::rate_limited(wait));
    }
    let authorized = match bearer_token(headers)? {
        Some(t) => {
            if !registration::initial_token_valid(state, t).await? {
                return Err(OAuthError::invalid_token(
                    "the initial access token is invalid or expired",
                ));
            }
            true
        }
        None if state.config().registration == RegistrationPolicy::Token => {
            return Err(OAuthError::invalid_token(
                "registration requires an initial access token (Authorization: Bearer <token>)",
            ));
        }
        None => false,
    };
    let body = read_json(headers, body, state.config().max_body_bytes).await?;
    let outcome = registration::register(state, &body, authorized).await?;
    audit::record(
        state.store().as_ref(),
        AuditEvent::new(AuditKind::ClientRegistered, state.now())
            .client(outcome.client.client_id.as_str())
            .ip(ip.to_string())
            .detail(serde_json::json!({
                "origin": outcome.client.origin.as_str(),
                "auth_method": outcome.client.token_endpoint_auth_method,
                "initial_access_token": authorized,
            })),
    )
    .await;
    Ok(registration::response(state, &outcome))
}

/// `GET /register/{client_id}` (RFC 7592 §2.1).
pub async fn read(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let client =
            registration::authorize_management(&state, &client_id, bearer_token(&headers)?).await?;
        Ok::<_, OAuthError>(registration::response(
            &state,
            &Outcome {
                client,
                client_secret: None,
                registration_access_token: None,
            },
        ))
    }
    .await;
    match result {
        Ok(v) => no_store_json(StatusCode::OK, &v),
        Err(e) => refused(e),
    }
}

/// `PUT /register/{client_id}` (RFC 7592 §2.2).
pub async fn update(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let client =
            registration::authorize_management(&state, &client_id, bearer_token(&headers)?).await?;
        let body = read_json(&headers, body, state.config().max_body_bytes).await?;
        let outcome = registration::update(&state, client, &body).await?;
        Ok::<_, OAuthError>(registration::response(&state, &outcome))
    }
    .await;
    match result {
        Ok(v) => no_store_json(StatusCode::OK, &v),
        Err(e) => refused(e),
    }
}

/// `DELETE /register/{client_id}` (RFC 7592 §2.3): `204` and the client is gone.
pub async fn delete(
    State(state): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        registration::authorize_management(&state, &client_id, bearer_token(&headers)?).await?;
        registration::delete(&state, &client_id).await?;
        Ok::<_, OAuthError>(())
    }
    .await;
    match result {
        Ok(()) => {
            let mut r = StatusCode::NO_CONTENT.into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => refused(e),
    }
}

fn refused(e: OAuthError) -> Response {
    tracing::debug!(target: "mcp_oauth::register", error = %e.code, description = %e.description, "registration request refused");
    e.into_response()
}

/// The bearer credential of the request, if it sent one. Another scheme, or a malformed value,
/// is a bad credential rather than none at all.
fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, OAuthError> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let Some(v) = all.next() else {
        return Ok(None);
    };
    if all.next().is_some() {
        return Err(OAuthError::invalid_request(
            "more than one Authorization header",
        ));
    }
    let v = v
        .to_str()
        .map_err(|_| OAuthError::invalid_token("malformed Authorization header"))?;
    match v.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(OAuthError::invalid_token(
            "use Authorization: Bearer with the access token",
        )),
    }
}

/// Reads a JSON body: `application/json`, at most `limit` bytes, valid JSON.
async fn read_json(headers: &HeaderMap, body: Body, limit: usize) -> Result<Value, OAuthError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mime = ct.split(';').next().unwrap_or_default().trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(
            OAuthError::invalid_request("the body must be application/json")
                .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        );
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        OAuthError::invalid_request(format!("the body is larger than {limit} bytes"))
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    })?;
    serde_json::from_slice(&bytes).map_err(|_| {
        OAuthError::new(
            ErrorCode::InvalidClientMetadata,
            "the body is not valid JSON",
        )
    })
}
