//! The device authorization grant at `/token` (RFC 8628 §3.4–3.5).
//!
//! One poll is one atomic step of the store ([`crate::store::DeviceStore::poll_device_authorization`]
//! by the rule `rules::decide_poll`): pending, `slow_down` (the interval grows by 5 s and is
//! remembered), `access_denied` (once), `expired_token`, or the grant with its first refresh
//! token, after which the device code is gone: of concurrent polls exactly one gets tokens.
//! The tokens are those of the authorization code grant: a JWT access token for the approved
//! resource, a rotating refresh token, both DPoP-bound when a proof came with the poll.

use crate::audit::{self, AuditEvent, AuditKind};
use crate::client_auth::AuthenticatedClient;
use crate::error::OAuthError;
use crate::grants::family::NewFamily;
use crate::grants::{bearer, bound, check_resource};
use crate::model::DevicePoll;
use crate::state::AppState;
use crate::tokens::{AccessTokenRequest, issue_access_token};
use axum::http::StatusCode;
use mcp_oauth_core::ErrorCode;
use mcp_oauth_core::form::OAuthParams;
use mcp_oauth_core::secret::sha256_b64url;
use mcp_oauth_core::token::TokenResponse;

/// Polls with a device code; tokens once the user approved.
pub async fn exchange(
    state: &AppState,
    client: &AuthenticatedClient,
    params: OAuthParams,
    dpop_jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let device_code = params
        .get("device_code")
        .ok_or_else(|| OAuthError::invalid_request("device_code is required"))?;
    let now = state.now();
    let client_id = client.client.client_id.as_str();
    let family = NewFamily::new(state, client, dpop_jkt, now);
    let outcome = state
        .store()
        .poll_device_authorization(
            &sha256_b64url(device_code.as_bytes()),
            client_id,
            now,
            &family.pending,
            family.refresh.as_ref(),
        )
        .await?;
    let grant = match outcome {
        DevicePoll::Redeemed(g) => g,
        DevicePoll::Pending => {
            return Err(OAuthError::new(
                ErrorCode::AuthorizationPending,
                "the user has not yet approved or denied the request",
            ));
        }
        DevicePoll::SlowDown { interval } => {
            return Err(OAuthError::new(
                ErrorCode::SlowDown,
                format!("polled too soon; wait {interval} seconds between polls"),
            )
            .with_status(StatusCode::BAD_REQUEST));
        }
        DevicePoll::Denied => {
            return Err(OAuthError::new(
                ErrorCode::AccessDenied,
                "the user denied the request",
            ));
        }
        DevicePoll::Expired => {
            return Err(OAuthError::new(
                ErrorCode::ExpiredToken,
                "the device code expired; start a new device authorization",
            ));
        }
        DevicePoll::OtherClient => {
            tracing::warn!(target: "mcp_oauth::token", client_id, "a device code of another client was presented");
            return Err(OAuthError::invalid_grant(
                "the device code is invalid, or was issued to another client",
            ));
        }
        DevicePoll::NotFound => {
            return Err(OAuthError::invalid_grant(
                "the device code is invalid, or was issued to another client",
            ));
        }
    };
    // RFC 8707 §2.2: a `resource` on the poll may only repeat the approved one. The code is spent
    // already, so a mismatch also ends the grant, as a failed check of a code does.
    if let Err(e) = check_resource(params.get("resource"), &grant.resource) {
        if let Err(err) = state.store().revoke_grant(&grant.id, now).await {
            tracing::error!(target: "mcp_oauth::token", error = %err, "revoking a grant after a failed resource check failed");
        }
        return Err(e);
    }
    let user_id = grant.user_id.clone().unwrap_or_default();
    audit::record(
        state.store().as_ref(),
        AuditEvent::new(AuditKind::DeviceCodeRedeemed, now)
            .client(client_id)
            .user(user_id.as_str())
            .detail(serde_json::json!({"grant": grant.id, "resource": grant.resource})),
    )
    .await;
    let scope_str = grant.scope.to_string();
    let (access, ttl) = issue_access_token(
        state,
        AccessTokenRequest {
            client_id,
            subject: &user_id,
            resource: &grant.resource,
            scope: Some(&scope_str),
            grant_id: Some(&grant.id),
            auth_time: grant.auth_time,
            cnf_jkt: dpop_jkt,
        },
    )?;
    tracing::info!(target: "mcp_oauth::token", client_id, grant = "device_code", "tokens issued");
    Ok(bound(
        bearer(access, ttl, family.refresh_plain, scope_str),
        dpop_jkt,
    ))
}
