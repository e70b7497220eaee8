//! Administration of users, clients, resources and registration tokens: the operations behind
//! `mcp-oauth users`, `clients`, `resources` and `registration-tokens`, with the validation the
//! endpoints rely on.

pub mod roles;

use crate::audit::{AuditEvent, AuditKind};
use crate::model::{Client, ClientOrigin, RegistrationToken, Resource, ScopeDef, User};
use crate::password;
use crate::store::{Store, StoreError};
use mcp_oauth_core::ScopeSet;
use mcp_oauth_core::clock::UnixTime;
use mcp_oauth_core::scope::is_scope_token;
use mcp_oauth_core::secret::{Secret, random_token, sha256_b64url};
use mcp_oauth_core::token::{auth_method, grant_type};

/// An administrative request that cannot be carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The input is invalid; the message says why.
    #[error("{0}")]
    Invalid(String),
    /// The thing named does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// It exists already.
    #[error("{0} already exists")]
    Exists(String),
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Self::Exists(what),
            other => Self::Store(other),
        }
    }
}

fn invalid(msg: impl Into<String>) -> AdminError {
    AdminError::Invalid(msg.into())
}

/// Parses `name=Description` (or a bare `name`) as a scope definition.
pub fn parse_scope_def(s: &str) -> Result<ScopeDef, AdminError> {
    let (name, desc) = match s.split_once('=') {
        Some((n, d)) => (n.trim(), d.trim()),
        None => (s.trim(), ""),
    };
    if !is_scope_token(name) {
        return Err(invalid(format!(
            "`{name}` is not a valid scope name (printable ASCII without spaces, quotes or backslashes)"
        )));
    }
    Ok(ScopeDef {
        roles: Vec::new(),
        name: name.to_owned(),
        description: if desc.is_empty() {
            name.to_owned()
        } else {
            desc.to_owned()
        },
    })
}

/// Registers (or replaces) a protected resource.
pub async fn add_resource(
    store: &dyn Store,
    uri: &str,
    name: &str,
    scopes: Vec<ScopeDef>,
    now: UnixTime,
) -> Result<Resource, AdminError> {
    mcp_oauth_core::resource::validate(uri).map_err(|e| invalid(format!("resource URI: {e}")))?;
    if name.trim().is_empty() {
        return Err(invalid("a resource needs a name"));
    }
    let created_at = store.get_resource(uri).await?.map_or(now, |r| r.created_at);
    let r = Resource {
        uri: uri.to_owned(),
        name: name.trim().to_owned(),
        scopes,
        created_at,
    };
    store.upsert_resource(&r).await?;
    Ok(r)
}

/// Usernames: 1 to 64 characters of letters, digits, `.`, `_`, `-`, `@`.
pub fn validate_username(name: &str) -> Result<(), AdminError> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(invalid(
            "a username is 1 to 64 letters, digits, '.', '_', '-' or '@'",
        ));
    }
    Ok(())
}

/// Creates a user with an Argon2id password hash.
pub async fn add_user(
    store: &dyn Store,
    username: &str,
    password: Secret,
    now: UnixTime,
) -> Result<User, AdminError> {
    add_user_with_roles(store, username, password, &[], now).await
}

/// Creates a user holding `roles` (see [`roles`]).
pub async fn add_user_with_roles(
    store: &dyn Store,
    username: &str,
    password: Secret,
    roles: &[String],
    now: UnixTime,
) -> Result<User, AdminError> {
    validate_username(username)?;
    let roles = roles::normalize(roles)?;
    if password.expose().is_empty() {
        return Err(invalid("the password must not be empty"));
    }
    let hash = password::hash(password)
        .await
        .map_err(|e| invalid(e.to_string()))?;
    let user = User {
        id: random_token(16),
        username: username.to_owned(),
        password_hash: hash,
        created_at: now,
        roles,
        disabled_at: None,
    };
    store.insert_user(&user).await.map_err(|e| match e {
        StoreError::Conflict(_) => AdminError::Exists(format!("user `{username}`")),
        other => other.into(),
    })?;
    Ok(user)
}

/// Sets a user's password.
pub async fn set_password(
    store: &dyn Store,
    username: &str,
    password: Secret,
) -> Result<(), AdminError> {
    if password.expose().is_empty() {
        return Err(invalid("the password must not be empty"));
    }
    let hash = password::hash(password)
        .await
        .map_err(|e| invalid(e.to_string()))?;
    if !store.set_password(username, &hash).await? {
        return Err(AdminError::NotFound(format!("user `{username}`")));
    }
    Ok(())
}

/// What an administrator asks for when adding a client.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    /// Display name.
    pub name: String,
    /// Redirect URIs (required for the code grant).
    pub redirect_uris: Vec<String>,
    /// Grant types; default `authorization_code` + `refresh_token`.
    pub grant_types: Vec<String>,
    /// A public client (no secret; PKCE only).
    pub public: bool,
    /// Scopes the client may be granted; `None` for any.
    pub scope: Option<ScopeSet>,
    /// A fixed client id (default: random).
    pub client_id: Option<String>,
    /// The client's public keys (a JWK Set): it authenticates with `private_key_jwt`, no secret.
    pub jwks: Option<serde_json::Value>,
    /// Where the client publishes its public keys: `private_key_jwt`, no secret.
    pub jwks_uri: Option<String>,
    /// A resource server: the registered resources whose tokens it may introspect. Without a
    /// grant it gets no grant types (it only introspects).
    pub introspect_resources: Vec<String>,
}

/// Creates a client. Returns it and, for a confidential client, its secret: shown once, stored
/// only as a hash.
pub async fn add_client(
    store: &dyn Store,
    req: NewClient,
    now: UnixTime,
) -> Result<(Client, Option<Secret>), AdminError> {
    if req.name.trim().is_empty() {
        return Err(invalid("a client needs a name"));
    }
    let introspect_resources = check_introspect_resources(store, &req).await?;
    let mut grants = if req.grant_types.is_empty() && !introspect_resources.is_empty() {
        Vec::new()
    } else if req.grant_types.is_empty() {
        vec![
            grant_type::AUTHORIZATION_CODE.to_owned(),
            grant_type::REFRESH_TOKEN.to_owned(),
        ]
    } else {
        req.grant_types.clone()
    };
    grants.sort();
    grants.dedup();
    for g in &grants {
        if ![
            grant_type::AUTHORIZATION_CODE,
            grant_type::REFRESH_TOKEN,
            grant_type::CLIENT_CREDENTIALS,
            grant_type::TOKEN_EXCHANGE,
            grant_type::DEVICE_CODE,
        ]
        .contains(&g.as_str())
        {
            return Err(invalid(format!(
                "unknown grant `{g}` (use authorization_code, refresh_token, client_credentials, {} or {})",
                grant_type::TOKEN_EXCHANGE,
                grant_type::DEVICE_CODE
            )));
        }
    }
    if req.public && grants.iter().any(|g| g == grant_type::CLIENT_CREDENTIALS) {
        return Err(invalid("a public client cannot use client_credentials"));
    }
    // RFC 8693 here hands a user's upstream token to the MCP server of the token's resource:
    // only to that server's own confidential client, named with the resources it serves.
    if grants.iter().any(|g| g == grant_type::TOKEN_EXCHANGE) && introspect_resources.is_empty() {
        return Err(invalid(
            "token exchange is for a resource server: name the resources it serves with --resource",
        ));
    }
    let uses_keys = req.jwks.is_some() || req.jwks_uri.is_some();
    if uses_keys && req.public {
        return Err(invalid(
            "a client with keys (--jwks-file, --jwks-uri) is confidential, not public",
        ));
    }
    if req.jwks.is_some() && req.jwks_uri.is_some() {
        return Err(invalid("give the keys by value or by URL, not both"));
    }
    if let Some(jwks) = &req.jwks {
        crate::client_keys::parse_public_jwks(jwks).map_err(invalid)?;
    }
    if let Some(uri) = &req.jwks_uri {
        let ok = url::Url::parse(uri).is_ok_and(|u| {
            u.username().is_empty()
                && u.password().is_none()
                && (u.scheme() == "https"
                    || (u.scheme() == "http"
                        && mcp_oauth_core::uri::UriParts::split(uri)
                            .is_some_and(|p| mcp_oauth_core::uri::is_loopback_host(p.host()))))
        });
        if !ok {
            return Err(invalid(
                "the JWKS URL must be https (http only on a loopback host)",
            ));
        }
    }
    let uses_code = grants.iter().any(|g| g == grant_type::AUTHORIZATION_CODE);
    if uses_code && req.redirect_uris.is_empty() {
        return Err(invalid(
            "the authorization_code grant needs at least one --redirect-uri",
        ));
    }
    for r in &req.redirect_uris {
        // The administrator's own clients: the default allow-list of known clients' schemes.
        mcp_oauth_core::redirect::validate_with(r, mcp_oauth_core::redirect::DEFAULT_EXTRA_SCHEMES)
            .map_err(|e| invalid(format!("redirect URI `{r}`: {e}")))?;
    }
    let client_id = match req.client_id {
        Some(id)
            if !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            id
        }
        Some(_) => {
            return Err(invalid(
                "a client id is 1 to 255 printable ASCII characters",
            ));
        }
        None => random_token(16),
    };
    let secret = (!req.public && !uses_keys).then(|| Secret::new(random_token(32)));
    let client = Client {
        client_id: client_id.clone(),
        client_name: req.name.trim().to_owned(),
        token_endpoint_auth_method: if req.public {
            auth_method::NONE.to_owned()
        } else if uses_keys {
            auth_method::PRIVATE_KEY_JWT.to_owned()
        } else {
            auth_method::CLIENT_SECRET_BASIC.to_owned()
        },
        secret_hash: secret
            .as_ref()
            .map(|s| sha256_b64url(s.expose().as_bytes())),
        secret_expires_at: None,
        redirect_uris: req.redirect_uris,
        grant_types: grants,
        allowed_scopes: req.scope,
        jwks: req.jwks,
        jwks_uri: req.jwks_uri,
        origin: ClientOrigin::Admin,
        registration_token_hash: None,
        metadata: serde_json::Value::Object(Default::default()),
        created_at: now,
        last_used_at: None,
        introspect_resources,
        disabled_at: None,
        previous_secret_hash: None,
        previous_secret_until: None,
    };
    store.insert_client(&client).await.map_err(|e| match e {
        StoreError::Conflict(_) => AdminError::Exists(format!("client `{client_id}`")),
        other => other.into(),
    })?;
    crate::audit::record(
        store,
        AuditEvent::new(AuditKind::ClientRegistered, now)
            .client(client_id.as_str())
            .detail(serde_json::json!({
                "origin": client.origin.as_str(),
                "auth_method": client.token_endpoint_auth_method,
            })),
    )
    .await;
    Ok((client, secret))
}

/// The resources a new client may introspect for: registered ones, for a confidential client
/// only (RFC 7662 §2.1: the caller authenticates).
async fn check_introspect_resources(
    store: &dyn Store,
    req: &NewClient,
) -> Result<Vec<String>, AdminError> {
    if req.introspect_resources.is_empty() {
        return Ok(Vec::new());
    }
    if req.public {
        return Err(invalid(
            "a public client cannot introspect: a resource server authenticates (drop --public)",
        ));
    }
    let mut uris = Vec::new();
    for uri in &req.introspect_resources {
        if store.get_resource(uri).await?.is_none() {
            return Err(invalid(format!(
                "resource `{uri}` is not registered (add it first: mcp-oauth resources add)"
            )));
        }
        uris.push(uri.clone());
    }
    uris.sort();
    uris.dedup();
    Ok(uris)
}

/// Removes a client and everything issued to it, recording it in the audit trail. Returns
/// whether it existed.
pub async fn remove_client(
    store: &dyn Store,
    client_id: &str,
    now: UnixTime,
) -> Result<bool, AdminError> {
    let existed = store.delete_client(client_id).await?;
    if existed {
        crate::audit::record(
            store,
            AuditEvent::new(AuditKind::ClientRemoved, now)
                .client(client_id)
                .detail(serde_json::json!({"by": "admin"})),
        )
        .await;
    }
    Ok(existed)
}

/// Replaces a confidential client's secret; the old one stops working at once.
pub async fn rotate_secret(store: &dyn Store, client_id: &str) -> Result<Secret, AdminError> {
    rotate_secret_with_overlap(store, client_id, 0, 0).await
}

/// Replaces a confidential client's secret; the old one keeps working for `overlap` seconds
/// after `now` (0: it stops at once), so a deployment can switch without an outage. One overlap
/// at a time: a rotation during the window ends the older secret.
pub async fn rotate_secret_with_overlap(
    store: &dyn Store,
    client_id: &str,
    overlap: i64,
    now: UnixTime,
) -> Result<Secret, AdminError> {
    if !(0..=30 * 24 * 3600).contains(&overlap) {
        return Err(invalid(
            "the overlap must be between 0 and 30 days (in seconds)",
        ));
    }
    let mut client = store
        .get_client(client_id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("client `{client_id}`")))?;
    if client.secret_hash.is_none() {
        return Err(invalid(
            "this client has no secret (it is public or uses keys)",
        ));
    }
    let secret = Secret::new(random_token(32));
    let old = client
        .secret_hash
        .replace(sha256_b64url(secret.expose().as_bytes()));
    client.secret_expires_at = None;
    (client.previous_secret_hash, client.previous_secret_until) = if overlap > 0 {
        (old, Some(now + overlap))
    } else {
        (None, None)
    };
    store.update_client(&client).await?;
    Ok(secret)
}

/// Disables (`true`) or enables a user. A disabled user cannot sign in (the answer of a wrong
/// password), their grants do not refresh and their tokens are inactive at introspection; their
/// browser sessions end at once.
pub async fn set_user_disabled(
    store: &dyn Store,
    username: &str,
    disabled: bool,
    now: UnixTime,
) -> Result<User, AdminError> {
    let mut user = store
        .get_user_by_name(username)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("user `{username}`")))?;
    user.disabled_at = disabled.then_some(user.disabled_at.unwrap_or(now));
    store.set_user_disabled(username, user.disabled_at).await?;
    if disabled {
        store.delete_user_sessions(&user.id, None).await?;
    }
    let event = AuditEvent::new(AuditKind::UserDisabled, now)
        .user(user.id.clone())
        .detail(serde_json::json!({"disabled": disabled}));
    crate::audit::record(store, event).await;
    Ok(user)
}

/// Disables (`true`) or enables a client. A disabled client cannot sign users in, obtain or
/// refresh tokens, and its tokens are inactive at introspection. Returns the updated client.
pub async fn set_client_disabled(
    store: &dyn Store,
    client_id: &str,
    disabled: bool,
    now: UnixTime,
) -> Result<Client, AdminError> {
    let mut client = store
        .get_client(client_id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("client `{client_id}`")))?;
    client.disabled_at = disabled.then_some(client.disabled_at.unwrap_or(now));
    store.update_client(&client).await?;
    let event = AuditEvent::new(AuditKind::ClientDisabled, now)
        .client(client_id)
        .detail(serde_json::json!({"disabled": disabled}));
    crate::audit::record(store, event).await;
    Ok(client)
}

/// Creates an initial access token for the `token` registration policy (RFC 7591 §3). Returns
/// the record and the token: shown once, stored only as a hash. `ttl`: seconds until it expires
/// (`None`: until revoked).
pub async fn add_registration_token(
    store: &dyn Store,
    label: &str,
    ttl: Option<i64>,
    now: UnixTime,
) -> Result<(RegistrationToken, Secret), AdminError> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 200 {
        return Err(invalid(
            "a registration token needs a label of 1 to 200 characters (what it is for)",
        ));
    }
    if ttl.is_some_and(|t| t <= 0) {
        return Err(invalid("the lifetime must be a positive number of seconds"));
    }
    let token = Secret::new(random_token(32));
    let record = RegistrationToken {
        id: random_token(9),
        token_hash: sha256_b64url(token.expose().as_bytes()),
        label: label.to_owned(),
        created_at: now,
        expires_at: ttl.map(|t| now + t),
    };
    store.insert_registration_token(&record).await?;
    Ok((record, token))
}

/// Revokes an initial access token by id. Clients registered with it stay registered.
pub async fn revoke_registration_token(store: &dyn Store, id: &str) -> Result<(), AdminError> {
    if !store.delete_registration_token(id).await? {
        return Err(AdminError::NotFound(format!("registration token `{id}`")));
    }
    Ok(())
}
