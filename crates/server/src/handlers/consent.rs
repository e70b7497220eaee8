//! `POST /consent`: the user's decision. Approve stores the consent and redirects with a code;
//! deny redirects with `access_denied`.

use crate::audit::{self, AuditEvent, AuditKind};
use crate::authorization_request::{AuthorizationError, AuthorizationRequest};
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
            if let Err(resp) = remember(&state, &user_id, &req, None).await {
                return resp;
            }
            issue_code(
                &state,
                &req,
                &user_id,
                s.auth_time.unwrap_or_else(|| state.now()),
            )
            .await
        }
        (false, true) => denied(&state, req, Some(&user_id), None).await,
        _ => PageError::bad_request("Invalid request", "Choose either Allow or Deny.")
            .into_response(),
    }
}

/// Stores the user's consent to the request (through `upstream`, when given before a sign-in
/// there), with its log line and audit event.
pub(crate) async fn remember(
    state: &AppState,
    user_id: &str,
    req: &AuthorizationRequest,
    upstream: Option<&str>,
) -> Result<(), Response> {
    let (client_id, now) = (req.client.client_id.as_str(), state.now());
    state
        .store()
        .add_consent(user_id, client_id, &req.resource.uri, &req.scope, now)
        .await
        .map_err(internal_page)?;
    tracing::info!(target: "mcp_oauth::consent", %user_id, client_id, resource = %req.resource.uri, scope = %req.scope, ?upstream, "consent given");
    let mut detail =
        serde_json::json!({"resource": req.resource.uri, "scope": req.scope.to_string()});
    if let Some(u) = upstream {
        detail["upstream"] = u.into();
    }
    audit::record(
        state.store().as_ref(),
        AuditEvent::new(AuditKind::ConsentGiven, now)
            .user(user_id)
            .client(client_id)
            .detail(detail),
    )
    .await;
    Ok(())
}

/// The user said no: `access_denied` to the client, with its log line and audit event.
pub(crate) async fn denied(
    state: &AppState,
    req: AuthorizationRequest,
    user_id: Option<&str>,
    upstream: Option<&str>,
) -> Response {
    let client_id = req.client.client_id.as_str();
    tracing::info!(target: "mcp_oauth::consent", ?user_id, client_id, ?upstream, "consent denied");
    let mut detail = serde_json::json!({"resource": req.resource.uri});
    if let Some(u) = upstream {
        detail["upstream"] = u.into();
    }
    let mut event = AuditEvent::new(AuditKind::ConsentDenied, state.now())
        .client(client_id)
        .detail(detail);
    event.user_id = user_id.map(str::to_owned);
    audit::record(state.store().as_ref(), event).await;
    error_response(
        state,
        AuthorizationError::Redirect {
            redirect_uri: req.redirect_uri,
            state: req.state,
            code: ErrorCode::AccessDenied,
            description: "the user denied the request".into(),
        },
    )
}
