//! `POST /par` (RFC 9126 §2): a client pushes its authorization request and gets a short-lived,
//! single-use `request_uri` for `/authorize`.
//!
//! The client authenticates as at `/token` (a confidential client must; a public client names
//! itself with `client_id`), and the request is validated here exactly as `/authorize` would,
//! so that errors reach the client directly as JSON, never the user's browser. A `request_uri`
//! inside a pushed request is refused (§2.1).

use crate::authorization_request::{AuthorizationError, validate_query};
use crate::client_auth::authenticate;
use crate::error::{OAuthError, no_store_json};
use crate::handlers::form;
use crate::par::{self, Pushed};
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::secret::random_token;

/// `POST /par`.
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
        Err(e) => e.into_response(),
    }
}

async fn handle(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<Response, OAuthError> {
    let mut params = form::read(headers, body, state.config().max_body_bytes).await?;
    let client = authenticate(state, headers, &mut params, true).await?;
    if params.contains("request_uri") {
        return Err(OAuthError::invalid_request(
            "request_uri may not be pushed (RFC 9126 §2.1)",
        ));
    }
    let client_id = client.client.client_id.as_str();
    let pairs = std::iter::once(("client_id", client_id)).chain(params.iter());
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    match validate_query(state, &query).await {
        Ok(_) => {}
        Err(AuthorizationError::Store(e)) => return Err(e.into()),
        Err(AuthorizationError::Page { message, .. }) => {
            return Err(OAuthError::invalid_request(message));
        }
        Err(AuthorizationError::Redirect {
            code, description, ..
        }) => return Err(OAuthError::new(code, description)),
    }
    let pushed = Pushed {
        client_id: client_id.to_owned(),
        expires_at: state.now() + par::LIFETIME,
        query,
        id: random_token(16),
    };
    let request_uri = par::seal(&state.0.kek, &pushed)
        .map_err(|e| OAuthError::internal("seal a pushed request", e))?;
    tracing::info!(target: "mcp_oauth::authorize", client_id, "authorization request pushed");
    Ok(no_store_json(
        StatusCode::CREATED,
        &serde_json::json!({ "request_uri": request_uri, "expires_in": par::LIFETIME }),
    ))
}
