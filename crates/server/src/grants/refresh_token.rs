//! The refresh token grant (RFC 6749 §6, OAuth 2.1 §4.3.1) with rotation and reuse detection.
//!
//! Every use rotates the token. Presenting a rotated token again revokes the whole family
//! (RFC 9700 §4.14.2), except within `refresh_grace` seconds of the rotation when the successor is
//! still unused: that is a client retrying after a lost response, and it gets the same successor.

use crate::audit::{self, AuditEvent, AuditKind};
use crate::client_auth::AuthenticatedClient;
use crate::error::OAuthError;
use crate::grants::{bearer, bound, check_resource};
use crate::model::{RefreshToken, RotateOutcome};
use crate::state::AppState;
use crate::tokens::{
    AccessTokenRequest, bind_refresh_token, is_bound_refresh_token, issue_access_token,
    refresh_binding_allows, successor_refresh_token,
};
use mcp_oauth_core::form::OAuthParams;
use mcp_oauth_core::secret::sha256_b64url;
use mcp_oauth_core::token::TokenResponse;
use mcp_oauth_core::{ErrorCode, ScopeSet};

/// Exchanges a refresh token for a new access token and its successor.
pub async fn exchange(
    state: &AppState,
    client: &AuthenticatedClient,
    params: OAuthParams,
    dpop_jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let presented = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    // A bound token is refused without a proof of its key before anything is looked up or
    // rotated: a thief holding it cannot even burn the family (RFC 9449 §5).
    if !refresh_binding_allows(&state.0.refresh_hmac, presented, dpop_jkt) {
        return Err(OAuthError::invalid_grant(
            "the refresh token is bound to a DPoP key; present a DPoP proof of that key",
        ));
    }
    let presented_hash = sha256_b64url(presented.as_bytes());
    let now = state.now();
    // Check ownership before rotating, so another client cannot burn someone's family.
    let Some((_, grant)) = state.store().get_refresh(&presented_hash).await? else {
        return Err(OAuthError::invalid_grant("the refresh token is invalid"));
    };
    if grant.client_id != client.client.client_id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    check_resource(params.get("resource"), &grant.resource)?;
    let narrowed = match params.get("scope").map(ScopeSet::parse) {
        None => None,
        Some(Err(e)) => return Err(OAuthError::new(ErrorCode::InvalidScope, e.to_string())),
        Some(Ok(s)) if grant.scope.is_superset(&s) => Some(s),
        Some(Ok(_)) => {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "a refresh may narrow the granted scope, never widen it",
            ));
        }
    };
    let mut successor_plain = successor_refresh_token(&state.0.refresh_hmac, presented);
    if let Some(jkt) = dpop_jkt.filter(|_| is_bound_refresh_token(presented)) {
        successor_plain = bind_refresh_token(&state.0.refresh_hmac, &successor_plain, jkt);
    }
    let successor = RefreshToken {
        token_hash: sha256_b64url(successor_plain.as_bytes()),
        grant_id: grant.id.clone(),
        created_at: now,
        expires_at: now + state.config().refresh_token_ttl,
        rotated_at: None,
        successor_hash: None,
    };
    let grant = match state
        .store()
        .rotate_refresh(
            &presented_hash,
            &successor,
            now,
            state.config().refresh_grace,
        )
        .await?
    {
        RotateOutcome::Rotated(g) | RotateOutcome::GraceRetry(g) => g,
        RotateOutcome::Reused { grant_id } => {
            state.metrics().refresh_reuse();
            tracing::warn!(target: "mcp_oauth::token", client_id = %client.client.client_id, %grant_id, "refresh token reuse detected; family revoked");
            let mut event = AuditEvent::new(AuditKind::RefreshReuse, now)
                .client(client.client.client_id.as_str())
                .detail(serde_json::json!({"grant_id": grant_id}));
            event.user_id = grant.user_id.clone();
            audit::record(state.store().as_ref(), event).await;
            state.revoke_upstream_queued().await;
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used",
            ));
        }
        RotateOutcome::Invalid => {
            return Err(OAuthError::invalid_grant(
                "the refresh token is invalid, expired or revoked",
            ));
        }
        // Checked inside the rotation's atomic step: nothing was rotated, so the same token
        // refreshes again once the account is enabled.
        RotateOutcome::AccountDisabled => {
            return Err(OAuthError::invalid_grant("the account is disabled"));
        }
    };
    let scope = narrowed.unwrap_or_else(|| grant.scope.clone());
    let scope_str = scope.to_string();
    let subject = grant.user_id.as_deref().unwrap_or(&grant.client_id);
    let (access, ttl) = issue_access_token(
        state,
        AccessTokenRequest {
            client_id: &grant.client_id,
            subject,
            resource: &grant.resource,
            scope: Some(&scope_str),
            grant_id: Some(&grant.id),
            auth_time: grant.auth_time,
            cnf_jkt: dpop_jkt,
        },
    )?;
    Ok(bound(
        bearer(access, ttl, Some(successor_plain), scope.to_string()),
        dpop_jkt,
    ))
}
