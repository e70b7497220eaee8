//! `GET/POST /device` (RFC 8628 §3.3, the `verification_uri`) and `POST /device/login`: a
//! signed-in person enters the code their device shows (or confirms the one the link carried,
//! §5.4), sees who asks for what, and approves or denies.
//!
//! The session is the browser session of `/authorize` (same cookie, same CSRF token); without a
//! signed-in user the page offers the server's identity providers (`upstream.rs`: the code, our
//! consent, then the provider, whose callback approves) and a password sign-in that returns here
//! (`sign_in.rs`).
//!
//! Guessing (§5.1): every form post that looks a user code up takes a token from the limiter
//! per client address and per signed-in user ([`crate::rate_limit::EndpointLimits`]); codes that
//! match nothing are audited (`device_user_code_failed`).
//!
//! `mod.rs` the routes' handlers, the code's look-up and the decision; `sign_in.rs` the page's
//! password sign-in; `upstream.rs` its federated sign-in; `render.rs` the pages as answers
//! (sign-in, code, consent).

mod render;
mod sign_in;
mod upstream;

pub use sign_in::login;
pub use upstream::post as upstream;

use crate::audit::{self, AuditEvent, AuditKind};
use crate::device;
use crate::handlers::authorize::internal_page;
use crate::model::{DeviceAuthorization, DeviceDecision, DeviceStatus, Session};
use crate::state::AppState;
use crate::ui::device_pages;
use crate::ui::session;
use crate::ui::{self, PageError};
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::form::OAuthParams;
use render::{code_page, consent_page, login_page};
/// `GET /device[?user_code=…]`.
pub async fn get(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let prefill = q
        .as_deref()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "user_code")
                .map(|(_, v)| v.into_owned())
        })
        .and_then(|c| device::normalise(&c))
        .map(|c| device::display(&c))
        .unwrap_or_default();
    let current = match session::current(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return internal_page(e),
    };
    match current {
        Some(s) if s.user_id.is_some() => {
            code_page(&state, &s, &prefill, None, StatusCode::OK).await
        }
        Some(s) => login_page(&state, &s, None, &prefill, None, "", StatusCode::OK),
        None => match session::create(&state, None).await {
            Ok((s, cookie)) => login_page(&state, &s, cookie, &prefill, None, "", StatusCode::OK),
            Err(e) => internal_page(e),
        },
    }
}

/// `POST /device`: `lookup` (the code entered or confirmed: show the consent), or `approve` /
/// `deny` (the decision, the code looked up again).
pub async fn post(State(state): State<AppState>, req: Request) -> Response {
    let ip = crate::handlers::limits::peer_ip(&req);
    let (parts, body) = req.into_parts();
    let (s, params) = match read_form(&state, &parts.headers, body, true).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let user_id = s.user_id.clone().unwrap_or_default();
    let typed = typed_code(&params);
    let (code, hash, authorization) = match look_up(&state, ip, Some(&user_id), &typed).await {
        Ok(found) => found,
        Err(refusal) => {
            let (status, message, wait) = match refusal.shown() {
                Ok(shown) => shown,
                Err(page) => return *page,
            };
            let mut resp = code_page(&state, &s, &typed, Some(&message), status).await;
            if let Some(wait) = wait {
                crate::ui::error::set_retry_after(&mut resp, wait);
            }
            return resp;
        }
    };
    match (
        params.contains("lookup"),
        params.contains("approve"),
        params.contains("deny"),
    ) {
        (true, false, false) => consent_page(&state, &s, &authorization, &code).await,
        (false, true, false) => {
            let auth_time = s.auth_time.unwrap_or_else(|| state.now());
            approve(&state, &user_id, auth_time, &hash, &authorization, None).await
        }
        (false, false, true) => deny(&state, &user_id, &hash, &authorization).await,
        _ => PageError::bad_request("Invalid request", "Choose either Allow or Deny.")
            .into_response(),
    }
}

/// The code a form carries, as typed (echoed into the form again, escaped), at most as long
/// as the field allows.
pub(super) fn typed_code(params: &OAuthParams) -> String {
    params
        .get("user_code")
        .unwrap_or_default()
        .chars()
        .take(64)
        .collect()
}

/// Why a typed code found nothing to decide.
pub(super) enum Refusal {
    /// Over the guessing budget: the seconds to wait.
    Throttled(u64),
    /// No live, pending authorization has that code.
    NoSuchCode,
    /// The store failed: the page to show.
    Internal(Box<Response>),
}

impl Refusal {
    /// Status, message and `Retry-After` of the form shown again.
    /// `Err` is the store failure's own page.
    pub(super) fn shown(self) -> Result<(StatusCode, String, Option<u64>), Box<Response>> {
        match self {
            Self::Throttled(wait) => Ok((
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many codes tried. Try again in {wait} seconds."),
                Some(wait),
            )),
            Self::NoSuchCode => Ok((
                StatusCode::BAD_REQUEST,
                "That code is not valid, or it expired. Check the code on your device and try again."
                    .into(),
                None,
            )),
            Self::Internal(page) => Err(page),
        }
    }
}

/// Looks a typed code up (RFC 8628 §5.1): a token from the guessing budget per client address
/// and, when someone is signed in, per user first; every miss audited. The normalised code, its
/// hash and the pending authorization.
pub(super) async fn look_up(
    state: &AppState,
    ip: std::net::IpAddr,
    user_id: Option<&str>,
    typed: &str,
) -> Result<(String, String, DeviceAuthorization), Refusal> {
    let now = state.now();
    let who = user_id.unwrap_or_default();
    // Every look-up of a code counts, the decision's too: a guesser cannot skip the first step.
    let limiter = &state.0.limits.device_user_code;
    let ip_key = crate::throttle::ip_key(ip);
    let mut waits = vec![limiter.take(ip_key.as_str(), now).await];
    if let Some(user_id) = user_id {
        waits.push(limiter.take(format!("user:{user_id}").as_str(), now).await);
    }
    if let Some(wait) = waits.into_iter().filter_map(Result::err).max() {
        tracing::warn!(target: "mcp_oauth::device", %ip, user_id = %who, "user code attempts throttled");
        failed(state, who, ip, "throttled").await;
        return Err(Refusal::Throttled(wait));
    }
    if let Some(code) = device::normalise(typed) {
        let hash = device::user_code_hash(&state.0.device_hmac, &code);
        match state.store().find_device_authorization(&hash, now).await {
            Ok(Some(a)) if a.status == DeviceStatus::Pending => return Ok((code, hash, a)),
            Ok(_) => {}
            Err(e) => return Err(Refusal::Internal(Box::new(internal_page(e)))),
        }
    }
    failed(state, who, ip, "no such code").await;
    Err(Refusal::NoSuchCode)
}

/// Approves `a` for `user_id` (signed in at `auth_time`): the client and resource still
/// registered, the scopes recomputed from the stored request and the user's roles (nothing the
/// browser sends can add one). With `upstream`, the tokens of the federated sign-in that
/// approved it are kept with the decision, for its grant.
pub(crate) async fn approve(
    state: &AppState,
    user_id: &str,
    auth_time: i64,
    hash: &str,
    a: &DeviceAuthorization,
    upstream: Option<(&str, &crate::upstream::TokenSet)>,
) -> Response {
    // A client disabled or removed since the code was issued is approved nothing.
    match crate::clients::find(state, &a.client_id).await {
        Ok(Some(_)) => {}
        Ok(None) | Err(crate::clients::LookupError::Document(_)) => {
            return PageError::bad_request(
                "Unknown application",
                "The application that asked for this code is no longer registered.",
            )
            .into_response();
        }
        Err(crate::clients::LookupError::Store(e)) => return internal_page(e),
    }
    let resource = match crate::resources::find(state, &a.resource).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return PageError::bad_request(
                "Resource removed",
                "The resource this device asked for is no longer registered.",
            )
            .into_response();
        }
        Err(e) => return internal_page(e),
    };
    let scope = match crate::roles::scope_for_user(state, &resource, &a.scope, user_id).await {
        Ok((kept, _)) => kept,
        Err(e) => return internal_page(e),
    };
    if !a.scope.is_empty() && scope.is_empty() {
        return PageError::new(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "Your account may not approve any of the permissions this device asks for.",
        )
        .into_response();
    }
    let kept = match upstream {
        Some((upstream_id, tokens)) => match crate::upstream::seal(
            state.upstreams().kek(),
            &a.device_code_hash,
            upstream_id,
            tokens,
            state.now(),
        ) {
            Ok(k) => Some(k),
            Err(e) => return internal_page(e),
        },
        None => None,
    };
    let decision = DeviceDecision::Approve {
        user_id: user_id.to_owned(),
        auth_time,
        scope,
        upstream: kept,
    };
    decide(
        state,
        user_id,
        hash,
        a,
        &decision,
        AuditKind::DeviceApproved,
    )
    .await
}

pub(super) async fn deny(
    state: &AppState,
    user_id: &str,
    hash: &str,
    a: &DeviceAuthorization,
) -> Response {
    decide(
        state,
        user_id,
        hash,
        a,
        &DeviceDecision::Deny,
        AuditKind::DeviceDenied,
    )
    .await
}

async fn decide(
    state: &AppState,
    user_id: &str,
    hash: &str,
    a: &DeviceAuthorization,
    decision: &DeviceDecision,
    kind: AuditKind,
) -> Response {
    let now = state.now();
    match state
        .store()
        .decide_device_authorization(hash, now, decision)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return PageError::bad_request(
                "Already decided",
                "This code was approved or denied already, or it expired.",
            )
            .into_response();
        }
        Err(e) => return internal_page(e),
    }
    let approved = matches!(decision, DeviceDecision::Approve { .. });
    let mut detail = serde_json::json!({"resource": a.resource});
    if let DeviceDecision::Approve { scope, .. } = decision {
        detail["scope"] = scope.to_string().into();
    }
    tracing::info!(target: "mcp_oauth::device", %user_id, client_id = %a.client_id, approved, "device authorization decided");
    audit::record(
        state.store().as_ref(),
        by(AuditEvent::new(kind, now), user_id)
            .client(a.client_id.as_str())
            .detail(detail),
    )
    .await;
    ui::html(StatusCode::OK, device_pages::done(approved), &[])
}

/// `event`, by `user_id` unless no one is signed in yet (a code looked up before a federated
/// sign-in, or denied without one).
fn by(event: AuditEvent, user_id: &str) -> AuditEvent {
    if user_id.is_empty() {
        event
    } else {
        event.user(user_id)
    }
}

/// A code tried that matched nothing live (or a throttled try), for the audit trail.
async fn failed(state: &AppState, user_id: &str, ip: std::net::IpAddr, reason: &str) {
    audit::record(
        state.store().as_ref(),
        by(
            AuditEvent::new(AuditKind::DeviceUserCodeFailed, state.now()),
            user_id,
        )
        .ip(ip.to_string().as_str())
        .detail(serde_json::json!({"reason": reason})),
    )
    .await;
}

/// Reads a device form: the body, the browser session (signed in, with `require_user`), the
/// CSRF token.
pub(super) async fn read_form(
    state: &AppState,
    headers: &HeaderMap,
    body: axum::body::Body,
    require_user: bool,
) -> Result<(Session, OAuthParams), Response> {
    crate::handlers::page_form::read_session_form(
        state,
        headers,
        body,
        require_user,
        "Open the device page again.",
    )
    .await
}
