//! Getting a client id at an authorization server, in the MCP priority order (2025-11-25
//! §Client Registration Approaches): pre-registered credentials → Client ID Metadata Document →
//! dynamic registration (RFC 7591) → a clear error.
//!
//! Registrations belong to one issuer: a pre-registered client configured for issuer A is never
//! offered to issuer B, and a dynamic registration is stored under the issuer it was made at.

use crate::error::{Error, Result};
use crate::fetch::Fetcher;
use crate::store::{CredentialStore, StoredRegistration};
use mcp_oauth_core::jose::SigningKey;
use mcp_oauth_core::metadata::{AuthorizationServerMetadata, ClientMetadata};
use mcp_oauth_core::secret::Secret;
use mcp_oauth_core::token::{auth_method, grant_type};
use mcp_oauth_core::uri::UriParts;
use serde::Deserialize;
use std::sync::Arc;

/// How a client authenticates at a token endpoint.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientAuth {
    /// A public client: only `client_id` in the body (`none`).
    None,
    /// A client secret; Basic or post is chosen from the AS's
    /// `token_endpoint_auth_methods_supported` (Basic when advertised, else post).
    Secret(Secret),
    /// A client secret sent with HTTP Basic (`client_secret_basic`).
    SecretBasic(Secret),
    /// A client secret in the form body (`client_secret_post`).
    SecretPost(Secret),
    /// An RFC 7523 §2.2 assertion signed with this key (`private_key_jwt`).
    PrivateKeyJwt(Arc<SigningKey>),
}

impl ClientAuth {
    /// The RFC 7591 method name used with `metadata` (which decides for [`ClientAuth::Secret`]).
    pub fn method(&self, metadata: Option<&AuthorizationServerMetadata>) -> &'static str {
        match self {
            Self::None => auth_method::NONE,
            Self::SecretBasic(_) => auth_method::CLIENT_SECRET_BASIC,
            Self::SecretPost(_) => auth_method::CLIENT_SECRET_POST,
            Self::PrivateKeyJwt(_) => auth_method::PRIVATE_KEY_JWT,
            Self::Secret(_) => {
                let methods = metadata.map(AuthorizationServerMetadata::token_auth_methods);
                match methods {
                    Some(m)
                        if !m.iter().any(|x| x == auth_method::CLIENT_SECRET_BASIC)
                            && m.iter().any(|x| x == auth_method::CLIENT_SECRET_POST) =>
                    {
                        auth_method::CLIENT_SECRET_POST
                    }
                    _ => auth_method::CLIENT_SECRET_BASIC,
                }
            }
        }
    }
}

/// Where a registration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationSource {
    /// Configured by the user.
    PreRegistered,
    /// A Client ID Metadata Document URL used as the client id.
    MetadataDocument,
    /// RFC 7591 dynamic registration.
    Dynamic,
}

/// A client id at an authorization server and how to authenticate as it.
#[derive(Debug, Clone)]
pub struct ClientRegistration {
    /// The issuer this registration belongs to. `None` only for a pre-registered client
    /// configured without an issuer, which is then offered to whatever AS the server names.
    pub issuer: Option<String>,
    /// The client id.
    pub client_id: String,
    /// Client authentication at the token endpoint.
    pub auth: ClientAuth,
    /// Where it came from.
    pub source: RegistrationSource,
    /// RFC 7591 `client_secret_expires_at` (0 or absent: never).
    pub client_secret_expires_at: Option<i64>,
}

impl ClientRegistration {
    /// Pre-registered credentials, for any issuer until [`Self::for_issuer`] pins one.
    pub fn pre_registered(client_id: impl Into<String>, auth: ClientAuth) -> Self {
        Self {
            issuer: None,
            client_id: client_id.into(),
            auth,
            source: RegistrationSource::PreRegistered,
            client_secret_expires_at: None,
        }
    }

    /// Restricts these credentials to one issuer (exact string).
    pub fn for_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Whether this registration may be used at `issuer`.
    pub fn applies_to(&self, issuer: &str) -> bool {
        self.issuer.as_deref().is_none_or(|i| i == issuer)
    }

    /// Whether a dynamic registration's secret has expired.
    pub fn expired(&self, now: i64) -> bool {
        self.client_secret_expires_at
            .is_some_and(|t| t != 0 && t <= now)
    }

    /// A registration from the store.
    pub(crate) fn from_stored(s: StoredRegistration) -> Self {
        let auth = match (s.client_secret, s.token_endpoint_auth_method.as_str()) {
            (Some(secret), auth_method::CLIENT_SECRET_POST) => ClientAuth::SecretPost(secret),
            (Some(secret), _) => ClientAuth::SecretBasic(secret),
            (None, _) => ClientAuth::None,
        };
        Self {
            issuer: Some(s.issuer),
            client_id: s.client_id,
            auth,
            source: RegistrationSource::Dynamic,
            client_secret_expires_at: s.client_secret_expires_at,
        }
    }
}

/// The OpenID `application_type` for a client with `redirect_uri`: `native` for a loopback
/// (or custom-scheme) redirect, `web` for an https one.
pub fn application_type(redirect_uri: &str) -> &'static str {
    match UriParts::split(redirect_uri) {
        Some(p) if p.scheme.eq_ignore_ascii_case("https") => "web",
        _ => "native",
    }
}

/// Validates a Client ID Metadata Document URL: https with a path, no fragment, no user
/// information, no dot segments (CIMD §3).
pub fn validate_metadata_document_url(url: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::Config(format!(
            "client metadata document URL {url}: {why}"
        )))
    };
    let Some(p) = UriParts::split(url) else {
        return bad("not an absolute URL");
    };
    if !p.scheme.eq_ignore_ascii_case("https") {
        return bad("must use https");
    }
    if p.path.is_empty() || p.path == "/" {
        return bad("must have a path");
    }
    if p.fragment.is_some() || p.has_userinfo() {
        return bad("must not have a fragment or user information");
    }
    if p.path.split('/').any(|s| s == "." || s == "..") {
        return bad("must not contain . or .. segments");
    }
    Ok(())
}

/// What the registrar may use.
#[derive(Debug, Clone, Default)]
pub struct RegistrationConfig {
    /// Pre-registered clients, tried first (the first one that applies to the issuer wins).
    pub pre_registered: Vec<ClientRegistration>,
    /// The URL of this client's Client ID Metadata Document, if it has one.
    pub client_metadata_document_url: Option<String>,
    /// Whether dynamic registration may be used.
    pub allow_dynamic: bool,
    /// `client_name` for dynamic registration.
    pub client_name: String,
}

#[derive(Deserialize)]
struct RegistrationResponse {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    client_secret_expires_at: Option<i64>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

/// The credential store key of the device grant's dynamic registration at `issuer` (apart
/// from the browser flow's, which is kept under the issuer itself).
pub fn device_key(issuer: &str) -> String {
    format!("{issuer} device_code")
}

/// Picks or obtains a client registration for one AS.
#[derive(Debug)]
pub struct Registrar<'a> {
    /// HTTP.
    pub fetcher: &'a Fetcher,
    /// Where dynamic registrations are kept.
    pub store: &'a dyn CredentialStore,
    /// What may be used.
    pub config: &'a RegistrationConfig,
    /// Now, in Unix seconds (for secret expiry).
    pub now: i64,
}

impl Registrar<'_> {
    /// The registration to use at `issuer` for an interactive (authorization code) flow with
    /// `redirect_uri`, in the MCP priority order.
    pub async fn resolve(
        &self,
        issuer: &str,
        metadata: &AuthorizationServerMetadata,
        redirect_uri: &str,
    ) -> Result<ClientRegistration> {
        if let Some(pre) = self.pre_registered(issuer) {
            return Ok(pre);
        }
        let cimd_supported = metadata.client_id_metadata_document_supported == Some(true);
        if let (true, Some(url)) = (
            cimd_supported,
            self.config.client_metadata_document_url.as_deref(),
        ) {
            validate_metadata_document_url(url)?;
            return Ok(ClientRegistration {
                issuer: Some(issuer.to_owned()),
                client_id: url.to_owned(),
                auth: ClientAuth::None,
                source: RegistrationSource::MetadataDocument,
                client_secret_expires_at: None,
            });
        }
        if let Some(stored) = self.store.get_registration(issuer).await? {
            let reg = ClientRegistration::from_stored(stored);
            if !reg.expired(self.now) {
                return Ok(reg);
            }
            tracing::info!(target: "mcp_oauth::client", issuer, "stored registration expired; registering again");
        }
        if self.config.allow_dynamic && metadata.registration_endpoint.is_some() {
            return self.register(issuer, metadata, redirect_uri).await;
        }
        let mut reasons = vec!["no pre-registered client for this issuer".to_owned()];
        // (A configured URL with a server that supports CIMD returned above.)
        reasons.push(match &self.config.client_metadata_document_url {
            None => "no client metadata document URL configured".to_owned(),
            Some(_) => {
                "the server does not advertise client_id_metadata_document_supported".to_owned()
            }
        });
        reasons.push(if self.config.allow_dynamic {
            "the server has no registration_endpoint".to_owned()
        } else {
            "dynamic registration is disabled".to_owned()
        });
        Err(Error::NoRegistration {
            issuer: issuer.to_owned(),
            reason: reasons.join(", "),
        })
    }

    /// The first pre-registered client that applies to `issuer`.
    pub fn pre_registered(&self, issuer: &str) -> Option<ClientRegistration> {
        self.config
            .pre_registered
            .iter()
            .find(|r| r.applies_to(issuer))
            .cloned()
    }

    /// RFC 7591 registration of a public native client, stored under `issuer`.
    pub async fn register(
        &self,
        issuer: &str,
        metadata: &AuthorizationServerMetadata,
        redirect_uri: &str,
    ) -> Result<ClientRegistration> {
        let endpoint =
            metadata
                .registration_endpoint
                .as_deref()
                .ok_or_else(|| Error::MissingEndpoint {
                    issuer: issuer.to_owned(),
                    endpoint: "registration_endpoint",
                })?;
        let body = ClientMetadata {
            redirect_uris: Some(vec![redirect_uri.to_owned()]),
            // RFC 7591's default is client_secret_basic: a public client must say `none`.
            token_endpoint_auth_method: Some(auth_method::NONE.to_owned()),
            grant_types: Some(vec![
                grant_type::AUTHORIZATION_CODE.to_owned(),
                grant_type::REFRESH_TOKEN.to_owned(),
            ]),
            response_types: Some(vec!["code".to_owned()]),
            client_name: Some(self.config.client_name.clone()),
            // SEP-837: say what kind of client this is; a loopback redirect means a native app.
            application_type: Some(application_type(redirect_uri).to_owned()),
            ..Default::default()
        };
        self.submit(
            issuer,
            issuer,
            endpoint,
            &body,
            vec![redirect_uri.to_owned()],
        )
        .await
    }

    /// The registration to use at `issuer` for the device authorization grant (RFC 8628), in the
    /// MCP spec's order: a pre-registered client; else, with `use_document` and a server that
    /// supports it, the Client ID Metadata Document URL (its document must list the device grant
    /// in `grant_types`); else the dynamic registration kept for it, else a new one registering
    /// `urn:ietf:params:oauth:grant-type:device_code` (and refresh tokens) with no redirect URI.
    /// Kept under [`device_key`], apart from the browser flow's registration, which is registered
    /// for other grants.
    pub async fn resolve_device(
        &self,
        issuer: &str,
        metadata: &AuthorizationServerMetadata,
        use_document: bool,
    ) -> Result<ClientRegistration> {
        if let Some(pre) = self.pre_registered(issuer) {
            return Ok(pre);
        }
        if let (true, Some(url)) = (
            use_document && metadata.client_id_metadata_document_supported == Some(true),
            self.config.client_metadata_document_url.as_deref(),
        ) {
            validate_metadata_document_url(url)?;
            return Ok(ClientRegistration {
                issuer: Some(issuer.to_owned()),
                client_id: url.to_owned(),
                auth: ClientAuth::None,
                source: RegistrationSource::MetadataDocument,
                client_secret_expires_at: None,
            });
        }
        let key = device_key(issuer);
        if let Some(stored) = self.store.get_registration(&key).await? {
            let mut reg = ClientRegistration::from_stored(stored);
            reg.issuer = Some(issuer.to_owned());
            if !reg.expired(self.now) {
                return Ok(reg);
            }
        }
        let endpoint = match (
            self.config.allow_dynamic,
            metadata.registration_endpoint.as_deref(),
        ) {
            (true, Some(e)) => e,
            (allowed, _) => {
                return Err(Error::NoRegistration {
                    issuer: issuer.to_owned(),
                    reason: if allowed {
                        "no pre-registered client for this issuer, and the server has no registration_endpoint".into()
                    } else {
                        "no pre-registered client for this issuer, and dynamic registration is disabled".into()
                    },
                });
            }
        };
        let body = ClientMetadata {
            token_endpoint_auth_method: Some(auth_method::NONE.to_owned()),
            grant_types: Some(vec![
                grant_type::DEVICE_CODE.to_owned(),
                grant_type::REFRESH_TOKEN.to_owned(),
            ]),
            response_types: Some(Vec::new()),
            client_name: Some(self.config.client_name.clone()),
            application_type: Some("native".to_owned()),
            ..Default::default()
        };
        self.submit(issuer, &key, endpoint, &body, Vec::new()).await
    }

    /// Whether a dynamic registration is possible at a server with `metadata`.
    pub fn can_register(&self, metadata: &AuthorizationServerMetadata) -> bool {
        self.config.allow_dynamic && metadata.registration_endpoint.is_some()
    }

    /// Sends an RFC 7591 registration and keeps the answer under `store_key`.
    async fn submit(
        &self,
        issuer: &str,
        store_key: &str,
        endpoint: &str,
        body: &ClientMetadata,
        redirect_uris: Vec<String>,
    ) -> Result<ClientRegistration> {
        let resp = self.fetcher.post_json(endpoint, body, &[]).await?;
        if resp.status != 201 && resp.status != 200 {
            let detail = match resp.json::<mcp_oauth_core::ErrorResponse>("an RFC 7591 error") {
                Ok(e) => e.to_string(),
                Err(_) => "no RFC 7591 error body".to_owned(),
            };
            return Err(Error::Registration {
                endpoint: endpoint.to_owned(),
                status: resp.status,
                detail,
            });
        }
        let parsed: RegistrationResponse =
            resp.json("an RFC 7591 registration response")
                .map_err(|e| Error::Registration {
                    endpoint: endpoint.to_owned(),
                    status: resp.status,
                    detail: e.to_string(),
                })?;
        if parsed.client_id.is_empty() {
            return Err(Error::Registration {
                endpoint: endpoint.to_owned(),
                status: resp.status,
                detail: "the response has an empty client_id".to_owned(),
            });
        }
        let method = match (&parsed.client_secret, parsed.token_endpoint_auth_method) {
            (None, _) => auth_method::NONE.to_owned(),
            (Some(_), Some(m)) if m != auth_method::NONE => m,
            (Some(_), _) => auth_method::CLIENT_SECRET_BASIC.to_owned(),
        };
        let stored = StoredRegistration {
            issuer: store_key.to_owned(),
            client_id: parsed.client_id,
            client_secret: parsed.client_secret.map(Secret::new),
            token_endpoint_auth_method: method,
            client_secret_expires_at: parsed.client_secret_expires_at,
            redirect_uris,
        };
        self.store.put_registration(&stored).await?;
        tracing::info!(target: "mcp_oauth::client", issuer, client_id = %stored.client_id, "registered dynamically");
        let mut registration = ClientRegistration::from_stored(stored);
        registration.issuer = Some(issuer.to_owned());
        Ok(registration)
    }

    /// Forgets a dynamic registration the AS no longer knows (`invalid_client`).
    pub async fn forget(&self, issuer: &str, registration: &ClientRegistration) -> Result<()> {
        if registration.source == RegistrationSource::Dynamic {
            self.store
                .remove_registration(issuer, &registration.client_id)
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn application_type_follows_the_redirect() {
        assert_eq!(application_type("http://127.0.0.1:5/callback"), "native");
        assert_eq!(application_type("https://app.example/cb"), "web");
    }

    use super::*;

    #[test]
    fn secret_method_follows_metadata() {
        let auth = ClientAuth::Secret(Secret::new("s"));
        let mut m = AuthorizationServerMetadata::default();
        assert_eq!(auth.method(Some(&m)), "client_secret_basic");
        m.token_endpoint_auth_methods_supported = Some(vec!["client_secret_post".into()]);
        assert_eq!(auth.method(Some(&m)), "client_secret_post");
        m.token_endpoint_auth_methods_supported = Some(vec![
            "client_secret_post".into(),
            "client_secret_basic".into(),
        ]);
        assert_eq!(auth.method(Some(&m)), "client_secret_basic");
        m.token_endpoint_auth_methods_supported = Some(vec!["private_key_jwt".into()]);
        assert_eq!(auth.method(Some(&m)), "client_secret_basic");
    }

    #[test]
    fn cimd_url_rules() {
        assert!(validate_metadata_document_url("https://app.example/client.json").is_ok());
        assert!(validate_metadata_document_url("http://app.example/client.json").is_err());
        assert!(validate_metadata_document_url("https://app.example").is_err());
        assert!(validate_metadata_document_url("https://app.example/a/../c.json").is_err());
        assert!(validate_metadata_document_url("https://app.example/c.json#x").is_err());
    }

    #[test]
    fn issuer_pinning() {
        let r = ClientRegistration::pre_registered("id", ClientAuth::None);
        assert!(r.applies_to("https://a"));
        let r = r.for_issuer("https://a");
        assert!(r.applies_to("https://a"));
        assert!(!r.applies_to("https://a/"));
        assert!(!r.applies_to("https://b"));
    }
}
