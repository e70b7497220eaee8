//! API keys (issue 16): a credential a user (or an administrator, for a service) creates for a
//! script or an MCP client that cannot run OAuth. A key is bound to one resource, a subset of
//! that resource's scopes and an expiry; it is shown once and stored only as a keyed hash.
//!
//! **Why HMAC-SHA-256 and not Argon2.** A key is 256 random bits, so there is nothing to guess
//! and no need for a slow hash: what a stolen database must not give is the keys themselves, and
//! an HMAC under a key derived from the KEK (which is not in the database) gives nothing, not
//! even a way to test a candidate offline. The hash is the lookup key, so checking a key costs
//! one indexed read and no comparison of secret bytes in our code (the database compares hashes
//! of the presented key, which an attacker cannot steer towards a stored one).
//!
//! A key reads `mcpk_` followed by 43 base64url characters; the prefix lets the introspection
//! endpoint and secret scanners tell a key from a JWT. A key is active while it is not revoked,
//! not expired, and its user (if any) still exists. Every accepted use updates its last use and
//! leaves an `api_key_used` audit event.

use crate::admin::AdminError;
use crate::audit::{self, AuditEvent, AuditKind};
use crate::model::{ApiKey, Resource, User};
use crate::store::{Store, StoreResult};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_oauth_core::ScopeSet;
use mcp_oauth_core::clock::UnixTime;
use mcp_oauth_core::secret::{Secret, random_token};

/// What every key starts with.
pub const PREFIX: &str = "mcpk_";
/// The purpose string of the KEK-derived HMAC key ([`crate::keys::kek::Kek::derive_hmac`]).
pub const HMAC_PURPOSE: &str = "mcp-oauth api-key v1";
/// The longest lifetime a key may be given: one year.
pub const MAX_TTL: i64 = 366 * 24 * 3600;

/// Whether `token` has the shape of an API key (and so is not worth verifying as a JWT).
pub fn looks_like_key(token: &str) -> bool {
    token.len() == PREFIX.len() + 43 && token.starts_with(PREFIX)
}

/// The stored form of a key: HMAC-SHA-256 under `hmac_key`, base64url.
pub fn hash(hmac_key: &hmac::Key, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac::sign(hmac_key, key.as_bytes()).as_ref())
}

/// What a new key is for.
#[derive(Debug, Clone)]
pub struct NewKey<'a> {
    /// What it is for (1 to 200 characters).
    pub label: &'a str,
    /// The user it acts for; `None`: a service key (administrators only).
    pub user: Option<&'a User>,
    /// The resource it is bound to.
    pub resource: &'a Resource,
    /// The scopes it carries: a non-empty subset of the resource's that the user may approve.
    pub scope: &'a ScopeSet,
    /// Seconds until it expires (1 to [`MAX_TTL`]).
    pub ttl: i64,
}

/// Creates a key. Returns the record and the key: shown once, kept only as its hash.
pub async fn create(
    store: &dyn Store,
    hmac_key: &hmac::Key,
    new: NewKey<'_>,
    now: UnixTime,
) -> Result<(ApiKey, Secret), AdminError> {
    let invalid = |m: String| AdminError::Invalid(m);
    let label = new.label.trim();
    if label.is_empty() || label.chars().count() > 200 || label.chars().any(char::is_control) {
        return Err(invalid(
            "an API key needs a label of 1 to 200 characters (what it is for)".into(),
        ));
    }
    if !(1..=MAX_TTL).contains(&new.ttl) {
        return Err(invalid(format!(
            "the lifetime must be between 1 and {MAX_TTL} seconds (one year)"
        )));
    }
    if new.scope.is_empty() {
        return Err(invalid("an API key needs at least one scope".into()));
    }
    let offered = new.resource.scope_set();
    let unknown = new.scope.difference(&offered);
    if !unknown.is_empty() {
        return Err(invalid(format!(
            "`{unknown}` is not a scope of {} (it offers `{offered}`)",
            new.resource.uri
        )));
    }
    if let Some(user) = new.user {
        let barred: Vec<&str> = new
            .resource
            .scopes
            .iter()
            .filter(|d| new.scope.contains(&d.name))
            .filter(|d| !d.roles.is_empty() && !d.roles.iter().any(|r| user.roles.contains(r)))
            .map(|d| d.name.as_str())
            .collect();
        if !barred.is_empty() {
            return Err(invalid(format!(
                "{} may not grant `{}` (restricted to other roles)",
                user.username,
                barred.join(" ")
            )));
        }
    }
    let key = Secret::new(format!("{PREFIX}{}", random_token(32)));
    let record = ApiKey {
        id: random_token(9),
        key_hash: hash(hmac_key, key.expose()),
        label: label.to_owned(),
        user_id: new.user.map(|u| u.id.clone()),
        resource: new.resource.uri.clone(),
        scope: new.scope.clone(),
        created_at: now,
        expires_at: now + new.ttl,
        last_used_at: None,
        revoked_at: None,
    };
    store.insert_api_key(&record).await?;
    let mut event = AuditEvent::new(AuditKind::ApiKeyCreated, now).detail(serde_json::json!({
        "key_id": record.id, "resource": record.resource, "scope": record.scope.to_string(),
        "expires_at": record.expires_at,
    }));
    if let Some(u) = &record.user_id {
        event = event.user(u.clone());
    }
    audit::record(store, event).await;
    Ok((record, key))
}

/// Revokes a key by id; `owner`: only if it belongs to that user (the console's "my keys").
pub async fn revoke(
    store: &dyn Store,
    id: &str,
    owner: Option<&str>,
    now: UnixTime,
) -> Result<(), AdminError> {
    let not_found = || AdminError::NotFound(format!("API key `{id}`"));
    let key = store.get_api_key(id).await?.ok_or_else(not_found)?;
    if owner.is_some_and(|o| key.user_id.as_deref() != Some(o)) {
        return Err(not_found());
    }
    if !store.revoke_api_key(id, now).await? {
        return Err(AdminError::Invalid(format!(
            "API key `{id}` is already revoked"
        )));
    }
    let mut event = AuditEvent::new(AuditKind::ApiKeyRevoked, now)
        .detail(serde_json::json!({"key_id": id, "resource": key.resource}));
    if let Some(u) = key.user_id {
        event = event.user(u);
    }
    audit::record(store, event).await;
    Ok(())
}

/// Checks a presented key for one of `resources`: the active record bound to one of them, after
/// recording its use (last use and an `api_key_used` event naming `via`, the client that asked,
/// if any), or `None`. A key for another resource is `None` and not a use: that resource server
/// learns nothing about it.
pub async fn check(
    store: &dyn Store,
    hmac_key: &hmac::Key,
    presented: &str,
    resources: &[String],
    via: Option<&str>,
    now: UnixTime,
) -> StoreResult<Option<ApiKey>> {
    if !looks_like_key(presented) {
        return Ok(None);
    }
    let Some(key) = store.find_api_key(&hash(hmac_key, presented)).await? else {
        return Ok(None);
    };
    let serves = |r: &String| mcp_oauth_core::resource::audience_matches(r, &key.resource);
    if !key.is_active(now) || !resources.iter().any(serves) {
        return Ok(None);
    }
    if let Some(u) = &key.user_id
        && store.get_user(u).await?.is_none()
    {
        return Ok(None);
    }
    store.touch_api_key(&key.id, now).await?;
    let mut event = AuditEvent::new(AuditKind::ApiKeyUsed, now)
        .detail(serde_json::json!({"key_id": key.id, "resource": key.resource}));
    if let Some(u) = &key.user_id {
        event = event.user(u.clone());
    }
    if let Some(c) = via {
        event = event.client(c);
    }
    audit::record(store, event).await;
    Ok(Some(key))
}

/// The subject a key's tokens name: its user, or `api-key:ID` for a service key.
pub fn subject(key: &ApiKey) -> String {
    key.user_id
        .clone()
        .unwrap_or_else(|| format!("api-key:{}", key.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shape_and_hash() {
        let k = format!("{PREFIX}{}", random_token(32));
        assert!(looks_like_key(&k));
        assert!(!looks_like_key("mcpk_short"));
        assert!(!looks_like_key("eyJhbGciOi.x.y"));
        let a = hmac::Key::new(hmac::HMAC_SHA256, b"one");
        let b = hmac::Key::new(hmac::HMAC_SHA256, b"two");
        assert_eq!(hash(&a, &k), hash(&a, &k));
        assert_ne!(hash(&a, &k), hash(&b, &k), "keyed");
        assert_ne!(
            hash(&a, &k),
            mcp_oauth_core::secret::sha256_b64url(k.as_bytes())
        );
    }
}
