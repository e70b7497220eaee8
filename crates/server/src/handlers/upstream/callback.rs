//! `GET {issuer}/upstream/{id}/callback`: the provider's authorization response.
//!
//! In this order, each failure a page and nothing written before it: the `state` is consumed
//! (once, atomically: a replay finds nothing), and must have been sent from this block's start,
//! by this browser session; the RFC 9207 `iss` must be the provider's when sent (and is required
//! when the provider says it sends it); a provider `error` is shown with its code; what the
//! sign-in is for is loaded again (our pending `/authorize` request, validated again, or a device
//! authorization, still pending); the code is exchanged with our PKCE verifier; the ID token (or
//! GitHub's API) says who signed in; the block admits them or not. Then the user is found,
//! linked or created and the browser session is ended (no signed-in session here: each
//! authorization goes through the upstream, and each grant keeps the upstream tokens of its own
//! sign-in). For a request, the consent given before forwarding is recorded for the user and our
//! code goes to the MCP client; for a device, its authorization is approved for the user. Either
//! way the upstream's tokens are kept beside it, for its grant.

use super::{callback_url, failure};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::authorization_request::{AuthorizationRequest, validate_carried};
use crate::handlers::authorize::{error_response, internal_page, issue_code_with, restrict};
use crate::handlers::consent::remember;
use crate::handlers::device;
use crate::model::upstream::SignInFor;
use crate::model::{DeviceAuthorization, DeviceStatus};
use crate::state::AppState;
use crate::ui::session;
use crate::upstream::{Upstream, identity, link};
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use mcp_oauth_core::form::OAuthParams;
use mcp_oauth_core::secret::{constant_time_eq, sha256_b64url};
use std::sync::Arc;

/// `GET {issuer}/upstream/{id}/callback`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(up) = state.upstreams().get(&id).cloned() else {
        return failure::unknown();
    };
    let Ok(params) = OAuthParams::parse(q.unwrap_or_default().as_bytes()) else {
        return failure::refused(
            "The identity provider's answer is malformed (a parameter is repeated or not URL-encoded).",
        );
    };
    let Some(st) = params.get("state") else {
        return failure::refused(
            "The identity provider's answer has no state, so it cannot be matched to a sign-in.",
        );
    };
    let now = state.now();
    let login = match state
        .store()
        .take_upstream_login(&sha256_b64url(st.as_bytes()), now)
        .await
    {
        Ok(Some(l)) => l,
        Ok(None) => {
            return failure::refused(
                "This sign-in link was already used or has expired (state unknown). Go back to the application and start again.",
            );
        }
        Err(e) => return internal_page(e),
    };
    if login.upstream_id != id {
        return failure::refused(
            "The answer came back to another identity provider's address than the one the sign-in was sent to.",
        );
    }
    match session::current(&state, &headers).await {
        Ok(Some(s)) if constant_time_eq(s.id_hash.as_bytes(), login.session_hash.as_bytes()) => {}
        Ok(_) => {
            return failure::refused(
                "This sign-in was started in another browser (or its session expired). Start again from the application.",
            );
        }
        Err(e) => return internal_page(e),
    }
    finish(&state, &up, &params, login, now).await
}

async fn finish(
    state: &AppState,
    up: &Arc<Upstream>,
    params: &OAuthParams,
    login: crate::model::upstream::UpstreamLogin,
    now: i64,
) -> Response {
    let name = up.config.display_name();
    let endpoints = match up.endpoints(now).await {
        Ok(e) => e,
        Err(e) => return failure::upstream(name, &e),
    };
    match (params.get("iss"), endpoints.issuer.as_deref()) {
        (Some(iss), Some(expected)) if !up.response_iss_ok(iss, expected) => {
            return failure::refused(
                "The answer names another issuer than this identity provider (RFC 9207 iss mismatch): it may come from another provider.",
            );
        }
        (None, Some(_)) if endpoints.iss_required => {
            return failure::refused(
                "The identity provider's answer lacks the iss parameter it promises (RFC 9207).",
            );
        }
        _ => {}
    }
    if let Some(error) = params.get("error") {
        let e = crate::upstream::UpstreamError::Refused {
            error: error.to_owned(),
            description: params.get("error_description").map(str::to_owned),
        };
        return failure::upstream(name, &e);
    }
    let Some(code) = params.get("code") else {
        return failure::refused("The identity provider's answer has neither a code nor an error.");
    };
    // What the sign-in is for, checked again before the provider's code is spent.
    let pending = match &login.target {
        SignInFor::Authorization { query } => match validate_carried(state, query).await {
            Ok(r) => Pending::Authorization(Box::new(r)),
            Err(e) => return error_response(state, e),
        },
        SignInFor::Device { user_code_hash } => {
            match state
                .store()
                .find_device_authorization(user_code_hash, now)
                .await
            {
                Ok(Some(a)) if a.status == DeviceStatus::Pending => {
                    Pending::Device(user_code_hash.clone(), Box::new(a))
                }
                Ok(_) => {
                    return failure::refused(
                        "This device code was approved or denied already, or it expired. Start again on the device.",
                    );
                }
                Err(e) => return internal_page(e),
            }
        }
    };
    let client_id = pending.client_id().to_owned();
    let verifier = match state
        .upstreams()
        .kek()
        .decrypt(login.state_hash.as_bytes(), &login.sealed_verifier)
    {
        Ok(v) => String::from_utf8_lossy(&v).into_owned(),
        Err(e) => return internal_page(e),
    };
    let redirect_uri = callback_url(state, &up.config.id);
    let tokens = match up
        .redeem(&endpoints.token, code, &redirect_uri, &verifier, now)
        .await
    {
        Ok(t) => t,
        Err(e) => return failure::upstream(name, &e),
    };
    let who = match up.identity(&endpoints, &tokens, &login.nonce, now).await {
        Ok(i) => i,
        Err(e) => return failure::upstream(name, &e),
    };
    if let Err(why) = identity::admit(&up.config, &up.resolved, &who) {
        audit::record(
            state.store().as_ref(),
            AuditEvent::new(AuditKind::LoginFailed, now).detail(serde_json::json!({
                "upstream": up.config.id, "reason": "not_allowed", "client_id": client_id,
            })),
        )
        .await;
        return failure::not_allowed(name, why);
    }
    let user_id = match link::user_for(
        state.store().as_ref(),
        &up.config.id,
        up.config.link_by_email,
        &who,
        now,
    )
    .await
    {
        Ok(u) => u,
        Err(e) => return internal_page(e),
    };
    // An account an administrator disabled signs in no more, through any upstream.
    match state.store().get_user(&user_id).await {
        Ok(Some(u)) if u.disabled_at.is_none() => {}
        Ok(_) => {
            audit::record(
                state.store().as_ref(),
                AuditEvent::new(AuditKind::LoginFailed, now)
                    .user(user_id.as_str())
                    .detail(serde_json::json!({
                        "upstream": up.config.id, "reason": "disabled", "client_id": client_id,
                    })),
            )
            .await;
            return failure::not_allowed(name, "this account is disabled here".into());
        }
        Err(e) => return internal_page(e),
    }
    tracing::info!(target: "mcp_oauth::upstream", upstream = %up.config.id, %user_id, "upstream sign-in succeeded");
    audit::record(
        state.store().as_ref(),
        AuditEvent::new(AuditKind::LoginSucceeded, now)
            .user(user_id.as_str())
            .client(client_id.as_str())
            .detail(serde_json::json!({"upstream": up.config.id})),
    )
    .await;
    // The browser session that started the sign-in is spent, and no signed-in session replaces
    // it: every authorization of an upstream account goes through the upstream again (its own
    // session makes that quick), so each grant keeps the upstream tokens of its own sign-in, and
    // nothing here can be fixated or reused.
    let upstream = Some((up.config.id.as_str(), &tokens));
    match pending {
        Pending::Authorization(mut req) => {
            if let Err(resp) = restrict(state, &mut req, &user_id).await {
                return resp;
            }
            // The consent given on our page before the user was sent upstream, now theirs.
            if let Err(resp) = remember(state, &user_id, &req, Some(&up.config.id)).await {
                return resp;
            }
            if let Err(e) = state.store().delete_session(&login.session_hash).await {
                return internal_page(e);
            }
            issue_code_with(state, &req, &user_id, now, upstream).await
        }
        // Approved on our consent page before the user was sent upstream: now for this account,
        // with the scopes its roles allow.
        Pending::Device(user_code_hash, a) => {
            if let Err(e) = state.store().delete_session(&login.session_hash).await {
                return internal_page(e);
            }
            device::approve(state, &user_id, now, &user_code_hash, &a, upstream).await
        }
    }
}

/// What a sign-in finishes, loaded and checked again at the callback.
enum Pending {
    /// The `/authorize` request, to issue a code for.
    Authorization(Box<AuthorizationRequest>),
    /// A pending device authorization (its user code's hash, and the row), to approve.
    Device(String, Box<DeviceAuthorization>),
}

impl Pending {
    fn client_id(&self) -> &str {
        match self {
            Self::Authorization(req) => &req.client.client_id,
            Self::Device(_, a) => &a.client_id,
        }
    }
}
