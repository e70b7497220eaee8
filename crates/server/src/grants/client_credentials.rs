//! The client credentials grant (RFC 6749 §4.4; MCP extension SEP-1046) for machine-to-machine
//! clients. No refresh token (RFC 6749 §4.4.3) and no storage write: the access token names the
//! client as its subject and can be revoked by its `jti`.

use crate::client_auth::{AuthMethod, AuthenticatedClient};
use crate::error::OAuthError;
use crate::grants::{bearer, bound};
use crate::state::AppState;
use crate::tokens::{AccessTokenRequest, issue_access_token};
use mcp_oauth_core::form::OAuthParams;
use mcp_oauth_core::token::TokenResponse;
use mcp_oauth_core::{ErrorCode, ScopeSet};

/// Issues an access token to an authenticated confidential client.
pub async fn exchange(
    state: &AppState,
    client: &AuthenticatedClient,
    params: OAuthParams,
    dpop_jkt: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    if client.method == AuthMethod::None {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "public clients cannot use client_credentials",
        ));
    }
    let resource = match params.get("resource") {
        Some(uri) => {
            let invalid = || {
                OAuthError::new(
                    ErrorCode::InvalidTarget,
                    "resource must be an absolute URI without a fragment",
                )
            };
            // The cheap checks first, so that no malformed string reaches the lookup; the full
            // URL parse only when the string is not exactly a registered resource's URI (those
            // were validated when registered).
            if mcp_oauth_core::resource::validate_shape(uri).is_err() {
                return Err(invalid());
            }
            match crate::resources::find(state, uri).await? {
                Some(r) if r.uri == uri => r,
                found => {
                    if mcp_oauth_core::resource::validate(uri).is_err() {
                        return Err(invalid());
                    }
                    found.ok_or_else(|| {
                        OAuthError::new(
                            ErrorCode::InvalidTarget,
                            "the resource is not registered at this authorization server",
                        )
                    })?
                }
            }
        }
        None => crate::resources::default(state).await?.ok_or_else(|| {
            OAuthError::new(
                ErrorCode::InvalidTarget,
                "resource is required (RFC 8707): name the protected resource the token is for",
            )
        })?,
    };
    let requested = match params.get("scope").map(ScopeSet::parse) {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return Err(OAuthError::new(ErrorCode::InvalidScope, e.to_string())),
    };
    let scope = crate::authorization_request::grantable_scope(
        &client.client,
        &resource,
        requested.as_ref(),
    );
    if requested.as_ref().is_some_and(|r| !r.is_empty()) && scope.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "none of the requested scopes is available to this client for this resource",
        ));
    }
    let scope_str = scope.to_string();
    let (access, ttl) = issue_access_token(
        state,
        AccessTokenRequest {
            client_id: &client.client.client_id,
            subject: &client.client.client_id,
            resource: &resource.uri,
            scope: Some(&scope_str),
            grant_id: None,
            auth_time: None,
            cnf_jkt: dpop_jkt,
        },
    )?;
    Ok(bound(bearer(access, ttl, None, scope_str), dpop_jkt))
}
