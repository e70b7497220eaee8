//! The administrators' part of the console API, under `{issuer}/console/api/admin/`: only for a
//! token that carries `console:admin` of a user who holds the role `admin` (otherwise `403`).
//! Each call is one of the validated operations behind the admin commands ([`crate::admin`]).
//!
//! - `GET clients`, `GET clients/{id}`, `POST clients/{id}/rotate-secret` (the new secret in the
//!   answer, shown once; `?overlap=SECONDS`: the old one keeps working that long, else it stops at
//!   once), `POST clients/{id}/disable` and `enable`;
//! - `GET users`, `POST users` (`username`, `password`, `roles`), `POST users/{name}/password`,
//!   `POST users/{name}/roles` (`add`, `remove`), `POST users/{name}/disable` and `enable`;
//! - `GET resources` (with scopes and their roles), `GET keys` (signing keys, public parts);
//! - `GET audit?kind=&since=&limit=` (newest first; at most 500).

use super::api::{Caller, answer, caller, forbidden, from_admin, not_found, ok, read_json};
use crate::admin;
use crate::audit::{AuditFilter, AuditKind};
use crate::error::OAuthError;
use crate::model::{Client, User};
use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use mcp_oauth_core::secret::Secret;
use serde::Deserialize;
use serde_json::{Value, json};

/// The routes under `{base}/console/api/admin/`.
pub fn router(base: &str) -> Router<AppState> {
    let p = |s: &str| format!("{base}/console/api/admin/{s}");
    Router::new()
        .route(&p("clients"), get(clients))
        .route(&p("clients/{id}"), get(client))
        .route(&p("clients/{id}/rotate-secret"), post(rotate_secret))
        .route(&p("clients/{id}/disable"), post(disable))
        .route(&p("clients/{id}/enable"), post(enable))
        .route(&p("users"), get(users).post(add_user))
        .route(&p("users/{name}/password"), post(set_password))
        .route(&p("users/{name}/roles"), post(set_roles))
        .route(&p("users/{name}/disable"), post(disable_user))
        .route(&p("users/{name}/enable"), post(enable_user))
        .route(&p("resources"), get(resources))
        .route(&p("keys"), get(keys))
        .route(&p("audit"), get(audit))
}

async fn administrator(state: &AppState, headers: &HeaderMap) -> Result<Caller, OAuthError> {
    let c = caller(state, headers).await?;
    if !c.admin {
        return Err(forbidden(
            "administrators only (role `admin`, scope `console:admin`)",
        ));
    }
    Ok(c)
}

fn client_view(c: &Client) -> Value {
    json!({
        "client_id": c.client_id, "client_name": c.client_name,
        "token_endpoint_auth_method": c.token_endpoint_auth_method,
        "origin": c.origin.as_str(), "redirect_uris": c.redirect_uris, "grant_types": c.grant_types,
        "created_at": c.created_at, "last_used_at": c.last_used_at,
        "introspect_resources": c.introspect_resources, "has_secret": c.secret_hash.is_some(),
        "disabled_at": c.disabled_at,
    })
}

fn user_view(u: &User) -> Value {
    json!({"id": u.id, "username": u.username, "roles": u.roles, "created_at": u.created_at,
           "disabled_at": u.disabled_at})
}

async fn clients(State(state): State<AppState>, headers: HeaderMap) -> Response {
    answer(
        async {
            administrator(&state, &headers).await?;
            let all = state.store().list_clients().await?;
            ok(Value::Array(all.iter().map(client_view).collect()))
        }
        .await,
    )
}

async fn client(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    answer(
        async {
            administrator(&state, &headers).await?;
            let c = state
                .store()
                .get_client(&id)
                .await?
                .ok_or_else(|| not_found("client"))?;
            ok(client_view(&c))
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Overlap {
    overlap: Option<i64>,
}

async fn rotate_secret(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<Overlap>, QueryRejection>,
) -> Response {
    answer(
        async {
            administrator(&state, &headers).await?;
            let Ok(Query(q)) = query else {
                return Err(OAuthError::invalid_request(
                    "overlap must be a number of seconds",
                ));
            };
            let overlap = q.overlap.unwrap_or(0);
            let secret = admin::rotate_secret_with_overlap(
                state.store().as_ref(),
                &id,
                overlap,
                state.now(),
            )
            .await
            .map_err(from_admin)?;
            crate::clients::changed(&state, &id);
            ok(json!({"client_id": id, "client_secret": secret.expose(),
                  "previous_secret_until": (overlap > 0).then(|| state.now() + overlap)}))
        }
        .await,
    )
}

async fn disable(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    set_disabled(state, headers, id, true).await
}

async fn enable(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    set_disabled(state, headers, id, false).await
}

async fn set_disabled(state: AppState, headers: HeaderMap, id: String, disabled: bool) -> Response {
    answer(async {
        let c = administrator(&state, &headers).await?;
        if disabled && id == super::CLIENT_ID {
            return Err(OAuthError::invalid_request("the console cannot disable itself"));
        }
        let client = admin::set_client_disabled(state.store().as_ref(), &id, disabled, state.now())
            .await
            .map_err(from_admin)?;
        crate::clients::changed(&state, &id);
        tracing::info!(target: "mcp_oauth::console", client_id = %id, disabled, by = %c.user.id, "client disabled or enabled");
        ok(client_view(&client))
    }.await)
}

async fn disable_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    set_user_disabled(state, headers, name, true).await
}

async fn enable_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    set_user_disabled(state, headers, name, false).await
}

async fn set_user_disabled(
    state: AppState,
    headers: HeaderMap,
    name: String,
    disabled: bool,
) -> Response {
    answer(
        async {
            let c = administrator(&state, &headers).await?;
            if disabled && name == c.user.username {
                return Err(OAuthError::invalid_request(
                    "you cannot disable your own account",
                ));
            }
            let u = admin::set_user_disabled(state.store().as_ref(), &name, disabled, state.now())
                .await
                .map_err(from_admin)?;
            ok(user_view(&u))
        }
        .await,
    )
}

async fn users(State(state): State<AppState>, headers: HeaderMap) -> Response {
    answer(
        async {
            administrator(&state, &headers).await?;
            let all = state.store().list_users().await?;
            ok(Value::Array(all.iter().map(user_view).collect()))
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: String,
    password: String,
    #[serde(default)]
    roles: Vec<String>,
}

async fn add_user(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    answer(
        async {
            administrator(&state, &headers).await?;
            let req: NewUser = read_json(&headers, &body)?;
            let u = admin::add_user_with_roles(
                state.store().as_ref(),
                &req.username,
                Secret::new(req.password),
                &req.roles,
                state.now(),
            )
            .await
            .map_err(from_admin)?;
            ok(user_view(&u))
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPassword {
    password: String,
}

async fn set_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    answer(
        async {
            administrator(&state, &headers).await?;
            let req: NewPassword = read_json(&headers, &body)?;
            admin::set_password(state.store().as_ref(), &name, Secret::new(req.password))
                .await
                .map_err(from_admin)?;
            ok(json!({"username": name, "password": "changed"}))
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleChange {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

async fn set_roles(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    answer(
        async {
            administrator(&state, &headers).await?;
            let req: RoleChange = read_json(&headers, &body)?;
            let u = admin::roles::change_user_roles(
                state.store().as_ref(),
                &name,
                &req.add,
                &req.remove,
            )
            .await
            .map_err(from_admin)?;
            ok(user_view(&u))
        }
        .await,
    )
}

async fn resources(State(state): State<AppState>, headers: HeaderMap) -> Response {
    answer(
        async {
            administrator(&state, &headers).await?;
            let all = state.store().list_resources().await?;
            ok(json!(all))
        }
        .await,
    )
}

async fn keys(State(state): State<AppState>, headers: HeaderMap) -> Response {
    answer(
        async {
            administrator(&state, &headers).await?;
            let all = state.store().list_keys().await?;
            ok(Value::Array(
                all.iter()
                    .map(|k| {
                        json!({
                            "kid": k.kid, "alg": k.alg, "created_at": k.created_at,
                            "activates_at": k.activates_at, "retires_at": k.retires_at,
                        })
                    })
                    .collect(),
            ))
        }
        .await,
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    kind: Option<String>,
    since: Option<i64>,
    limit: Option<u32>,
}

async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Response {
    answer(
        async {
            administrator(&state, &headers).await?;
            let Ok(Query(q)) = query else {
                return Err(OAuthError::invalid_request(
                    "unknown or malformed filter (kind, since, limit)",
                ));
            };
            let kind = match q.kind.as_deref().filter(|k| !k.is_empty()) {
                Some(k) => Some(
                    k.parse::<AuditKind>()
                        .map_err(OAuthError::invalid_request)?,
                ),
                None => None,
            };
            let filter = AuditFilter {
                since: q.since,
                kind,
                limit: Some(q.limit.unwrap_or(100).min(500)),
            };
            let events = state.store().list_audit(&filter).await?;
            ok(json!(events))
        }
        .await,
    )
}
