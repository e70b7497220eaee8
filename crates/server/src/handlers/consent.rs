//! `POST /consent`: the user's decision. Approve stores the consent and redirects with a code;
//! deny redirects with `access_denied`.

use crate::audit::{self, AuditEvent, AuditKind};
use crate::authorization_request::AuthorizationError;
use crate::handlers::authorize::{error_response, internal_page, issue_code, restrict};
use crate::handlers::page_form::{self, PageForm};
use crate::state::AppState;
use crate::ui::PageError;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::ErrorCode;

/// `POST /consent`.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let PageForm {
        session: s,
        params,
        request: mut req,
    } = match page_form::read(&state, &headers, body, true).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let user_id = s.user_id.clone().unwrap_or_default();
    // Recomputed from the carried request and the user's roles: nothing the browser sends can
    // add a restricted scope.
    if let Err(resp) = restrict(&state, &mut req, &user_id).await {
        return resp;
    }
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
            audit::record(
                state.store().as_ref(),
                AuditEvent::new(AuditKind::ConsentGiven, state.now())
                    .user(user_id.as_str())
                    .client(req.client.client_id.as_str())
                    .detail(serde_json::json!({
                        "resource": req.resource.uri,
                        "scope": req.scope.to_string(),
                    })),
            )
            .await;
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
            audit::record(
                state.store().as_ref(),
                AuditEvent::new(AuditKind::ConsentDenied, state.now())
                    .user(user_id.as_str())
                    .client(req.client.client_id.as_str())
                    .detail(serde_json::json!({"resource": req.resource.uri})),
            )
            .await;
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
        _ => PageError::bad_request("Invalid request", "Choose either Allow or Deny.")
            .into_response(),
    }
}
