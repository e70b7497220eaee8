//! Token exchange (RFC 8693) for the MCP server behind a resource: it presents the user's
//! access token (ours) as `subject_token` and names an upstream as `audience`, and gets that
//! user's upstream access token, the one kept with the grant (refreshed first when it is about
//! to expire). MCP clients never see upstream tokens (no token passthrough): only a confidential
//! client an administrator registered for this grant and for the resource the token is for may
//! exchange, and only a live token (signature, expiry, not revoked, its grant not revoked).

use crate::client_auth::{AuthMethod, AuthenticatedClient};
use crate::error::OAuthError;
use crate::federation::FederationError;
use crate::state::AppState;
use crate::tokens::{GRANT_CLAIM, verify_own_access_token};
use mcp_oauth_core::ErrorCode;
use mcp_oauth_core::form::OAuthParams;
use mcp_oauth_core::resource::audience_matches;
use mcp_oauth_core::token::TokenResponse;

/// RFC 8693 §3: an OAuth 2.0 access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Exchanges a user's access token for their upstream access token.
pub async fn exchange(
    state: &AppState,
    client: &AuthenticatedClient,
    params: OAuthParams,
) -> Result<TokenResponse, OAuthError> {
    if client.method == AuthMethod::None || client.client.introspect_resources.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "token exchange is for a resource server's own confidential client (clients add --grant urn:ietf:params:oauth:grant-type:token-exchange --resource RESOURCE)",
        ));
    }
    let subject = params
        .get("subject_token")
        .ok_or_else(|| OAuthError::invalid_request("subject_token is required"))?;
    if params.get("subject_token_type") != Some(ACCESS_TOKEN_TYPE) {
        return Err(OAuthError::invalid_request(format!(
            "subject_token_type must be {ACCESS_TOKEN_TYPE}"
        )));
    }
    if params
        .get("requested_token_type")
        .is_some_and(|t| t != ACCESS_TOKEN_TYPE)
    {
        return Err(OAuthError::invalid_request(format!(
            "only {ACCESS_TOKEN_TYPE} can be requested"
        )));
    }
    if params.contains("actor_token") {
        return Err(OAuthError::invalid_request(
            "delegation (actor_token) is not supported",
        ));
    }
    let audience = params.get("audience").ok_or_else(|| {
        OAuthError::invalid_request("audience is required: name the upstream (its [[upstream]] id)")
    })?;
    let unknown = || {
        OAuthError::new(
            ErrorCode::InvalidTarget,
            format!("`{audience}` is not an upstream identity provider of this server"),
        )
    };
    if state.upstreams().get(audience).is_none() {
        return Err(unknown());
    }
    let inactive =
        || OAuthError::invalid_grant("subject_token is not an active access token of this server");
    let claims = verify_own_access_token(state, subject).ok_or_else(inactive)?;
    if state.store().is_access_token_revoked(&claims.jti).await? {
        return Err(inactive());
    }
    let serves = |aud: &str| {
        client
            .client
            .introspect_resources
            .iter()
            .any(|r| audience_matches(r, aud))
    };
    if !claims.aud.iter().any(serves) {
        return Err(OAuthError::invalid_grant(
            "subject_token was issued for a resource this client does not serve",
        ));
    }
    let Some(gid) = claims.extra.get(GRANT_CLAIM).and_then(|v| v.as_str()) else {
        return Err(OAuthError::invalid_grant(
            "subject_token was not issued to a signed-in user",
        ));
    };
    let now = state.now();
    let tokens = crate::federation::token_for_grant(state, gid, audience)
        .await
        .map_err(|e| match e {
            FederationError::Unavailable(_) => {
                OAuthError::new(ErrorCode::TemporarilyUnavailable, e.to_string())
            }
            e => OAuthError::invalid_grant(e.to_string()),
        })?;
    tracing::info!(target: "mcp_oauth::token", client_id = %client.client.client_id, upstream = %audience, grant_id = gid, "upstream token handed to the resource server");
    let mut response = TokenResponse {
        access_token: tokens.access_token.expose().to_owned(),
        token_type: "Bearer".into(),
        expires_in: tokens
            .expires_at
            .map(|e| u64::try_from(e - now).unwrap_or(0)),
        refresh_token: None,
        scope: tokens.scope.clone(),
        extra: Default::default(),
    };
    response
        .extra
        .insert("issued_token_type".into(), ACCESS_TOKEN_TYPE.into());
    Ok(response)
}
