//! Where tokens and client registrations live between runs.
//!
//! A token is keyed by issuer + resource + client id + grant ([`TokenKey`]): a token is only ever
//! sent to the resource it was issued for, only refreshed at the AS that issued it, and only
//! handed to a caller acting as the identity it belongs to (a person's `authorization_code`
//! token never answers a machine's `client_credentials` request, nor the reverse). Entries of
//! files written before the grant was recorded have none; they are only used for the
//! authorization code flow, never for another grant, and are replaced by the next token. Registrations are
//! keyed by issuer and never reused with another AS. Secret values are [`Secret`]s: redacted in
//! `Debug`, wiped on drop.
//!
//! The trait has a [`CredentialStore::lock`] so that a refresh can be single-flight across
//! processes that share one store (the file and keychain stores take lock files; the memory store
//! needs none).

mod file;
#[cfg(feature = "keychain")]
mod keychain;
mod lock;
mod memory;

pub use file::FileStore;
#[cfg(feature = "keychain")]
pub use keychain::{DEFAULT_SERVICE as KEYCHAIN_SERVICE, KeychainStore};
pub use lock::FileLock;
pub use memory::MemoryStore;

use crate::error::Result;
use mcp_oauth_core::secret::Secret;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifies one stored token: who issued it, for which resource, to which client.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenKey {
    /// The AS issuer, exactly as discovered.
    pub issuer: String,
    /// The resource indicator sent (the PRM `resource`), byte for byte.
    pub resource: String,
    /// The client id at that issuer.
    pub client_id: String,
    /// Which grant obtained it ([`crate::GrantMode::key_name`]): the identity the token acts as
    /// is the client's own (`client_credentials`, `jwt_bearer`) or a user's
    /// (`authorization_code`, `id_jag`). `None` for entries stored before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<String>,
}

impl TokenKey {
    /// A stable, file-name-safe digest of the key (for lock files and keychain entries). Keys
    /// without a grant keep the digest they had before the grant was part of the key.
    pub fn digest(&self) -> String {
        let mut joined = format!("{}\n{}\n{}", self.issuer, self.resource, self.client_id);
        if let Some(g) = &self.grant {
            joined.push('\n');
            joined.push_str(g);
        }
        mcp_oauth_core::secret::sha256_b64url(joined.as_bytes())
            .chars()
            .take(22)
            .collect()
    }
}

impl fmt::Display for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "issuer={} resource={} client_id={} grant={}",
            self.issuer,
            self.resource,
            self.client_id,
            self.grant.as_deref().unwrap_or("-")
        )
    }
}

/// A token as stored. `Debug` never shows the token values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredToken {
    /// The MCP server URL this token was obtained for (the lookup key before discovery).
    pub server_url: String,
    /// Where to refresh it.
    pub token_endpoint: String,
    /// The access token.
    #[serde(with = "secret_serde")]
    pub access_token: Secret,
    /// The refresh token, if one was issued (the latest rotation).
    #[serde(
        default,
        with = "opt_secret_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub refresh_token: Option<Secret>,
    /// Expiry as Unix seconds; `None` when the AS did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The granted scope (or the requested one when the AS did not echo it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// When it was obtained (Unix seconds), to prefer the newest.
    pub obtained_at: i64,
    /// The client authentication method used to obtain it (reused to refresh it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<String>,
    /// The key the token is bound to (DPoP, RFC 9449), PKCS#8 base64url: sent as
    /// `Authorization: DPoP` with a proof of this key. `None`: a bearer token.
    #[serde(
        default,
        with = "opt_secret_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub dpop_key: Option<Secret>,
}

/// A dynamic registration (RFC 7591) as stored. Pre-registered clients and Client ID Metadata
/// Document clients come from configuration and are not stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRegistration {
    /// The issuer it was made at; never used with another.
    pub issuer: String,
    /// The client id.
    pub client_id: String,
    /// The client secret, for a confidential registration.
    #[serde(
        default,
        with = "opt_secret_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_secret: Option<Secret>,
    /// `none`, `client_secret_basic` or `client_secret_post`.
    pub token_endpoint_auth_method: String,
    /// RFC 7591 `client_secret_expires_at` (0 or absent: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_expires_at: Option<i64>,
    /// The redirect URIs registered.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
}

/// Held while a token is being refreshed; dropping it releases the (cross-process) lock.
pub struct StoreLock(#[allow(dead_code)] Option<Box<dyn Send + Sync>>);

impl StoreLock {
    /// A lock that holds nothing (stores used by one process only).
    pub fn none() -> Self {
        Self(None)
    }
    /// Wraps a guard that releases the lock when dropped.
    pub fn new(guard: impl Send + Sync + 'static) -> Self {
        Self(Some(Box::new(guard)))
    }
}

impl fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "StoreLock(held)"
        } else {
            "StoreLock(none)"
        })
    }
}

/// Persistent storage of tokens and registrations.
#[async_trait::async_trait]
pub trait CredentialStore: Send + Sync + fmt::Debug {
    /// The token for `key`, if any.
    async fn get_token(&self, key: &TokenKey) -> Result<Option<StoredToken>>;
    /// Stores (replaces) the token for `key`.
    async fn put_token(&self, key: &TokenKey, token: &StoredToken) -> Result<()>;
    /// Forgets the token for `key`.
    async fn remove_token(&self, key: &TokenKey) -> Result<()>;
    /// Every token obtained for the MCP server `server_url`.
    async fn tokens_for_server(&self, server_url: &str) -> Result<Vec<(TokenKey, StoredToken)>>;
    /// The dynamic registration at `issuer`, if any.
    async fn get_registration(&self, issuer: &str) -> Result<Option<StoredRegistration>>;
    /// Stores (replaces) the registration at its issuer.
    async fn put_registration(&self, registration: &StoredRegistration) -> Result<()>;
    /// Forgets the registration at `issuer`, but only if it still has `client_id` (so that a
    /// newer registration made meanwhile by another process survives).
    async fn remove_registration(&self, issuer: &str, client_id: &str) -> Result<()>;
    /// Every stored token (for `status`). The default lists none.
    async fn all_tokens(&self) -> Result<Vec<(TokenKey, StoredToken)>> {
        Ok(Vec::new())
    }
    /// Every stored dynamic registration. The default lists none.
    async fn all_registrations(&self) -> Result<Vec<StoredRegistration>> {
        Ok(Vec::new())
    }
    /// Takes the refresh lock for `key`, waiting for other holders. The default does nothing,
    /// which is right for a store only one process uses.
    async fn lock(&self, key: &TokenKey) -> Result<StoreLock> {
        let _ = key;
        Ok(StoreLock::none())
    }
}

/// The contents of a store, as the file store serialises them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct StoreData {
    #[serde(default)]
    pub version: u32,
    #[serde(default)]
    pub tokens: Vec<TokenEntry>,
    #[serde(default)]
    pub registrations: Vec<StoredRegistration>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TokenEntry {
    #[serde(flatten)]
    pub key: TokenKey,
    #[serde(flatten)]
    pub token: StoredToken,
}

impl StoreData {
    pub fn get_token(&self, key: &TokenKey) -> Option<StoredToken> {
        self.tokens
            .iter()
            .find(|e| &e.key == key)
            .map(|e| e.token.clone())
    }
    pub fn put_token(&mut self, key: &TokenKey, token: &StoredToken) {
        self.tokens.retain(|e| &e.key != key);
        self.tokens.push(TokenEntry {
            key: key.clone(),
            token: token.clone(),
        });
    }
    pub fn remove_token(&mut self, key: &TokenKey) {
        self.tokens.retain(|e| &e.key != key);
    }
    pub fn tokens_for_server(&self, server_url: &str) -> Vec<(TokenKey, StoredToken)> {
        self.tokens
            .iter()
            .filter(|e| e.token.server_url == server_url)
            .map(|e| (e.key.clone(), e.token.clone()))
            .collect()
    }
    pub fn all_tokens(&self) -> Vec<(TokenKey, StoredToken)> {
        self.tokens
            .iter()
            .map(|e| (e.key.clone(), e.token.clone()))
            .collect()
    }
    pub fn get_registration(&self, issuer: &str) -> Option<StoredRegistration> {
        self.registrations
            .iter()
            .find(|r| r.issuer == issuer)
            .cloned()
    }
    pub fn put_registration(&mut self, reg: &StoredRegistration) {
        self.registrations.retain(|r| r.issuer != reg.issuer);
        self.registrations.push(reg.clone());
    }
    pub fn remove_registration(&mut self, issuer: &str, client_id: &str) {
        self.registrations
            .retain(|r| !(r.issuer == issuer && r.client_id == client_id));
    }
}

mod secret_serde {
    use mcp_oauth_core::secret::Secret;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Secret, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.expose())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
        Ok(Secret::new(String::deserialize(d)?))
    }
}

mod opt_secret_serde {
    use mcp_oauth_core::secret::Secret;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(v.expose()),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(Secret::new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let t = StoredToken {
            server_url: "https://h/mcp".into(),
            token_endpoint: "https://as/token".into(),
            access_token: Secret::new("at-very-secret"),
            refresh_token: Some(Secret::new("rt-very-secret")),
            expires_at: Some(1),
            scope: None,
            obtained_at: 0,
            auth_method: None,
            dpop_key: Some(Secret::new("dpop-very-secret")),
        };
        let d = format!("{t:?}");
        assert!(!d.contains("very-secret"), "{d}");
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.contains("at-very-secret"));
        let back: StoredToken = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
    }
}
