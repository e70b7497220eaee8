//! `POST /device/upstream`: the device page's "Continue with …" buttons, a federated sign-in
//! that approves a device authorization.
//!
//! No one is signed in yet, so the person types the code first (the guessing budget is their
//! address's). Then, before they are sent anywhere, our consent: which application on the device
//! asks for which resource and permissions, and which provider they will sign in with. The
//! provider knows one client (us) for every device, so, as on `/authorize`, our consent is what
//! stands against the confused deputy. Allow creates the pending sign-in for this device
//! authorization (bound to this browser session and this user code) and sends the browser to the
//! provider; the callback ([`crate::handlers::upstream::callback`]) approves the authorization
//! for the account that signed in there, with the scopes that account's roles allow, and keeps
//! the provider's tokens for the grant. Deny denies it at once.

use super::render::{login_page, upstream_consent_page};
use super::{deny, look_up, read_form, typed_code};
use crate::authorization_request::redirect_origin;
use crate::handlers::upstream::{failure, start};
use crate::model::upstream::SignInFor;
use crate::state::AppState;
use crate::ui::PageError;
use crate::ui::device_pages::Provider;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

/// `POST /device/upstream`: `upstream` (the provider's id) and the code; then `approve` or
/// `deny` on our consent.
pub async fn post(State(state): State<AppState>, req: Request) -> Response {
    let ip = crate::handlers::limits::peer_ip(&req);
    let (parts, body) = req.into_parts();
    let (s, params) = match read_form(&state, &parts.headers, body, false).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let Some(up) = params
        .get("upstream")
        .and_then(|id| state.upstreams().get(id))
        .cloned()
    else {
        return failure::unknown();
    };
    let typed = typed_code(&params);
    let (code, hash, authorization) = match look_up(&state, ip, s.user_id.as_deref(), &typed).await
    {
        Ok(found) => found,
        Err(refusal) => {
            let (status, message, wait) = match refusal.shown() {
                Ok(shown) => shown,
                Err(page) => return *page,
            };
            let mut resp = login_page(&state, &s, None, &typed, Some(&message), "", status);
            if let Some(wait) = wait {
                crate::ui::error::set_retry_after(&mut resp, wait);
            }
            return resp;
        }
    };
    let provider = Provider {
        id: up.config.id.clone(),
        name: up.config.display_name().to_owned(),
    };
    let endpoints = match up.endpoints(state.now()).await {
        Ok(e) => e,
        Err(e) => return failure::upstream(&provider.name, &e),
    };
    match (params.contains("approve"), params.contains("deny")) {
        (false, false) => {
            let origin = redirect_origin(&endpoints.authorization).unwrap_or_default();
            upstream_consent_page(&state, &s, &authorization, &code, &provider, &origin).await
        }
        (true, false) => {
            start::send(
                &state,
                &up,
                &endpoints,
                &s.id_hash,
                SignInFor::Device {
                    user_code_hash: hash,
                },
                &authorization.client_id,
            )
            .await
        }
        (false, true) => {
            let user_id = s.user_id.clone().unwrap_or_default();
            deny(&state, &user_id, &hash, &authorization).await
        }
        _ => PageError::bad_request("Invalid request", "Choose either Allow or Deny.")
            .into_response(),
    }
}
