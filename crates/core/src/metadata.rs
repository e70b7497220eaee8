//! Metadata documents: authorization server (RFC 8414 / OpenID Discovery), protected resource
//! (RFC 9728) and client (RFC 7591 §2, also the Client ID Metadata Document).
//!
//! Every optional field is skipped when absent so that what a server advertises is exactly what it
//! implements. Unknown fields from peers are kept in `extra`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_with::skip_serializing_none;

/// RFC 8414 §2 authorization server metadata (also served as OpenID Discovery).
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationServerMetadata {
    /// REQUIRED. Must equal the issuer the document was looked up for.
    pub issuer: String,
    /// The authorization endpoint.
    pub authorization_endpoint: Option<String>,
    /// The token endpoint.
    pub token_endpoint: Option<String>,
    /// The JWK Set for verifying this server's signatures.
    pub jwks_uri: Option<String>,
    /// RFC 7591 registration endpoint.
    pub registration_endpoint: Option<String>,
    /// Scopes this server knows.
    pub scopes_supported: Option<Vec<String>>,
    /// REQUIRED by RFC 8414; `["code"]` here.
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    /// `["query"]`.
    pub response_modes_supported: Option<Vec<String>>,
    /// Grant types. RFC 8414 default when absent: `authorization_code`, `implicit`.
    pub grant_types_supported: Option<Vec<String>>,
    /// Token endpoint client authentication methods. Default when absent: `client_secret_basic`.
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// Algorithms for `private_key_jwt` assertions.
    pub token_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    /// RFC 7009.
    pub revocation_endpoint: Option<String>,
    /// RFC 7009 client authentication methods.
    pub revocation_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// RFC 7662.
    pub introspection_endpoint: Option<String>,
    /// RFC 7662 client authentication methods.
    pub introspection_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// RFC 7636. MCP clients refuse a server that omits this or lacks `S256`.
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// RFC 9207.
    pub authorization_response_iss_parameter_supported: Option<bool>,
    /// RFC 9126 §5: where to push authorization requests.
    pub pushed_authorization_request_endpoint: Option<String>,
    /// RFC 8628 §4: the device authorization endpoint.
    pub device_authorization_endpoint: Option<String>,
    /// RFC 9126 §5: whether every authorization request must be pushed.
    pub require_pushed_authorization_requests: Option<bool>,
    /// RFC 9449 §5.1: the algorithms DPoP proofs may be signed with.
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// Client ID Metadata Documents.
    pub client_id_metadata_document_supported: Option<bool>,
    /// A page for developers.
    pub service_documentation: Option<String>,
    /// OpenID Discovery: subject identifier types (`public`).
    pub subject_types_supported: Option<Vec<String>>,
    /// OpenID Discovery: ID token signing algorithms.
    pub id_token_signing_alg_values_supported: Option<Vec<String>>,
    /// Anything else the peer sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AuthorizationServerMetadata {
    /// Whether PKCE with S256 is advertised (MCP: the client must refuse otherwise).
    pub fn supports_s256(&self) -> bool {
        self.code_challenge_methods_supported
            .as_ref()
            .is_some_and(|m| m.iter().any(|x| x == "S256"))
    }

    /// The token endpoint auth methods, with the RFC 8414 default applied.
    pub fn token_auth_methods(&self) -> Vec<String> {
        self.token_endpoint_auth_methods_supported
            .clone()
            .unwrap_or_else(|| vec!["client_secret_basic".to_owned()])
    }
}

/// RFC 9728 §2 protected resource metadata.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProtectedResourceMetadata {
    /// REQUIRED. The resource identifier (the canonical MCP server URI).
    pub resource: String,
    /// MCP: REQUIRED, at least one issuer.
    #[serde(default)]
    pub authorization_servers: Vec<String>,
    /// RECOMMENDED. The minimal scopes for basic use.
    pub scopes_supported: Option<Vec<String>>,
    /// `["header"]`: tokens only in the `Authorization` header.
    pub bearer_methods_supported: Option<Vec<String>>,
    /// RFC 9728 §2 (RFC 9449): the DPoP proof algorithms the resource accepts.
    pub dpop_signing_alg_values_supported: Option<Vec<String>>,
    /// The resource's own keys, if it signs anything.
    pub jwks_uri: Option<String>,
    /// A human-readable name.
    pub resource_name: Option<String>,
    /// A page for developers.
    pub resource_documentation: Option<String>,
    /// Policy page.
    pub resource_policy_uri: Option<String>,
    /// Terms of service.
    pub resource_tos_uri: Option<String>,
    /// Anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// RFC 7591 §2 client metadata; also the shape of a Client ID Metadata Document.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// In a Client ID Metadata Document: the document's own URL.
    pub client_id: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// `none`, `client_secret_basic`, `client_secret_post`, `private_key_jwt`.
    pub token_endpoint_auth_method: Option<String>,
    /// Grant types.
    pub grant_types: Option<Vec<String>>,
    /// Response types.
    pub response_types: Option<Vec<String>>,
    /// Display name.
    pub client_name: Option<String>,
    /// Home page.
    pub client_uri: Option<String>,
    /// Logo.
    pub logo_uri: Option<String>,
    /// Space-delimited scopes the client may request.
    pub scope: Option<String>,
    /// Contacts.
    pub contacts: Option<Vec<String>>,
    /// Terms of service.
    pub tos_uri: Option<String>,
    /// Policy.
    pub policy_uri: Option<String>,
    /// URL of the client's JWK Set (for `private_key_jwt`).
    pub jwks_uri: Option<String>,
    /// The client's JWK Set by value.
    pub jwks: Option<Value>,
    /// Software identifier.
    pub software_id: Option<String>,
    /// Software version.
    pub software_version: Option<String>,
    /// `native` or `web` (OpenID Dynamic Registration; SEP-837).
    pub application_type: Option<String>,
    /// RFC 9449 §5.2: the client always uses DPoP; the server refuses its token requests without
    /// a proof.
    pub dpop_bound_access_tokens: Option<bool>,
    /// RFC 9126 §6: the client's authorization requests must be pushed.
    pub require_pushed_authorization_requests: Option<bool>,
    /// Anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_fields_are_not_serialised() {
        let m = AuthorizationServerMetadata {
            issuer: "https://as".into(),
            response_types_supported: vec!["code".into()],
            ..Default::default()
        };
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"issuer": "https://as", "response_types_supported": ["code"]})
        );
    }

    #[test]
    fn unknown_fields_survive() {
        let prm: ProtectedResourceMetadata = serde_json::from_str(
            r#"{"resource":"https://h/mcp","authorization_servers":["https://as"],"x_custom":1}"#,
        )
        .unwrap();
        assert_eq!(prm.extra.get("x_custom"), Some(&serde_json::json!(1)));
    }

    #[test]
    fn s256_detection() {
        let mut m = AuthorizationServerMetadata::default();
        assert!(!m.supports_s256());
        m.code_challenge_methods_supported = Some(vec!["plain".into()]);
        assert!(!m.supports_s256());
        m.code_challenge_methods_supported = Some(vec!["plain".into(), "S256".into()]);
        assert!(m.supports_s256());
        assert_eq!(m.token_auth_methods(), vec!["client_secret_basic"]);
    }
}
