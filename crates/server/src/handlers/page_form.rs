//! What the login and consent forms share: read the body, find the browser session, check the
//! CSRF token, and validate the carried authorization request again (nothing from a previous
//! page is trusted).

use crate::authorization_request::{AuthorizationRequest, validate_carried};
use crate::handlers::authorize::{error_response, internal_page};
use crate::handlers::form;
use crate::model::Session;
use crate::state::AppState;
use crate::ui::PageError;
use crate::ui::session::{self, csrf_ok};
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::form::OAuthParams;

/// A checked form submission.
pub(crate) struct PageForm {
    /// The browser session.
    pub session: Session,
    /// The remaining form fields.
    pub params: OAuthParams,
    /// The authorization request, validated again.
    pub request: AuthorizationRequest,
}

/// Reads and checks a login (`require_login = false`) or consent (`true`) form.
pub(crate) async fn read(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    require_login: bool,
) -> Result<PageForm, Response> {
    let (session, mut params) = read_session_form(
        state,
        headers,
        body,
        require_login,
        "Go back to the application and start again.",
    )
    .await?;
    let raw_query = params.take("authorize_query").unwrap_or_default();
    let request = validate_carried(state, &raw_query)
        .await
        .map_err(|e| error_response(state, e))?;
    Ok(PageForm {
        session,
        params,
        request,
    })
}

/// What every page form checks first: the body, the browser session (signed in, with
/// `require_login`; else the page says so and `expired_hint` what to do) and its CSRF token.
pub(crate) async fn read_session_form(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    require_login: bool,
    expired_hint: &str,
) -> Result<(Session, OAuthParams), Response> {
    let params = form::read(headers, body, state.config().max_body_bytes)
        .await
        .map_err(|e| PageError::new(e.status, "Invalid request", e.description).into_response())?;
    let session = match session::current(state, headers).await {
        Ok(Some(s)) if !require_login || s.user_id.is_some() => s,
        Ok(_) => {
            return Err(PageError::bad_request(
                "Session expired",
                format!("Your sign-in session expired or cookies are disabled. {expired_hint}"),
            )
            .into_response());
        }
        Err(e) => return Err(internal_page(e)),
    };
    if !csrf_ok(&session, params.get("csrf_token")) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Invalid request",
            "The form was not sent from this server's page (CSRF check failed).",
        )
        .into_response());
    }
    Ok((session, params))
}
