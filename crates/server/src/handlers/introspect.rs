//! `POST /introspect` (RFC 7662). Only resource servers may ask: confidential clients an
//! administrator marked as serving some resources (`mcp-oauth clients add --introspect
//! --resource URL`). Public clients get `401 invalid_client`; other authenticated clients get
//! `403 unauthorized_client` (RFC 7662 §2.1 leaves who may call to the server, and §2.3 names
//! no code for "authenticated, not allowed": RFC 6749 §5.2's `unauthorized_client` says it, and
//! 403 says the credentials are fine, so retrying with them is pointless). Otherwise any
//! client could test stolen tokens here, refresh tokens included, without tripping reuse
//! detection.
//!
//! A caller learns only about tokens for its own resources: a token whose audience is not one
//! of them is `{"active": false}`, as if unknown.
//!
//! An access token is active when its signature, issuer and expiry check out, its `jti` was not
//! revoked and its grant (if any) is still active. A refresh token is active when it is current
//! (not rotated), unexpired, and its family active. A disabled client's tokens are inactive. Anything else is `{"active": false}` and
//! nothing more, so the endpoint does not tell what kind of junk it was sent.
//!
//! An API key ([`crate::api_keys`]) is active when it is, and bound to one of the caller's
//! resources; the answer says `token_type: "Bearer"` and `client_id: "api-key:ID"`, its scopes, its resource as `aud` and
//! its expiry, and the use is audited with the caller as the client.

use crate::client_auth::authenticate;
use crate::error::{OAuthError, no_store_json};
use crate::handlers::form;
use crate::state::AppState;
use crate::tokens::{GRANT_CLAIM, verify_own_access_token};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::ErrorCode;
use mcp_oauth_core::resource::audience_matches;
use mcp_oauth_core::secret::sha256_b64url;
use mcp_oauth_core::token::{Audience, IntrospectionResponse};

/// `POST /introspect`.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    match handle(&state, &headers, body).await {
        Ok(r) => no_store_json(StatusCode::OK, &r),
        Err(e) => e.into_response(),
    }
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<IntrospectionResponse, OAuthError> {
    let mut params = form::read(headers, body, state.config().max_body_bytes).await?;
    let caller = authenticate(state, headers, &mut params, false)
        .await?
        .client;
    if caller.introspect_resources.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client is not allowed to introspect tokens (only resource servers an administrator named are)",
        )
        .with_status(StatusCode::FORBIDDEN));
    }
    let serves = |aud: &str| {
        caller
            .introspect_resources
            .iter()
            .any(|r| audience_matches(r, aud))
    };
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let now = state.now();
    if crate::api_keys::looks_like_key(token) {
        return api_key(
            state,
            token,
            &caller.client_id,
            &caller.introspect_resources,
        )
        .await;
    }
    if let Some(claims) = verify_own_access_token(state, token) {
        if !claims.aud.iter().any(serves) {
            return Ok(IntrospectionResponse::inactive());
        }
        if state.store().is_access_token_revoked(&claims.jti).await?
            || crate::clients::is_disabled(state, &claims.client_id).await?
        {
            return Ok(IntrospectionResponse::inactive());
        }
        if let Some(gid) = claims.extra.get(GRANT_CLAIM).and_then(|v| v.as_str()) {
            match state.store().get_grant(gid).await? {
                Some(g) if g.revoked_at.is_none() => {}
                _ => return Ok(IntrospectionResponse::inactive()),
            }
        }
        let username = if claims.sub != claims.client_id {
            match state.store().get_user(&claims.sub).await? {
                Some(u) if u.disabled_at.is_some() => {
                    return Ok(IntrospectionResponse::inactive());
                }
                u => u.map(|u| u.username),
            }
        } else {
            None
        };
        // RFC 9449 §6.2: a bound token says so, with its key's thumbprint.
        let cnf = claims.extra.get("cnf").cloned();
        let mut extra = serde_json::Map::new();
        let token_type = match cnf {
            Some(cnf) => {
                extra.insert("cnf".into(), cnf);
                mcp_oauth_core::dpop::TOKEN_TYPE
            }
            None => "Bearer",
        };
        return Ok(IntrospectionResponse {
            active: true,
            scope: claims.scope,
            client_id: Some(claims.client_id),
            username,
            token_type: Some(token_type.into()),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            nbf: None,
            sub: Some(claims.sub),
            aud: Some(claims.aud),
            iss: Some(claims.iss),
            jti: Some(claims.jti),
            extra,
        });
    }
    if let Some((rt, grant)) = state
        .store()
        .get_refresh(&sha256_b64url(token.as_bytes()))
        .await?
    {
        let active = serves(&grant.resource)
            && !crate::clients::is_disabled(state, &grant.client_id).await?
            && rt.rotated_at.is_none()
            && rt.expires_at > now
            && grant.revoked_at.is_none()
            && grant.expires_at > now;
        if active {
            return Ok(IntrospectionResponse {
                active: true,
                scope: Some(grant.scope.to_string()),
                client_id: Some(grant.client_id.clone()),
                token_type: Some("refresh_token".into()),
                exp: Some(rt.expires_at.min(grant.expires_at)),
                iat: Some(rt.created_at),
                sub: Some(grant.user_id.clone().unwrap_or(grant.client_id)),
                aud: Some(Audience::One(grant.resource)),
                iss: Some(state.config().issuer.clone()),
                ..Default::default()
            });
        }
    }
    Ok(IntrospectionResponse::inactive())
}

/// The answer for an API key, bound to one of the caller's resources or inactive.
async fn api_key(
    state: &AppState,
    token: &str,
    caller: &str,
    resources: &[String],
) -> Result<IntrospectionResponse, OAuthError> {
    let (store, hmac) = (state.store().as_ref(), state.api_key_hmac());
    let Some(key) =
        crate::api_keys::check(store, hmac, token, resources, Some(caller), state.now()).await?
    else {
        return Ok(IntrospectionResponse::inactive());
    };
    Ok(IntrospectionResponse {
        active: true,
        scope: Some(key.scope.to_string()),
        client_id: Some(format!("api-key:{}", key.id)),
        // Used as a bearer credential; `client_id` (`api-key:ID`) says it is a key.
        token_type: Some("Bearer".into()),
        exp: Some(key.expires_at),
        iat: Some(key.created_at),
        sub: Some(crate::api_keys::subject(&key)),
        aud: Some(Audience::One(key.resource)),
        iss: Some(state.config().issuer.clone()),
        ..Default::default()
    })
}
