//! `POST /consent`: the user's decision. Approve stores the consent and redirects with a code;
//! deny redirects with `access_denied`.

use crate::authorization_request::{AuthorizationError, validate};
use crate::handlers::authorize::{error_response, internal_page, issue_code};
use crate::handlers::form;
use crate::state::AppState;
use crate::ui::session::{self, csrf_ok};
use crate::ui::{self, pages};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use mcp_oauth_core::ErrorCode;

/// `POST /consent`.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let mut params = match form::read(&headers, body, state.config().max_body_bytes).await {
        Ok(p) => p,
        Err(e) => {
            return ui::html(
                e.status,
                pages::error("Invalid request", &e.description),
                &[],
            );
        }
    };
    let s = match session::current(&state, &headers).await {
        Ok(Some(s)) if s.user_id.is_some() => s,
        Ok(_) => {
            return ui::html(
                StatusCode::BAD_REQUEST,
                pages::error(
                    "Session expired",
                    "Your sign-in session expired. Go back to the application and start again.",
                ),
                &[],
            );
        }
        Err(e) => return internal_page(e),
    };
    if !csrf_ok(&s, params.get("csrf_token")) {
        return ui::html(
            StatusCode::FORBIDDEN,
            pages::error(
                "Invalid request",
                "The form was not sent from this server's page (CSRF check failed).",
            ),
            &[],
        );
    }
    let raw_query = params.take("authorize_query").unwrap_or_default();
    let req = match validate(&state, &raw_query).await {
        Ok(r) => r,
        Err(e) => return error_response(&state, e),
    };
    let user_id = s.user_id.clone().unwrap_or_default();
    match (params.contains("approve"), params.contains("deny")) {
        (true, false) => {
            if let Err(e) = state
                .store()
                .add_consent(
                    &user_id,
                    &req.client.client_id,
                    &req.resource.uri,
                    &req.scope,
                    state.now(),
                )
                .await
            {
                return internal_page(e);
            }
            tracing::info!(target: "mcp_oauth::consent", %user_id, client_id = %req.client.client_id, resource = %req.resource.uri, scope = %req.scope, "consent given");
            issue_code(
                &state,
                &req,
                &user_id,
                s.auth_time.unwrap_or_else(|| state.now()),
            )
            .await
        }
        (false, true) => {
            tracing::info!(target: "mcp_oauth::consent", %user_id, client_id = %req.client.client_id, "consent denied");
            error_response(
                &state,
                AuthorizationError::Redirect {
                    redirect_uri: req.redirect_uri,
                    state: req.state,
                    code: ErrorCode::AccessDenied,
                    description: "the user denied the request".into(),
                },
            )
        }
        _ => ui::html(
            StatusCode::BAD_REQUEST,
            pages::error("Invalid request", "Choose either Allow or Deny."),
            &[],
        ),
    }
}
