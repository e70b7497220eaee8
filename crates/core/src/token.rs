//! Token wire types: the token endpoint response (RFC 6749 §5.1), JWT access token claims
//! (RFC 9068 §2.2) and the introspection response (RFC 7662 §2.2).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use serde_with::skip_serializing_none;

/// The `typ` header of a JWT access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_JWT_TYPE: &str = "at+jwt";

/// Grant type names.
pub mod grant_type {
    /// RFC 6749 §4.1.
    pub const AUTHORIZATION_CODE: &str = "authorization_code";
    /// RFC 6749 §6.
    pub const REFRESH_TOKEN: &str = "refresh_token";
    /// RFC 6749 §4.4.
    pub const CLIENT_CREDENTIALS: &str = "client_credentials";
    /// RFC 7523 §2.1.
    pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    /// RFC 8693.
    pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
    /// RFC 8628 §3.4.
    pub const DEVICE_CODE: &str = "urn:ietf:params:oauth:grant-type:device_code";
}

/// The grants a token request can name that this stack implements at `/token`, parsed once so that
/// no handler matches on strings (an unknown name is `unsupported_grant_type`, never a fallback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrantType {
    /// RFC 6749 §4.1.
    AuthorizationCode,
    /// RFC 6749 §6.
    RefreshToken,
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 8693 (a resource server's exchange of a user's token for their upstream token).
    TokenExchange,
    /// RFC 8628 §3.4 (the device authorization grant).
    DeviceCode,
}

impl GrantType {
    /// Every grant, in the order metadata lists them.
    pub const ALL: [GrantType; 5] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::TokenExchange,
        GrantType::DeviceCode,
    ];

    /// The registered name (RFC 6749, RFC 7591 §2 `grant_types`).
    pub const fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => grant_type::AUTHORIZATION_CODE,
            GrantType::RefreshToken => grant_type::REFRESH_TOKEN,
            GrantType::ClientCredentials => grant_type::CLIENT_CREDENTIALS,
            GrantType::TokenExchange => grant_type::TOKEN_EXCHANGE,
            GrantType::DeviceCode => grant_type::DEVICE_CODE,
        }
    }

    /// The grant a `grant_type` value names, or `None` for one this stack does not implement.
    /// Names are compared exactly (RFC 6749 §3.3: case-sensitive).
    pub fn parse(name: &str) -> Option<GrantType> {
        GrantType::ALL.into_iter().find(|g| g.as_str() == name)
    }
}

impl std::fmt::Display for GrantType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Client authentication method names (RFC 7591 §2, RFC 7523).
pub mod auth_method {
    /// A public client.
    pub const NONE: &str = "none";
    /// HTTP Basic with the client secret.
    pub const CLIENT_SECRET_BASIC: &str = "client_secret_basic";
    /// The client secret in the form body.
    pub const CLIENT_SECRET_POST: &str = "client_secret_post";
    /// RFC 7523 §2.2 client assertion signed with the client's private key.
    pub const PRIVATE_KEY_JWT: &str = "private_key_jwt";
    /// `client_assertion_type` for `private_key_jwt`.
    pub const JWT_BEARER_ASSERTION_TYPE: &str =
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
}

/// A successful token response (RFC 6749 §5.1). Its `Debug` redacts the tokens, so a `{:?}` in a
/// log line or an error never prints a live credential.
#[skip_serializing_none]
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: Option<u64>,
    /// The refresh token, if one was issued.
    pub refresh_token: Option<String>,
    /// The granted scope (RFC 6749 §3.3: sent when it differs from the request; we always send it).
    pub scope: Option<String>,
    /// Anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const REDACTED: &str = "<redacted>";
        // Extra members may carry tokens too (`id_token`, `issued_token_type`'s token): names only.
        let extra: Vec<&str> = self.extra.keys().map(String::as_str).collect();
        f.debug_struct("TokenResponse")
            .field("access_token", &REDACTED)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| REDACTED),
            )
            .field("scope", &self.scope)
            .field("extra", &extra)
            .finish()
    }
}

impl TokenResponse {
    /// The JSON body, byte for byte what `serde_json::to_vec` gives, written directly when there
    /// are no extra members (the token endpoint's hot path).
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        use crate::json::{push_int_field, push_str, push_str_field};
        if !self.extra.is_empty() {
            return serde_json::to_vec(self);
        }
        let mut out = Vec::with_capacity(
            self.access_token.len()
                + self.refresh_token.as_ref().map_or(0, String::len)
                + self.scope.as_ref().map_or(0, String::len)
                + 96,
        );
        out.extend_from_slice(b"{\"access_token\":");
        push_str(&mut out, &self.access_token);
        push_str_field(&mut out, false, "token_type", &self.token_type);
        if let Some(e) = self.expires_in {
            push_int_field(&mut out, false, "expires_in", e);
        }
        if let Some(r) = &self.refresh_token {
            push_str_field(&mut out, false, "refresh_token", r);
        }
        if let Some(s) = &self.scope {
            push_str_field(&mut out, false, "scope", s);
        }
        out.push(b'}');
        Ok(out)
    }
}

/// The claims of an RFC 9068 JWT access token.
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    /// The issuer.
    pub iss: String,
    /// The resource owner, or the client for `client_credentials`.
    pub sub: String,
    /// The resource the token is for (a single string here; peers may send an array).
    pub aud: Audience,
    /// Expiry.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Unique id, used for revocation.
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space-delimited.
    pub scope: Option<String>,
    /// Time of user authentication, when a user was involved.
    pub auth_time: Option<i64>,
    /// Anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A JWT `aud`: one string or an array (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Iterates over the audience values.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let slice: &[String] = match self {
            Self::One(s) => std::slice::from_ref(s),
            Self::Many(v) => v,
        };
        slice.iter().map(String::as_str)
    }
}

/// An RFC 7662 introspection response.
#[skip_serializing_none]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntrospectionResponse {
    /// Whether the token is currently active. Nothing else is sent when it is not.
    pub active: bool,
    /// Granted scopes.
    pub scope: Option<String>,
    /// The client the token was issued to.
    pub client_id: Option<String>,
    /// A human-readable identifier of the resource owner.
    pub username: Option<String>,
    /// `Bearer` for access tokens, `refresh_token` for refresh tokens.
    pub token_type: Option<String>,
    /// Expiry.
    pub exp: Option<i64>,
    /// Issued at.
    pub iat: Option<i64>,
    /// Not before.
    pub nbf: Option<i64>,
    /// Subject.
    pub sub: Option<String>,
    /// Audience.
    pub aud: Option<Audience>,
    /// Issuer.
    pub iss: Option<String>,
    /// Token id.
    pub jti: Option<String>,
    /// Anything else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl IntrospectionResponse {
    /// `{"active": false}`, the only answer for an unknown, expired or revoked token.
    pub fn inactive() -> Self {
        Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_response_json_matches_serde() {
        let mut r = TokenResponse {
            access_token: "eyJ.a-b_c.d".into(),
            token_type: "Bearer".into(),
            expires_in: Some(3600),
            refresh_token: None,
            scope: Some("a b:c".into()),
            extra: Map::new(),
        };
        assert_eq!(r.to_json().unwrap(), serde_json::to_vec(&r).unwrap());
        r.refresh_token = Some("r\"x\\y".into());
        r.expires_in = None;
        r.scope = None;
        assert_eq!(r.to_json().unwrap(), serde_json::to_vec(&r).unwrap());
        r.extra.insert("id_token".into(), Value::from("x"));
        assert_eq!(r.to_json().unwrap(), serde_json::to_vec(&r).unwrap());
    }

    #[test]
    fn debug_never_prints_a_token() {
        let mut extra = Map::new();
        extra.insert("id_token".into(), Value::from("eyJ.id-token-secret.sig"));
        let r = TokenResponse {
            access_token: "eyJ.access-secret.sig".into(),
            token_type: "Bearer".into(),
            expires_in: Some(60),
            refresh_token: Some("refresh-secret".into()),
            scope: Some("mcp:tools".into()),
            extra,
        };
        let shown = format!("{r:?} {r:#?}");
        for secret in ["access-secret", "refresh-secret", "id-token-secret"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
        assert!(
            shown.contains("mcp:tools") && shown.contains("id_token"),
            "{shown}"
        );
    }

    #[test]
    fn grant_types_parse_exactly() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::parse(g.as_str()), Some(g));
            assert_eq!(g.to_string(), g.as_str());
        }
        assert_eq!(GrantType::parse("Client_Credentials"), None);
        assert_eq!(GrantType::parse(grant_type::JWT_BEARER), None);
        assert_eq!(GrantType::parse(""), None);
    }

    #[test]
    fn inactive_is_minimal() {
        assert_eq!(
            serde_json::to_string(&IntrospectionResponse::inactive()).unwrap(),
            r#"{"active":false}"#
        );
    }

    #[test]
    fn audience_one_or_many() {
        let one: Audience = serde_json::from_str(r#""https://r""#).unwrap();
        assert_eq!(one.iter().collect::<Vec<_>>(), vec!["https://r"]);
        let many: Audience = serde_json::from_str(r#"["a","b"]"#).unwrap();
        assert_eq!(many.iter().count(), 2);
    }
}
