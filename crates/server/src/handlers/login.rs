//! `POST /login`: check the CSRF token and the password, then start a fresh session.

use crate::audit::{self, AuditEvent, AuditKind};
use crate::handlers::authorize::{internal_page, login_page, proceed};
use crate::handlers::page_form::{self, PageForm};
use crate::password;
use crate::state::AppState;
use crate::ui::session;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::secret::Secret;
use std::net::SocketAddr;

/// `POST /login`.
pub async fn post(State(state): State<AppState>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = peer.map_or_else(|| "unknown".into(), |a| a.to_string());
    // IPv6 by /64: one host usually holds a whole /64.
    let ip_key = peer.map_or_else(|| "ip:unknown".into(), crate::throttle::ip_key);
    let (parts, body) = req.into_parts();
    let PageForm {
        session: s,
        mut params,
        request: authz,
    } = match page_form::read(&state, &parts.headers, body, false).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    if !state.config().local_login {
        return crate::ui::PageError::new(
            StatusCode::FORBIDDEN,
            "Password sign-in is off",
            "This server signs people in through their identity provider only.",
        )
        .into_response();
    }
    let username = params.take("username").unwrap_or_default();
    let password = Secret::new(params.take("password").unwrap_or_default());
    let user = match check_password(
        &state,
        &ip,
        ip_key,
        &username,
        password,
        Some(authz.client.client_id.as_str()),
    )
    .await
    {
        Ok(u) => u,
        Err(PasswordRefusal::Internal(resp)) => return resp,
        Err(PasswordRefusal::Throttled(wait)) => {
            let mut resp = login_page(
                &state,
                &authz,
                &s,
                None,
                Some(&format!(
                    "Too many failed attempts. Try again in {wait} seconds."
                )),
                &username,
                StatusCode::TOO_MANY_REQUESTS,
            );
            crate::ui::error::set_retry_after(&mut resp, wait);
            return resp;
        }
        Err(PasswordRefusal::Wrong) => {
            return login_page(
                &state,
                &authz,
                &s,
                None,
                Some("The username or password is incorrect."),
                &username,
                StatusCode::UNAUTHORIZED,
            );
        }
    };
    // A new session id at login defeats session fixation.
    if let Err(e) = state.store().delete_session(&s.id_hash).await {
        return internal_page(e);
    }
    match session::create(&state, Some(user.id.clone())).await {
        Ok((fresh, cookie)) => proceed(&state, &authz, &fresh, cookie).await,
        Err(e) => internal_page(e),
    }
    .into_response()
}

/// Why a password sign-in failed.
pub(crate) enum PasswordRefusal {
    /// The account or the address is backing off for this many seconds.
    Throttled(u64),
    /// Unknown user, wrong password or a disabled account (one answer for all three).
    Wrong,
    /// The store failed: this page.
    Internal(Response),
}

/// The password check of every sign-in form (`/login`, the device page's): the back-off per
/// account and address, Argon2id, the audit events and metrics. `client_id` is the client the
/// sign-in is for (none on the device page, before the code is entered), for the audit trail.
pub(crate) async fn check_password(
    state: &AppState,
    ip: &str,
    ip_key: String,
    username: &str,
    password: Secret,
    client_id: Option<&str>,
) -> Result<crate::model::User, PasswordRefusal> {
    let now = state.now();
    let keys = [format!("user:{username}"), ip_key];
    if let Some(wait) = state.0.throttle.check(&keys, now).await {
        tracing::warn!(target: "mcp_oauth::login", %ip, "login throttled");
        state.metrics().login_failure();
        audit::record(
            state.store().as_ref(),
            AuditEvent::new(AuditKind::LoginThrottled, now)
                .ip(ip)
                .detail(serde_json::json!({"retry_after": wait})),
        )
        .await;
        return Err(PasswordRefusal::Throttled(wait));
    }
    let user = match state.store().get_user_by_name(username).await {
        Ok(u) => u,
        Err(e) => return Err(PasswordRefusal::Internal(internal_page(e))),
    };
    let ok = password::verify(password, user.as_ref().map(|u| u.password_hash.clone())).await;
    // The account is named only when it exists: an unknown name may be a mistyped password.
    let known_id = user.as_ref().map(|u| u.id.clone());
    // A disabled account gets the answer of a wrong password.
    let Some(user) = user.filter(|u| ok && u.disabled_at.is_none()) else {
        state.0.throttle.fail(&keys, now).await;
        state.metrics().login_failure();
        tracing::warn!(target: "mcp_oauth::login", %ip, "login failed");
        let mut event =
            AuditEvent::new(AuditKind::LoginFailed, now)
                .ip(ip)
                .detail(serde_json::json!({
                    "account": if known_id.is_some() { "known" } else { "unknown" },
                    "client_id": client_id,
                }));
        event.user_id = known_id;
        audit::record(state.store().as_ref(), event).await;
        return Err(PasswordRefusal::Wrong);
    };
    state.0.throttle.succeed(&keys[0]).await;
    tracing::info!(target: "mcp_oauth::login", user_id = %user.id, "login succeeded");
    let mut event = AuditEvent::new(AuditKind::LoginSucceeded, now)
        .user(user.id.as_str())
        .ip(ip);
    event.client_id = client_id.map(str::to_owned);
    audit::record(state.store().as_ref(), event).await;
    Ok(user)
}
