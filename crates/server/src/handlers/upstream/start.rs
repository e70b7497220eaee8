//! `POST {issuer}/upstream/{id}/start`, from a "Continue with …" button of the login page.
//!
//! First our consent page for the MCP client, always, before the user is sent anywhere: the
//! upstream knows one client (us) for every MCP client and may well skip its own consent for a
//! returning user, so without ours a dynamically registered client could ride on an earlier
//! approval (the MCP spec's confused deputy). Approve creates the pending sign-in (state,
//! PKCE verifier sealed with the KEK, nonce, bound to this browser session and to the request)
//! and redirects to the provider; deny returns `access_denied`.

use super::{callback_url, failure};
use crate::authorization_request::redirect_origin;
use crate::handlers::authorize::{Shown, internal_page, redirect, scope_descriptions};
use crate::handlers::consent::denied;
use crate::handlers::page_form::{self, PageForm};
use crate::model::upstream::{SignInFor, UpstreamLogin};
use crate::state::AppState;
use crate::ui::{self, PageError, pages};
use crate::upstream::{Endpoints, Upstream};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::secret::{random_token, sha256_b64url};

/// How long a sign-in at the provider may take, in seconds.
const PENDING_TTL: i64 = 600;

/// `POST {issuer}/upstream/{id}/start`.
pub async fn post(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(up) = state.upstreams().get(&id).cloned() else {
        return failure::unknown();
    };
    let PageForm {
        session: s,
        params,
        request: req,
    } = match page_form::read(&state, &headers, body, false).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let now = state.now();
    let name = up.config.display_name().to_owned();
    let endpoints = match up.endpoints(now).await {
        Ok(e) => e,
        Err(e) => return failure::upstream(&name, &e),
    };
    match (params.contains("approve"), params.contains("deny")) {
        (false, false) => {
            let shown = Shown::of(&req);
            let body = pages::upstream_consent(
                &format!("{}/upstream/{id}/start", state.0.base_path),
                &s.csrf_token,
                &req.raw_query,
                &shown.summary(&req),
                &name,
                &scope_descriptions(&req),
            );
            // Allow sends the browser on to the provider, Deny back to the client: both are
            // redirects after this form, which `form-action` governs.
            let client = redirect_origin(&req.redirect_uri).unwrap_or_default();
            let provider = redirect_origin(&endpoints.authorization).unwrap_or_default();
            ui::html(StatusCode::OK, body, &[client.as_str(), provider.as_str()])
        }
        (true, false) => {
            send(
                &state,
                &up,
                &endpoints,
                &s.id_hash,
                SignInFor::Authorization {
                    query: req.raw_query.clone(),
                },
                &req.client.client_id,
            )
            .await
        }
        (false, true) => denied(&state, req, None, Some(&id)).await,
        _ => PageError::bad_request("Invalid request", "Choose either Allow or Deny.")
            .into_response(),
    }
}

/// Creates the pending sign-in for `target` (state, PKCE verifier sealed with the KEK, nonce,
/// bound to the browser session `session_hash`) and redirects the browser to the provider.
pub(crate) async fn send(
    state: &AppState,
    up: &Upstream,
    endpoints: &Endpoints,
    session_hash: &str,
    target: SignInFor,
    client_id: &str,
) -> Response {
    let now = state.now();
    let id = &up.config.id;
    let state_token = random_token(32);
    let nonce = random_token(32);
    let (verifier, challenge) = mcp_oauth_core::pkce::generate();
    let state_hash = sha256_b64url(state_token.as_bytes());
    let sealed = match state
        .upstreams()
        .kek()
        .encrypt(state_hash.as_bytes(), verifier.as_bytes())
    {
        Ok(s) => s,
        Err(e) => return internal_page(e),
    };
    let login = UpstreamLogin {
        state_hash,
        upstream_id: id.clone(),
        session_hash: session_hash.to_owned(),
        target,
        sealed_verifier: sealed,
        nonce: nonce.clone(),
        created_at: now,
        expires_at: now + PENDING_TTL,
    };
    if let Err(e) = state.store().insert_upstream_login(&login).await {
        return internal_page(e);
    }
    tracing::info!(target: "mcp_oauth::upstream", upstream = %id, %client_id, "sign-in sent upstream");
    redirect(&up.authorization_url(
        endpoints,
        &callback_url(state, id),
        &state_token,
        &nonce,
        &challenge,
    ))
}
