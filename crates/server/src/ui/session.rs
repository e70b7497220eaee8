//! The browser session cookie and CSRF tokens.
//!
//! On https the cookie is `__Host-mcp-oauth-session; Secure; HttpOnly; SameSite=Lax; Path=/`
//! (the prefix pins it to this host and path, so a sibling subdomain cannot plant one). In `--dev`
//! on plain-http loopback, browsers refuse `Secure` and `__Host-`, so the cookie is
//! `mcp-oauth-session; HttpOnly; SameSite=Lax; Path=/`. The cookie holds a 256-bit id; the store
//! holds its hash, so a database read does not yield usable sessions.

use crate::model::Session;
use crate::state::AppState;
use crate::store::StoreError;
use axum::http::{HeaderMap, HeaderValue, header};
use mcp_oauth_core::secret::{constant_time_eq, random_token, sha256_b64url};

/// The cookie name for this deployment.
pub fn cookie_name(state: &AppState) -> &'static str {
    if state.config().secure_cookie() {
        "__Host-mcp-oauth-session"
    } else {
        "mcp-oauth-session"
    }
}

/// The session id from the request's cookies.
pub fn read_cookie(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(state);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| {
            v.len() == 43
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Lifetime of a session that has not logged in yet.
const ANONYMOUS_TTL: i64 = crate::model::ANONYMOUS_SESSION_TTL;

/// The `Set-Cookie` value for a session id.
pub fn set_cookie(state: &AppState, id: &str, max_age: i64) -> Option<HeaderValue> {
    let name = cookie_name(state);
    let secure = if state.config().secure_cookie() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// The session of this request, if its cookie names a live one.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<Session>, StoreError> {
    let Some(id) = read_cookie(state, headers) else {
        return Ok(None);
    };
    state
        .store()
        .get_session(&sha256_b64url(id.as_bytes()), state.now())
        .await
}

/// Creates a session (anonymous, or for `user_id` after login) and returns it with its
/// `Set-Cookie` value.
pub async fn create(
    state: &AppState,
    user_id: Option<String>,
) -> Result<(Session, Option<HeaderValue>), StoreError> {
    let id = random_token(32);
    let now = state.now();
    let ttl = if user_id.is_some() {
        state.config().session_ttl
    } else {
        state.config().session_ttl.min(ANONYMOUS_TTL)
    };
    let session = Session {
        id_hash: sha256_b64url(id.as_bytes()),
        auth_time: user_id.as_ref().map(|_| now),
        user_id,
        csrf_token: random_token(32),
        created_at: now,
        expires_at: now + ttl,
    };
    state.store().insert_session(&session).await?;
    Ok((session, set_cookie(state, &id, ttl)))
}

/// Whether the form's CSRF token is the session's.
pub fn csrf_ok(session: &Session, presented: Option<&str>) -> bool {
    presented.is_some_and(|p| constant_time_eq(p.as_bytes(), session.csrf_token.as_bytes()))
}
