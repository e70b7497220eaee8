//! The authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.6, RFC 8707 §2.2).
//!
//! The code is spent atomically with the creation of its grant, *before* its bindings are
//! checked: a request with the wrong verifier or redirect URI still burns the code and revokes
//! what it produced, so a stolen code cannot be retried with guesses.

use crate::audit::{self, AuditEvent, AuditKind};
use crate::client_auth::AuthenticatedClient;
use crate::error::OAuthError;
use crate::grants::family::NewFamily;
use crate::grants::{bearer, bound, check_resource};
use crate::model::RedeemOutcome;
use crate::state::AppState;
use crate::tokens::{AccessTokenRequest, issue_access_token};
use mcp_oauth_core::form::OAuthParams;
use mcp_oauth_core::pkce;
use mcp_oauth_core::secret::sha256_b64url;
use mcp_oauth_core::token::TokenResponse;

/// Exchanges a code for tokens.
pub async fn exchange(
    state: &AppState,
    client: &AuthenticatedClient,
    params: OAuthParams,
    dpop_jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    let code = params
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let verifier = params
        .get("code_verifier")
        .ok_or_else(|| OAuthError::invalid_request("code_verifier is required (PKCE)"))?;
    if !pkce::is_valid_verifier(verifier) {
        return Err(OAuthError::invalid_request(
            "code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]",
        ));
    }
    let now = state.now();
    let family = NewFamily::new(state, client, dpop_jkt, now);
    // The store fills user, resource, scope and auth time from the code it spends.
    let code_hash = sha256_b64url(code.as_bytes());
    let outcome = state
        .store()
        .redeem_code(&code_hash, now, &family.pending, family.refresh.as_ref())
        .await?;
    let record = match outcome {
        RedeemOutcome::Redeemed(c) => c,
        RedeemOutcome::Replayed { revoked_grant } => {
            tracing::warn!(target: "mcp_oauth::token", client_id = %client.client.client_id, revoked_grant = ?revoked_grant, "authorization code replayed; its grant is revoked");
            audit::record(
                state.store().as_ref(),
                AuditEvent::new(AuditKind::CodeReplay, now)
                    .client(client.client.client_id.as_str())
                    .detail(serde_json::json!({"revoked_grant": revoked_grant})),
            )
            .await;
            state.revoke_upstream_queued().await;
            return Err(OAuthError::invalid_grant(
                "the authorization code was already used",
            ));
        }
        RedeemOutcome::NotFound => {
            return Err(OAuthError::invalid_grant(
                "the authorization code is invalid or expired",
            ));
        }
    };
    let gid = family.pending.id.as_str();
    let reject = |err: OAuthError| async move {
        if let Err(e) = state.store().revoke_grant(gid, now).await {
            tracing::error!(target: "mcp_oauth::token", error = %e, "revoking a grant after a failed code check failed");
        }
        state.revoke_upstream_queued().await;
        Err::<TokenResponse, _>(err)
    };
    if record.client_id != client.client.client_id {
        return reject(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ))
        .await;
    }
    match params.get("redirect_uri") {
        Some(r) if r == record.redirect_uri => {}
        _ => {
            return reject(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ))
            .await;
        }
    }
    if pkce::verify_s256(verifier, &record.code_challenge) != Ok(true) {
        return reject(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ))
        .await;
    }
    if let Err(e) = check_resource(params.get("resource"), &record.resource) {
        return reject(e).await;
    }
    let scope_str = record.scope.to_string();
    let (access, ttl) = issue_access_token(
        state,
        AccessTokenRequest {
            client_id: &record.client_id,
            subject: &record.user_id,
            resource: &record.resource,
            scope: Some(&scope_str),
            grant_id: Some(gid),
            auth_time: Some(record.auth_time),
            cnf_jkt: dpop_jkt,
        },
    )?;
    tracing::info!(target: "mcp_oauth::token", client_id = %record.client_id, grant = "authorization_code", "tokens issued");
    Ok(bound(
        bearer(access, ttl, family.refresh_plain, record.scope.to_string()),
        dpop_jkt,
    ))
}
