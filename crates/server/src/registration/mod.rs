//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592), without HTTP:
//! `handlers::register` reads requests and writes responses, this module decides.
//!
//! Every credential is a 256-bit random value, returned once and stored only as its SHA-256:
//! the client secret (confidential clients), and the registration access token that authorizes
//! reading, updating and deleting the registration. Client ids are random base64url strings, so
//! they never look like a Client ID Metadata Document URL. Registered clients have
//! [`ClientOrigin::Dcr`]; one that never obtains a token expires after
//! `unused_registration_ttl` and is then purged (see [`crate::clients`]).

use crate::client_metadata::{self as metadata, Registration, Rules};
use crate::clients;
use crate::error::OAuthError;
use crate::model::{Client, ClientOrigin};
use crate::state::AppState;
use crate::store::StoreError;
use mcp_oauth_core::secret::{Secret, constant_time_eq, random_token, sha256_b64url};
use mcp_oauth_core::token::grant_type;
use serde_json::Value;

/// A registration or update that went through, with the credentials issued by it (if any).
#[derive(Debug)]
pub struct Outcome {
    /// The stored client.
    pub client: Client,
    /// A newly issued client secret.
    pub client_secret: Option<Secret>,
    /// A newly issued registration access token.
    pub registration_access_token: Option<Secret>,
}

fn rules_check(state: &AppState) -> impl Fn(&str) -> Result<(), String> + Sync + '_ {
    move |u: &str| {
        state
            .fetcher()
            .check_url(u)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Registers a client (RFC 7591 §3.1). `authorized`: the registrant presented an initial access
/// token, which is what unlocks `client_credentials`.
pub async fn register(
    state: &AppState,
    body: &Value,
    authorized: bool,
) -> Result<Outcome, OAuthError> {
    let check = rules_check(state);
    let reg = metadata::validate(
        body,
        &Rules {
            allow_client_credentials: authorized,
            document: false,
            check_jwks_uri: &check,
            redirect_schemes: &state.config().redirect_uri_schemes,
        },
    )?;
    let now = state.now();
    let secret = reg.uses_secret().then(|| Secret::new(random_token(32)));
    let rat = Secret::new(random_token(32));
    let client = Client {
        client_id: random_token(16),
        client_name: reg.client_name.clone(),
        token_endpoint_auth_method: reg.auth_method.clone(),
        secret_hash: secret
            .as_ref()
            .map(|s| sha256_b64url(s.expose().as_bytes())),
        secret_expires_at: secret.as_ref().map(|_| 0),
        redirect_uris: reg.redirect_uris.clone(),
        grant_types: reg.grant_types.clone(),
        allowed_scopes: reg.scope.clone(),
        jwks: reg.jwks.clone(),
        jwks_uri: reg.jwks_uri.clone(),
        origin: ClientOrigin::Dcr,
        registration_token_hash: Some(sha256_b64url(rat.expose().as_bytes())),
        metadata: stored_metadata(&reg)?,
        created_at: now,
        last_used_at: None,
        introspect_resources: Vec::new(),
        disabled_at: None,
        previous_secret_hash: None,
        previous_secret_until: None,
    };
    state.store().insert_client(&client).await?;
    tracing::info!(target: "mcp_oauth::register", client_id = %client.client_id, auth_method = %client.token_endpoint_auth_method, "client registered");
    Ok(Outcome {
        client,
        client_secret: secret,
        registration_access_token: Some(rat),
    })
}

fn stored_metadata(reg: &Registration) -> Result<Value, OAuthError> {
    serde_json::to_value(&reg.metadata).map_err(|e| OAuthError::internal("client metadata", e))
}

/// The client information response (RFC 7591 §3.2.1, RFC 7592 §3): the registered metadata,
/// the client id, and the credentials issued by this very request (a stored secret exists only
/// as a hash and cannot be shown again).
pub fn response(state: &AppState, outcome: &Outcome) -> Value {
    let c = &outcome.client;
    let mut body = match &c.metadata {
        Value::Object(m) => m.clone(),
        _ => serde_json::Map::new(),
    };
    body.insert("client_id".into(), c.client_id.clone().into());
    body.insert("client_id_issued_at".into(), c.created_at.into());
    if let Some(s) = &outcome.client_secret {
        body.insert("client_secret".into(), s.expose().into());
    }
    if c.secret_hash.is_some() {
        body.insert(
            "client_secret_expires_at".into(),
            c.secret_expires_at.unwrap_or(0).into(),
        );
    }
    if let Some(t) = &outcome.registration_access_token {
        body.insert("registration_access_token".into(), t.expose().into());
    }
    body.insert(
        "registration_client_uri".into(),
        registration_client_uri(state, &c.client_id).into(),
    );
    Value::Object(body)
}

/// `{issuer}/register/{client_id}`.
pub fn registration_client_uri(state: &AppState, client_id: &str) -> String {
    state.config().endpoint(&format!("/register/{client_id}"))
}

/// The client a management request (RFC 7592) is about, if `token` is its registration access
/// token. Unknown clients, clients not registered dynamically, expired registrations and wrong
/// tokens all look the same to the caller: `401 invalid_token` (RFC 7592 §2).
pub async fn authorize_management(
    state: &AppState,
    client_id: &str,
    token: Option<&str>,
) -> Result<Client, OAuthError> {
    let refused = || OAuthError::invalid_token("the registration access token is invalid");
    let token = token.ok_or_else(refused)?;
    let client = state
        .store()
        .get_client(client_id)
        .await?
        .filter(|c| !clients::is_expired_registration(state, c))
        .ok_or_else(refused)?;
    let stored = client
        .registration_token_hash
        .as_deref()
        .filter(|_| client.origin == ClientOrigin::Dcr)
        .ok_or_else(refused)?;
    let presented = sha256_b64url(token.as_bytes());
    if !constant_time_eq(presented.as_bytes(), stored.as_bytes()) {
        return Err(refused());
    }
    Ok(client)
}

/// Replaces a client's metadata (RFC 7592 §2.2). The body must name the client; a
/// `client_secret` in it must be the current one. A client moving to a secret method gets a new
/// secret; one moving away loses it; one keeping a secret keeps it. The registration access token
/// stays the same.
pub async fn update(
    state: &AppState,
    mut client: Client,
    body: &Value,
) -> Result<Outcome, OAuthError> {
    let bad = |d: &str| OAuthError::new(mcp_oauth_core::ErrorCode::InvalidClientMetadata, d);
    match body.get("client_id").and_then(Value::as_str) {
        Some(id) if id == client.client_id => {}
        _ => return Err(bad("client_id in the body must be the client's id")),
    }
    if let Some(v) = body.get("client_secret").filter(|v| !v.is_null()) {
        let matches = match (v.as_str(), client.secret_hash.as_deref()) {
            (Some(s), Some(stored)) => {
                constant_time_eq(sha256_b64url(s.as_bytes()).as_bytes(), stored.as_bytes())
            }
            _ => false,
        };
        if !matches {
            return Err(bad(
                "client_secret must be the current secret; a client cannot choose its own",
            ));
        }
    }
    let check = rules_check(state);
    let reg = metadata::validate(
        body,
        &Rules {
            allow_client_credentials: client.allows_grant(grant_type::CLIENT_CREDENTIALS)
                || state.config().registration == crate::config::RegistrationPolicy::Token,
            document: false,
            check_jwks_uri: &check,
            redirect_schemes: &state.config().redirect_uri_schemes,
        },
    )?;
    let mut new_secret = None;
    if reg.uses_secret() {
        if client.secret_hash.is_none() {
            let s = Secret::new(random_token(32));
            client.secret_hash = Some(sha256_b64url(s.expose().as_bytes()));
            client.secret_expires_at = Some(0);
            new_secret = Some(s);
        }
    } else {
        client.secret_hash = None;
        client.secret_expires_at = None;
        client.previous_secret_hash = None;
        client.previous_secret_until = None;
    }
    client.client_name = reg.client_name.clone();
    client.token_endpoint_auth_method = reg.auth_method.clone();
    client.redirect_uris = reg.redirect_uris.clone();
    client.grant_types = reg.grant_types.clone();
    client.allowed_scopes = reg.scope.clone();
    client.jwks = reg.jwks.clone();
    client.jwks_uri = reg.jwks_uri.clone();
    client.metadata = stored_metadata(&reg)?;
    let updated = state.store().update_client(&client).await;
    crate::clients::changed(state, &client.client_id);
    if !updated? {
        return Err(OAuthError::invalid_token(
            "the registration no longer exists",
        ));
    }
    tracing::info!(target: "mcp_oauth::register", client_id = %client.client_id, "client registration updated");
    Ok(Outcome {
        client,
        client_secret: new_secret,
        registration_access_token: None,
    })
}

/// Deletes a registration and everything issued to it (RFC 7592 §2.3).
pub async fn delete(state: &AppState, client_id: &str) -> Result<(), StoreError> {
    let deleted = state.store().delete_client(client_id).await;
    crate::clients::changed(state, client_id);
    deleted?;
    state.revoke_upstream_queued().await;
    tracing::info!(target: "mcp_oauth::register", %client_id, "client registration deleted");
    crate::audit::record(
        state.store().as_ref(),
        crate::audit::AuditEvent::new(crate::audit::AuditKind::ClientRemoved, state.now())
            .client(client_id)
            .detail(serde_json::json!({"by": "registration_management"})),
    )
    .await;
    Ok(())
}

/// Whether `token` is a valid initial access token (the `token` policy).
pub async fn initial_token_valid(state: &AppState, token: &str) -> Result<bool, StoreError> {
    let hash = sha256_b64url(token.as_bytes());
    Ok(state
        .store()
        .find_registration_token(&hash, state.now())
        .await?
        .is_some())
}
