//! `POST /token`: authenticate the client, then hand the request to its grant.

use crate::client_auth::authenticate;
use crate::error::{OAuthError, no_store_json_bytes};
use crate::grants;
use crate::handlers::form;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::token::{GrantType, TokenResponse};

/// `POST /token`.
/// The per-address rate limit comes first, before the body is read.
pub async fn post(State(state): State<AppState>, req: Request) -> Response {
    if let Some(refused) =
        crate::handlers::limits::token_ip_refusal(&state, crate::handlers::limits::peer_ip(&req))
            .await
    {
        return refused;
    }
    // The headers are borrowed from the request rather than extracted (a `HeaderMap` extractor
    // clones them).
    let (parts, body) = req.into_parts();
    let mut grant = "unknown";
    let result = handle(&state, &parts.headers, body, &mut grant).await;
    state.metrics().token(
        grant,
        match &result {
            Ok(_) => "ok",
            Err(e) => e.code.as_str(),
        },
    );
    match result {
        Ok(r) => match r.to_json() {
            Ok(json) => {
                let mut resp = no_store_json_bytes(StatusCode::OK, json);
                if let Some(n) = crate::handlers::dpop::fresh_nonce(&state)
                    .and_then(|n| axum::http::HeaderValue::from_str(&n).ok())
                {
                    resp.headers_mut()
                        .insert(mcp_oauth_core::dpop::NONCE_HEADER, n);
                }
                resp
            }
            Err(e) => OAuthError::internal("serialise response", e).into_response(),
        },
        Err(e) => {
            tracing::debug!(target: "mcp_oauth::token", error = %e.code, description = %e.description, "token request refused");
            e.into_response()
        }
    }
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    grant: &mut &'static str,
) -> Result<TokenResponse, OAuthError> {
    let mut params = form::read(headers, body, state.config().max_body_bytes).await?;
    let Some(name) = params.take("grant_type") else {
        return Err(OAuthError::invalid_request("grant_type is required"));
    };
    let Some(gt) = GrantType::parse(&name) else {
        return Err(OAuthError::new(
            mcp_oauth_core::ErrorCode::UnsupportedGrantType,
            format!("grant_type `{name}` is not supported"),
        ));
    };
    *grant = gt.as_str();
    let client = authenticate(state, headers, &mut params, true).await?;
    if let Some(l) = &state.0.limits.token_client
        && let Err(wait) = l.take(client.client.client_id.as_str(), state.now()).await
    {
        tracing::debug!(target: "mcp_oauth::token", client_id = %client.client.client_id, "token rate limit (per client) hit");
        return Err(OAuthError::rate_limited(wait));
    }
    if !client.client.allows_grant(gt.as_str()) {
        return Err(OAuthError::new(
            mcp_oauth_core::ErrorCode::UnauthorizedClient,
            format!("this client is not registered for the {gt} grant"),
        ));
    }
    // RFC 9449 §5: a valid proof binds the access token (and a public client's refresh token)
    // to its key.
    let jkt = crate::handlers::dpop::token_request_key(state, headers, &client.client).await?;
    let dpop = jkt.as_deref();
    let response = match gt {
        GrantType::AuthorizationCode => {
            grants::authorization_code::exchange(state, &client, params, dpop).await?
        }
        GrantType::RefreshToken => {
            grants::refresh_token::exchange(state, &client, params, dpop).await?
        }
        GrantType::ClientCredentials => {
            grants::client_credentials::exchange(state, &client, params, dpop).await?
        }
        GrantType::TokenExchange => {
            grants::token_exchange::exchange(state, &client, params).await?
        }
        GrantType::DeviceCode => {
            grants::device_code::exchange(state, &client, params, dpop).await?
        }
        // `GrantType` is non-exhaustive for other crates; a grant added there without a handler
        // here is refused, never run as another grant.
        _ => {
            return Err(OAuthError::new(
                mcp_oauth_core::ErrorCode::UnsupportedGrantType,
                format!("grant_type `{gt}` is not supported"),
            ));
        }
    };
    // "Last used" at minute resolution: a write per token would put storage on the hot path.
    let now = state.now();
    if client.client.last_used_at.is_none_or(|t| now - t >= 60) {
        match state
            .store()
            .touch_client(&client.client.client_id, now)
            .await
        {
            Ok(()) => crate::clients::used(state, &client.client.client_id, now),
            Err(e) => {
                tracing::warn!(target: "mcp_oauth::token", error = %e, "could not record client use");
            }
        }
    }
    Ok(response)
}
