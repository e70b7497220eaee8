//! `POST /revoke` (RFC 7009).
//!
//! A refresh token revokes its whole family, and with it the access tokens the family issued
//! (introspection then reports them inactive). An access token is revoked by its `jti` until it
//! expires. Unknown or already invalid tokens get `200` (RFC 7009 §2.2). A token issued to another
//! client is not revoked and the request is refused (RFC 7009 §2.1). Revoking a family deletes
//! the upstream tokens kept with it (federated login) and revokes them at the upstream where it
//! offers RFC 7009.

use crate::audit::{self, AuditEvent, AuditKind};
use crate::client_auth::authenticate;
use crate::error::OAuthError;
use crate::handlers::form;
use crate::state::AppState;
use crate::tokens::{GRANT_CLAIM, verify_own_access_token};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::secret::sha256_b64url;

/// `POST /revoke`.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match handle(&state, &headers, body).await {
        Ok(()) => {
            let mut r = StatusCode::OK.into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => e.into_response(),
    }
}

async fn handle(state: &AppState, headers: &HeaderMap, body: Body) -> Result<(), OAuthError> {
    let mut params = form::read(headers, body, state.config().max_body_bytes).await?;
    let client = authenticate(state, headers, &mut params, true).await?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    // `token_type_hint` only orders a search; both kinds are always looked for (RFC 7009 §2.1).
    let now = state.now();
    let not_yours = || OAuthError::invalid_request("the token was not issued to this client");
    if let Some((_, grant)) = state
        .store()
        .get_refresh(&sha256_b64url(token.as_bytes()))
        .await?
    {
        if grant.client_id != client.client.client_id {
            return Err(not_yours());
        }
        if state.store().revoke_grant(&grant.id, now).await? {
            // Its kept upstream tokens were queued: revoked at the provider too.
            state.revoke_upstream_queued().await;
            tracing::info!(target: "mcp_oauth::revoke", client_id = %grant.client_id, grant_id = %grant.id, "refresh token family revoked");
            let mut event = AuditEvent::new(AuditKind::TokenRevoked, now)
                .client(grant.client_id.as_str())
                .detail(serde_json::json!({"token": "refresh_token", "grant_id": grant.id}));
            event.user_id = grant.user_id.clone();
            audit::record(state.store().as_ref(), event).await;
        }
        return Ok(());
    }
    if let Some(claims) = verify_own_access_token(state, token) {
        if claims.client_id != client.client.client_id {
            return Err(not_yours());
        }
        state
            .store()
            .revoke_access_token(&claims.jti, claims.exp)
            .await?;
        tracing::info!(target: "mcp_oauth::revoke", client_id = %claims.client_id, grant = ?claims.extra.get(GRANT_CLAIM), "access token revoked");
        audit::record(
            state.store().as_ref(),
            AuditEvent::new(AuditKind::TokenRevoked, now)
                .client(claims.client_id.as_str())
                .detail(serde_json::json!({"token": "access_token", "jti": claims.jti, "grant_id": claims.extra.get(GRANT_CLAIM)})),
        )
        .await;
    }
    Ok(())
}
