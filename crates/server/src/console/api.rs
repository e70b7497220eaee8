//! The console's JSON API under `{issuer}/console/api/`: what a signed-in user does with their
//! own access. Every call carries a bearer access token of this server issued to the console
//! ([`super::CLIENT_ID`]) for [`super::api_resource`] with scope `console`; it is checked as
//! introspection checks a token (signature, issuer, expiry, revoked `jti`, live grant). Cookies
//! play no part, so CSRF does not apply; a request that names a foreign `Origin` is refused all
//! the same (`403`), so no other site can even try. Errors are RFC 6749/6750 JSON.
//!
//! - `GET me`: the user, their roles, whether the token carries `console:admin`;
//! - `GET me/authorizations`, `DELETE me/authorizations/{grant}`: the user's live grants (client
//!   name, resource, scopes, granted, the client's last use, this console's own marked); withdrawing one revokes its
//!   refresh family at once and forgets the consent, so the client must ask again;
//! - `GET me/sessions`, `POST me/sessions/sign-out-others`: the user's browser sessions at the
//!   sign-in pages (this browser's marked, by its cookie), and signing out of all the others;
//! - `GET me/api-keys`, `POST me/api-keys`, `DELETE me/api-keys/{id}`: the user's API keys
//!   ([`crate::api_keys`]), the new key shown once in the `POST` answer;
//! - `GET resources`: the resources and their scopes, for the key form.

use crate::admin::AdminError;
use crate::api_keys::{self, NewKey};
use crate::audit::{self, AuditEvent, AuditKind};
use crate::error::{OAuthError, no_store_json};
use crate::model::{ApiKey, User};
use crate::state::AppState;
use crate::tokens::{GRANT_CLAIM, verify_own_access_token};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use mcp_oauth_core::ErrorCode;
use mcp_oauth_core::ScopeSet;
use mcp_oauth_core::resource::audience_matches;
use serde::Deserialize;
use serde_json::{Value, json};

/// The routes under `{base}/console/api/`.
pub fn router(base: &str) -> Router<AppState> {
    let p = |s: &str| format!("{base}/console/api/{s}");
    Router::new()
        .route(&p("me"), get(me))
        .route(&p("me/authorizations"), get(authorizations))
        .route(&p("me/authorizations/{id}"), delete(withdraw))
        .route(&p("me/sessions"), get(sessions))
        .route(&p("me/sessions/sign-out-others"), post(sign_out_others))
        .route(&p("me/api-keys"), get(list_keys).post(create_key))
        .route(&p("me/api-keys/{id}"), delete(revoke_key))
        .route(&p("resources"), get(resources))
        .merge(super::admin_api::router(base))
}

/// The signed-in caller of one request.
pub(super) struct Caller {
    pub(super) user: User,
    /// The grant behind the console's token (its own authorization).
    grant_id: Option<String>,
    pub(super) admin: bool,
}

pub(super) type Answer = Result<Response, OAuthError>;

pub(super) fn ok(v: Value) -> Answer {
    Ok(no_store_json(StatusCode::OK, &v))
}

pub(super) fn forbidden(description: &str) -> OAuthError {
    OAuthError::new(ErrorCode::AccessDenied, description).with_status(StatusCode::FORBIDDEN)
}

pub(super) fn not_found(what: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, format!("{what} not found"))
        .with_status(StatusCode::NOT_FOUND)
}

pub(super) fn from_admin(e: AdminError) -> OAuthError {
    match e {
        AdminError::Invalid(m) => OAuthError::invalid_request(m),
        AdminError::NotFound(w) => not_found(&w),
        AdminError::Exists(w) => OAuthError::invalid_request(format!("{w} already exists"))
            .with_status(StatusCode::CONFLICT),
        AdminError::Store(e) => e.into(),
    }
}

/// Refuses a request whose `Origin` is not this server's.
fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), OAuthError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let ours = url::Url::parse(&state.config().issuer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    if origin.to_str().ok() == Some(ours.as_str()) {
        Ok(())
    } else {
        Err(forbidden("requests from another origin are refused"))
    }
}

/// Authenticates the console's bearer token.
pub(super) async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, OAuthError> {
    check_origin(state, headers)?;
    let bad = || OAuthError::invalid_token("a valid console access token is required");
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(bad)?;
    let claims = verify_own_access_token(state, token.trim()).ok_or_else(bad)?;
    let resource = super::api_resource(&state.config().issuer);
    if claims.client_id != super::CLIENT_ID
        || !claims.aud.iter().any(|a| audience_matches(&resource, a))
    {
        return Err(bad());
    }
    let store = state.store();
    if store.is_access_token_revoked(&claims.jti).await? {
        return Err(bad());
    }
    let grant_id = claims
        .extra
        .get(GRANT_CLAIM)
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(gid) = &grant_id {
        match store.get_grant(gid).await? {
            Some(g) if g.revoked_at.is_none() => {}
            _ => return Err(bad()),
        }
    }
    let scope = ScopeSet::parse(claims.scope.as_deref().unwrap_or("")).unwrap_or_default();
    if !scope.contains(super::SCOPE) {
        let mut e = OAuthError::new(
            ErrorCode::InsufficientScope,
            "the token lacks scope `console`",
        )
        .with_status(StatusCode::FORBIDDEN);
        e.www_authenticate = Some(format!(
            "Bearer error=\"insufficient_scope\", scope=\"{}\"",
            super::SCOPE
        ));
        return Err(e);
    }
    let user = store
        .get_user(&claims.sub)
        .await?
        .filter(|u| u.disabled_at.is_none())
        .ok_or_else(bad)?;
    Ok(Caller {
        admin: scope.contains(super::ADMIN_SCOPE)
            && user.roles.iter().any(|r| r == super::ADMIN_ROLE),
        user,
        grant_id,
    })
}

pub(super) fn answer(r: Answer) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

async fn me(State(state): State<AppState>, headers: HeaderMap) -> Response {
    answer(
        async {
            let c = caller(&state, &headers).await?;
            ok(
                json!({"user_id": c.user.id, "username": c.user.username, "roles": c.user.roles,
                  "admin": c.admin}),
            )
        }
        .await,
    )
}

async fn authorizations(State(state): State<AppState>, headers: HeaderMap) -> Response {
    answer(
        async {
            let c = caller(&state, &headers).await?;
            let now = state.now();
            let mut out = Vec::new();
            for g in state.store().list_grants_for_user(&c.user.id).await? {
                if g.revoked_at.is_some() || g.expires_at <= now {
                    continue;
                }
                let client = state.store().get_client(&g.client_id).await?;
                out.push(json!({
                    "id": g.id,
                    "client_id": g.client_id,
                    // The client's last token, over all its grants (grants keep no use time).
                    "client_last_used_at": client.as_ref().and_then(|c| c.last_used_at),
                    "client_name": client.map(|c| c.client_name).unwrap_or_default(),
                    "resource": g.resource,
                    "scope": g.scope.to_string(),
                    "granted_at": g.created_at,
                    "expires_at": g.expires_at,
                    "current": c.grant_id.as_deref() == Some(g.id.as_str()),
                }));
            }
            ok(Value::Array(out))
        }
        .await,
    )
}

async fn withdraw(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    answer(
        async {
            let c = caller(&state, &headers).await?;
            let store = state.store();
            let grant = store.get_grant(&id).await?;
            let Some(grant) = grant.filter(|g| g.user_id.as_deref() == Some(c.user.id.as_str()))
            else {
                return Err(not_found("authorization"));
            };
            let now = state.now();
            store.revoke_grant(&grant.id, now).await?;
            let forgotten = store.revoke_consent(&c.user.id, &grant.client_id).await?;
            let event = AuditEvent::new(AuditKind::ConsentRevoked, now)
                .user(c.user.id.clone())
                .client(grant.client_id.clone())
                .detail(json!({"grant_id": grant.id, "consents": forgotten, "via": "console"}));
            audit::record(store.as_ref(), event).await;
            ok(json!({"withdrawn": grant.id}))
        }
        .await,
    )
}

/// The hash of this browser's session cookie, if it sent one (same-origin calls carry it).
fn current_session(state: &AppState, headers: &HeaderMap) -> Option<String> {
    crate::ui::session::read_cookie(state, headers)
        .map(|id| mcp_oauth_core::secret::sha256_b64url(id.as_bytes()))
}

async fn sessions(State(state): State<AppState>, headers: HeaderMap) -> Response {
    answer(
        async {
            let c = caller(&state, &headers).await?;
            let current = current_session(&state, &headers);
            let list = state
                .store()
                .list_user_sessions(&c.user.id, state.now())
                .await?;
            ok(Value::Array(list.iter().map(|s| json!({
            "signed_in_at": s.auth_time, "created_at": s.created_at, "expires_at": s.expires_at,
            "current": current.as_deref() == Some(s.id_hash.as_str()),
        })).collect()))
        }
        .await,
    )
}

async fn sign_out_others(State(state): State<AppState>, headers: HeaderMap) -> Response {
    answer(async {
        let c = caller(&state, &headers).await?;
        let current = current_session(&state, &headers);
        let n = state
            .store()
            .delete_user_sessions(&c.user.id, current.as_deref())
            .await?;
        tracing::info!(target: "mcp_oauth::console", user_id = %c.user.id, sessions = n, "signed out of the other sessions");
        ok(json!({"signed_out": n}))
    }.await)
}

fn key_view(k: &ApiKey, now: i64) -> Value {
    json!({
        "id": k.id, "label": k.label, "resource": k.resource, "scope": k.scope.to_string(),
        "created_at": k.created_at, "expires_at": k.expires_at, "last_used_at": k.last_used_at,
        "revoked_at": k.revoked_at, "active": k.is_active(now),
    })
}

async fn list_keys(State(state): State<AppState>, headers: HeaderMap) -> Response {
    answer(
        async {
            let c = caller(&state, &headers).await?;
            let now = state.now();
            let keys = state.store().list_api_keys(Some(&c.user.id)).await?;
            ok(Value::Array(
                keys.iter().map(|k| key_view(k, now)).collect(),
            ))
        }
        .await,
    )
}

/// Reads a JSON body (`application/json` only; unknown fields refused by the type).
pub(super) fn read_json<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, OAuthError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(
            OAuthError::invalid_request("the body must be application/json")
                .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
        );
    }
    serde_json::from_slice(body)
        .map_err(|e| OAuthError::invalid_request(format!("invalid body: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKeyBody {
    resource: String,
    scope: String,
    label: String,
    expires_in: i64,
}

async fn create_key(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    answer(
        async {
            let c = caller(&state, &headers).await?;
            let req: NewKeyBody = read_json(&headers, &body)?;
            let scope = ScopeSet::parse(&req.scope)
                .map_err(|e| OAuthError::invalid_request(format!("invalid scope: {e}")))?;
            let store = state.store().as_ref();
            let resource = store
                .get_resource(&req.resource)
                .await?
                .ok_or_else(|| not_found("resource"))?;
            let new = NewKey {
                label: &req.label,
                user: Some(&c.user),
                resource: &resource,
                scope: &scope,
                ttl: req.expires_in,
            };
            let now = state.now();
            let (record, key) = api_keys::create(store, state.api_key_hmac(), new, now)
                .await
                .map_err(from_admin)?;
            let mut v = key_view(&record, now);
            v["key"] = Value::String(key.expose().to_owned());
            Ok(no_store_json(StatusCode::CREATED, &v))
        }
        .await,
    )
}

async fn revoke_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    answer(
        async {
            let c = caller(&state, &headers).await?;
            api_keys::revoke(state.store().as_ref(), &id, Some(&c.user.id), state.now())
                .await
                .map_err(from_admin)?;
            ok(json!({"revoked": id}))
        }
        .await,
    )
}

async fn resources(State(state): State<AppState>, headers: HeaderMap) -> Response {
    answer(async {
        caller(&state, &headers).await?;
        let console = super::api_resource(&state.config().issuer);
        let list: Vec<Value> = state
            .store()
            .list_resources()
            .await?
            .into_iter()
            .filter(|r| r.uri != console)
            .map(|r| json!({"uri": r.uri, "name": r.name,
                "scopes": r.scopes.iter().map(|s| json!({"name": s.name, "description": s.description})).collect::<Vec<_>>()}))
            .collect();
        ok(Value::Array(list))
    }.await)
}
