//! `POST /device_authorization` (RFC 8628 §3.1–3.2): a client on a device without a usable
//! browser asks for a device code to poll with and a user code for its user to enter at
//! `/device`.
//!
//! The client authenticates as at `/token` (public clients name themselves with `client_id`,
//! §3.1), must be registered for the device grant, and names its resource and scopes by the
//! rules of the authorization code grant (RFC 8707, [`resolve_target`]). Errors are RFC 6749
//! §5.2 JSON.

use crate::audit::{self, AuditEvent, AuditKind};
use crate::authorization_request::{TargetRefusal, resolve_target};
use crate::client_auth::authenticate;
use crate::device;
use crate::error::{OAuthError, no_store_json};
use crate::handlers::form;
use crate::model::{DeviceAuthorization, DeviceStatus};
use crate::state::AppState;
use crate::store::StoreError;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::ErrorCode;
use mcp_oauth_core::secret::{random_token, sha256_b64url};
use mcp_oauth_core::token::grant_type;

/// Draws of a user code before giving up: a collision with a live code is rare (a few
/// thousand live codes among 2.6·10^10), several in a row mean something else is wrong.
const USER_CODE_DRAWS: usize = 5;

/// `POST /device_authorization`. The per-address budget of `/token` comes first, before the
/// body is read.
pub async fn post(State(state): State<AppState>, req: Request) -> Response {
    if let Some(refused) =
        crate::handlers::limits::token_ip_refusal(&state, crate::handlers::limits::peer_ip(&req))
            .await
    {
        return refused;
    }
    let (parts, body) = req.into_parts();
    match handle(&state, &parts.headers, body).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(target: "mcp_oauth::device", error = %e.code, description = %e.description, "device authorization refused");
            e.into_response()
        }
    }
}

async fn handle(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<Response, OAuthError> {
    let mut params = form::read(headers, body, state.config().max_body_bytes).await?;
    let client = authenticate(state, headers, &mut params, true).await?;
    let client = &client.client;
    if !client.allows_grant(grant_type::DEVICE_CODE) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for the device authorization grant",
        ));
    }
    let (resource, scope) =
        match resolve_target(state, client, params.get("resource"), params.get("scope")).await {
            Ok(t) => t,
            Err(TargetRefusal::Store(e)) => return Err(e.into()),
            Err(TargetRefusal::Invalid(code, description)) => {
                return Err(OAuthError::new(code, description));
            }
        };
    let now = state.now();
    let cfg = state.config();
    let device_code = random_token(32);
    let mut record = DeviceAuthorization {
        device_code_hash: sha256_b64url(device_code.as_bytes()),
        user_code_hash: String::new(),
        client_id: client.client_id.clone(),
        resource: resource.uri.clone(),
        scope,
        created_at: now,
        expires_at: now + cfg.device_code_ttl,
        interval: cfg.device_poll_interval,
        last_poll_at: None,
        status: DeviceStatus::Pending,
    };
    let mut user_code = None;
    for _ in 0..USER_CODE_DRAWS {
        let candidate = device::new_user_code();
        record.user_code_hash = device::user_code_hash(&state.0.device_hmac, &candidate);
        match state.store().insert_device_authorization(&record).await {
            Ok(()) => {
                user_code = Some(candidate);
                break;
            }
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let Some(user_code) = user_code else {
        return Err(OAuthError::internal(
            "draw a unique user code",
            "every draw collided with a live code",
        ));
    };
    tracing::info!(target: "mcp_oauth::device", client_id = %client.client_id, resource = %record.resource, "device authorization issued");
    audit::record(
        state.store().as_ref(),
        AuditEvent::new(AuditKind::DeviceAuthorizationIssued, now)
            .client(client.client_id.as_str())
            .detail(
                serde_json::json!({"resource": record.resource, "scope": record.scope.to_string()}),
            ),
    )
    .await;
    let shown = device::display(&user_code);
    let verification_uri = cfg.endpoint("/device");
    let complete = url::Url::parse_with_params(&verification_uri, [("user_code", shown.as_str())])
        .map(String::from)
        .unwrap_or_else(|_| verification_uri.clone());
    Ok(no_store_json(
        StatusCode::OK,
        &serde_json::json!({
            "device_code": device_code,
            "user_code": shown,
            "verification_uri": verification_uri,
            "verification_uri_complete": complete,
            "expires_in": cfg.device_code_ttl,
            "interval": cfg.device_poll_interval,
        }),
    ))
}
