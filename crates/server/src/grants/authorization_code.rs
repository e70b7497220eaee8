//! The authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.6, RFC 8707 §2.2).
//!
//! The code is spent atomically with the creation of its grant, *before* its bindings are
//! checked: a request with the wrong verifier or redirect URI still burns the code and revokes
//! what it produced, so a stolen code cannot be retried with guesses.

use crate::audit::{self, AuditEvent, AuditKind};
use crate::client_auth::AuthenticatedClient;
use crate::error::OAuthError;
use crate::grants::{bearer, bound, check_resource};
use crate::model::{Grant, RedeemOutcome, RefreshToken};
use crate::state::AppState;
use crate::tokens::{
    AccessTokenRequest, bind_refresh_token, issue_access_token, new_refresh_token,
};
use mcp_oauth_core::form::OAuthParams;
use mcp_oauth_core::pkce;
use mcp_oauth_core::secret::{random_token, sha256_b64url};
use mcp_oauth_core::token::{TokenResponse, grant_type};

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
    let cfg = state.config();
    let grant_id = random_token(16);
    let issue_refresh =
        cfg.issue_refresh_tokens && client.client.allows_grant(grant_type::REFRESH_TOKEN);
    // RFC 9449 §5: a public client's refresh token is bound to its DPoP key (a confidential
    // client's is bound to its credentials already).
    let refresh_plain = issue_refresh.then(|| match dpop_jkt {
        Some(jkt) if !client.client.is_confidential() => {
            bind_refresh_token(&state.0.refresh_hmac, &new_refresh_token(), jkt)
        }
        _ => new_refresh_token(),
    });
    let refresh = refresh_plain.as_ref().map(|t| RefreshToken {
        token_hash: sha256_b64url(t.as_bytes()),
        grant_id: grant_id.clone(),
        created_at: now,
        expires_at: now + cfg.refresh_token_ttl,
        rotated_at: None,
        successor_hash: None,
    });
    // The store fills user, resource, scope and auth time from the code it spends.
    let code_hash = sha256_b64url(code.as_bytes());
    let pending = Grant {
        id: grant_id.clone(),
        client_id: client.client.client_id.clone(),
        user_id: None,
        resource: String::new(),
        scope: Default::default(),
        auth_time: None,
        created_at: now,
        expires_at: now + cfg.refresh_family_ttl,
        revoked_at: None,
    };
    let outcome = state
        .store()
        .redeem_code(&code_hash, now, &pending, refresh.as_ref())
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
    let gid = grant_id.as_str();
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
            grant_id: Some(&grant_id),
            auth_time: Some(record.auth_time),
            cnf_jkt: dpop_jkt,
        },
    )?;
    tracing::info!(target: "mcp_oauth::token", client_id = %record.client_id, grant = "authorization_code", "tokens issued");
    Ok(bound(
        bearer(access, ttl, refresh_plain, record.scope.to_string()),
        dpop_jkt,
    ))
}
