//! Validation of RFC 7591 client metadata, for registration (`POST /register`), update
//! (`PUT /register/{id}`, RFC 7592) and Client ID Metadata Documents (the `cimd` module).
//!
//! The rules:
//! - unknown fields are ignored (RFC 7591 §2), `null` counts as absent, and a known field of the
//!   wrong JSON type is refused;
//! - `token_endpoint_auth_method` is `none`, `client_secret_basic` (the RFC 7591 default),
//!   `client_secret_post` or `private_key_jwt`, the last with exactly one of `jwks` / `jwks_uri`;
//! - `grant_types` (default `authorization_code`) and `response_types` (default `code` with the
//!   code grant) must agree (RFC 7591 §2.1); `refresh_token` only alongside the code grant;
//! - `redirect_uris` are required for the code grant and each must be https, loopback http or a
//!   private-use scheme (or a scheme on the server's allow-list of known clients' schemes),
//!   without a fragment (RFC 8252, `core::redirect::validate_with`);
//! - `client_credentials` needs a confidential method, and only an authorized registrant (the
//!   `token` policy) may ask for it: under `open` anyone could register and mint machine tokens
//!   with no user involved.

use crate::client_keys::parse_public_jwks;
use crate::error::OAuthError;
use mcp_oauth_core::metadata::ClientMetadata;
use mcp_oauth_core::token::{auth_method, grant_type};
use mcp_oauth_core::{ErrorCode, ScopeSet};
use serde_json::{Map, Value};

/// Most redirect URIs one client may register.
const MAX_REDIRECT_URIS: usize = 20;
/// Longest string field accepted.
const MAX_STRING: usize = 2048;
/// Longest client name.
const MAX_NAME: usize = 200;

/// Fields whose value must be a string.
const STRING_FIELDS: [&str; 12] = [
    "client_name",
    "client_uri",
    "logo_uri",
    "scope",
    "tos_uri",
    "policy_uri",
    "jwks_uri",
    "token_endpoint_auth_method",
    "software_id",
    "software_version",
    "application_type",
    "software_statement",
];
/// Fields whose value must be an array of strings.
const STRING_ARRAY_FIELDS: [&str; 4] =
    ["redirect_uris", "grant_types", "response_types", "contacts"];

/// What the registrant may ask for.
#[derive(Clone, Copy)]
pub struct Rules<'a> {
    /// Whether `client_credentials` may be registered (an initial access token was presented).
    pub allow_client_credentials: bool,
    /// The metadata is a Client ID Metadata Document: no secrets at all (no `client_secret`,
    /// no `client_secret_expires_at`, no secret-based method), and the default method is `none`.
    pub document: bool,
    /// Checks a `jwks_uri` (the SSRF-safe fetcher's URL rules); the error says why it is refused.
    pub check_jwks_uri: &'a (dyn Fn(&str) -> Result<(), String> + Sync),
    /// Non-conforming redirect URI schemes admitted besides the RFC 8252 ones (the server's
    /// `redirect_uri_schemes`).
    pub redirect_schemes: &'a [String],
}

impl std::fmt::Debug for Rules<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules")
            .field("allow_client_credentials", &self.allow_client_credentials)
            .field("document", &self.document)
            .field("redirect_schemes", &self.redirect_schemes)
            .finish_non_exhaustive()
    }
}

/// Validated metadata, normalised with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// Display name (the registrant's, or a neutral default).
    pub client_name: String,
    /// The token endpoint authentication method.
    pub auth_method: String,
    /// Grant types, sorted.
    pub grant_types: Vec<String>,
    /// Redirect URIs, as registered.
    pub redirect_uris: Vec<String>,
    /// The scopes the client may be granted, if it limited them.
    pub scope: Option<ScopeSet>,
    /// Public keys by value.
    pub jwks: Option<Value>,
    /// Where its public keys are.
    pub jwks_uri: Option<String>,
    /// The registered metadata as stored and echoed back (RFC 7591 §3.2.1).
    pub metadata: ClientMetadata,
}

impl Registration {
    /// Whether the client gets a secret.
    pub fn uses_secret(&self) -> bool {
        self.auth_method == auth_method::CLIENT_SECRET_BASIC
            || self.auth_method == auth_method::CLIENT_SECRET_POST
    }
}

fn bad(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

fn bad_redirect(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRedirectUri, description)
}

/// Checks JSON types field by field (so the error names the field), dropping `null`s.
fn typed_fields(body: &Value) -> Result<Map<String, Value>, OAuthError> {
    let obj = body
        .as_object()
        .ok_or_else(|| bad("the body must be a JSON object of client metadata"))?;
    let mut out = Map::new();
    for (k, v) in obj {
        if v.is_null() {
            continue;
        }
        let ok = if STRING_FIELDS.contains(&k.as_str()) {
            v.as_str().is_some_and(|s| s.len() <= MAX_STRING)
        } else if STRING_ARRAY_FIELDS.contains(&k.as_str()) {
            v.as_array().is_some_and(|a| {
                a.len() <= MAX_REDIRECT_URIS
                    && a.iter()
                        .all(|x| x.as_str().is_some_and(|s| s.len() <= MAX_STRING))
            })
        } else if k == "jwks" {
            v.is_object()
        } else {
            true
        };
        if !ok {
            return Err(bad(format!(
                "`{k}` has the wrong type or is too long (see RFC 7591 §2)"
            )));
        }
        out.insert(k.clone(), v.clone());
    }
    Ok(out)
}

fn check_web_uri(name: &str, v: &Option<String>) -> Result<(), OAuthError> {
    if let Some(u) = v {
        let ok = url::Url::parse(u).is_ok_and(|p| matches!(p.scheme(), "https" | "http"));
        if !ok {
            return Err(bad(format!("`{name}` must be an absolute http(s) URL")));
        }
    }
    Ok(())
}

/// Validates a registration or update request body.
pub fn validate(body: &Value, rules: &Rules<'_>) -> Result<Registration, OAuthError> {
    let fields = typed_fields(body)?;
    if rules.document
        && (fields.contains_key("client_secret") || fields.contains_key("client_secret_expires_at"))
    {
        return Err(bad(
            "a client metadata document must not carry a client secret",
        ));
    }
    let mut m: ClientMetadata = serde_json::from_value(Value::Object(fields))
        .map_err(|e| bad(format!("the client metadata does not parse: {e}")))?;
    // Ignored on registration: the server assigns the id (RFC 7591 §3.1); unknown fields too.
    m.client_id = None;
    m.extra = Map::new();

    let default_method = if rules.document {
        auth_method::NONE
    } else {
        auth_method::CLIENT_SECRET_BASIC
    };
    let method = m
        .token_endpoint_auth_method
        .clone()
        .unwrap_or_else(|| default_method.to_owned());
    if ![
        auth_method::NONE,
        auth_method::CLIENT_SECRET_BASIC,
        auth_method::CLIENT_SECRET_POST,
        auth_method::PRIVATE_KEY_JWT,
    ]
    .contains(&method.as_str())
    {
        return Err(bad(format!(
            "token_endpoint_auth_method `{method}` is not supported (none, client_secret_basic, client_secret_post, private_key_jwt)"
        )));
    }
    if rules.document && method != auth_method::NONE && method != auth_method::PRIVATE_KEY_JWT {
        return Err(bad(
            "a client metadata document may only use token_endpoint_auth_method none or private_key_jwt",
        ));
    }

    let mut grants = m
        .grant_types
        .clone()
        .unwrap_or_else(|| vec![grant_type::AUTHORIZATION_CODE.to_owned()]);
    grants.sort();
    grants.dedup();
    if grants.is_empty() {
        return Err(bad("grant_types must not be empty"));
    }
    for g in &grants {
        if ![
            grant_type::AUTHORIZATION_CODE,
            grant_type::REFRESH_TOKEN,
            grant_type::CLIENT_CREDENTIALS,
            grant_type::DEVICE_CODE,
        ]
        .contains(&g.as_str())
        {
            return Err(bad(format!(
                "grant type `{g}` is not supported (authorization_code, refresh_token, client_credentials, {})",
                grant_type::DEVICE_CODE
            )));
        }
    }
    let has = |g: &str| grants.iter().any(|x| x == g);
    let uses_code = has(grant_type::AUTHORIZATION_CODE);
    if has(grant_type::REFRESH_TOKEN) && !uses_code && !has(grant_type::DEVICE_CODE) {
        return Err(bad(
            "refresh_token is only issued with the authorization_code or device_code grant",
        ));
    }
    if has(grant_type::CLIENT_CREDENTIALS) {
        if method == auth_method::NONE {
            return Err(bad("client_credentials needs a confidential client"));
        }
        if !rules.allow_client_credentials {
            return Err(bad(
                "client_credentials is not available by open registration; ask the administrator for an initial access token or a pre-registered client",
            ));
        }
    }

    let mut response_types = m.response_types.clone().unwrap_or_else(|| {
        if uses_code {
            vec!["code".to_owned()]
        } else {
            Vec::new()
        }
    });
    response_types.sort();
    response_types.dedup();
    if response_types.iter().any(|r| r != "code") {
        return Err(bad("the only supported response type is `code`"));
    }
    if uses_code == response_types.is_empty() {
        return Err(bad(
            "grant_types and response_types disagree: authorization_code goes with response type code (RFC 7591 §2.1)",
        ));
    }

    let redirect_uris = m.redirect_uris.clone().unwrap_or_default();
    if uses_code && redirect_uris.is_empty() {
        return Err(bad_redirect(
            "redirect_uris is required for the authorization_code grant",
        ));
    }
    for r in &redirect_uris {
        mcp_oauth_core::redirect::validate_with(r, rules.redirect_schemes)
            .map_err(|e| bad_redirect(format!("redirect URI `{r}`: {e}")))?;
    }

    match (&m.jwks, &m.jwks_uri) {
        (Some(_), Some(_)) => {
            return Err(bad("send jwks or jwks_uri, not both (RFC 7591 §2)"));
        }
        (Some(j), None) => {
            parse_public_jwks(j).map_err(bad)?;
        }
        (None, Some(u)) => {
            (rules.check_jwks_uri)(u).map_err(|e| bad(format!("jwks_uri: {e}")))?;
        }
        (None, None) if method == auth_method::PRIVATE_KEY_JWT => {
            return Err(bad("private_key_jwt needs jwks or jwks_uri"));
        }
        (None, None) => {}
    }

    let scope = m
        .scope
        .as_deref()
        .map(ScopeSet::parse)
        .transpose()
        .map_err(|e| bad(format!("scope: {e}")))?
        .filter(|s| !s.is_empty());
    for (name, v) in [
        ("client_uri", &m.client_uri),
        ("logo_uri", &m.logo_uri),
        ("tos_uri", &m.tos_uri),
        ("policy_uri", &m.policy_uri),
    ] {
        check_web_uri(name, v)?;
    }
    if let Some(t) = &m.application_type
        && t != "native"
        && t != "web"
    {
        return Err(bad("application_type must be native or web"));
    }
    let client_name = match m.client_name.as_deref().map(str::trim) {
        Some(n) if n.chars().count() > MAX_NAME => {
            return Err(bad(format!(
                "client_name is longer than {MAX_NAME} characters"
            )));
        }
        Some(n) if !n.is_empty() => n.to_owned(),
        _ => "Unnamed application".to_owned(),
    };

    m.token_endpoint_auth_method = Some(method.clone());
    m.grant_types = Some(grants.clone());
    m.response_types = Some(response_types);
    m.redirect_uris = Some(redirect_uris.clone());
    m.scope = scope.as_ref().map(ToString::to_string);
    Ok(Registration {
        client_name,
        auth_method: method,
        grant_types: grants,
        redirect_uris,
        scope,
        jwks: m.jwks.clone(),
        jwks_uri: m.jwks_uri.clone(),
        metadata: m,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static SCHEMES: std::sync::LazyLock<Vec<String>> =
        std::sync::LazyLock::new(|| vec!["cursor".to_owned()]);

    fn rules(allow_cc: bool) -> Rules<'static> {
        static CHECK: fn(&str) -> Result<(), String> = |u| {
            if u.starts_with("https://") {
                Ok(())
            } else {
                Err("must use https".into())
            }
        };
        Rules {
            allow_client_credentials: allow_cc,
            document: false,
            check_jwks_uri: &CHECK,
            redirect_schemes: &SCHEMES,
        }
    }

    fn code_of(body: Value) -> String {
        validate(&body, &rules(false)).unwrap_err().code.to_string()
    }

    #[test]
    fn defaults_follow_rfc_7591() {
        let r = validate(
            &json!({"redirect_uris": ["https://app.example/cb"], "x-unknown": {"a": 1}}),
            &rules(false),
        )
        .unwrap();
        assert_eq!(r.auth_method, "client_secret_basic");
        assert!(r.uses_secret());
        assert_eq!(r.grant_types, vec!["authorization_code"]);
        assert_eq!(r.metadata.response_types, Some(vec!["code".to_owned()]));
        assert!(r.metadata.extra.is_empty(), "unknown fields are dropped");
        assert_eq!(r.client_name, "Unnamed application");
    }

    #[test]
    fn public_native_client() {
        let r = validate(
            &json!({
                "client_name": "Claude", "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                "redirect_uris": ["http://127.0.0.1/callback", "com.example.app:/cb"],
                "scope": "mcp:tools", "client_id": "chosen-by-client", "logo_uri": null
            }),
            &rules(false),
        )
        .unwrap();
        assert!(!r.uses_secret());
        assert_eq!(r.metadata.client_id, None);
        assert_eq!(r.scope.unwrap().to_string(), "mcp:tools");
    }

    #[test]
    fn refusals() {
        assert_eq!(code_of(json!({})), "invalid_redirect_uri");
        assert_eq!(
            code_of(json!({"redirect_uris": ["https://a.example/cb#frag"]})),
            "invalid_redirect_uri"
        );
        assert_eq!(
            code_of(json!({"redirect_uris": ["http://a.example/cb"]})),
            "invalid_redirect_uri"
        );
        assert_eq!(
            code_of(json!({"redirect_uris": "https://a.example/cb"})),
            "invalid_client_metadata"
        );
        assert_eq!(
            code_of(json!({"redirect_uris": [1]})),
            "invalid_client_metadata"
        );
        assert_eq!(
            code_of(json!({"client_name": 5, "redirect_uris": ["https://a.example/cb"]})),
            "invalid_client_metadata"
        );
        assert_eq!(code_of(json!([1, 2])), "invalid_client_metadata");
        let cb = json!(["https://a.example/cb"]);
        for body in [
            json!({"redirect_uris": cb, "token_endpoint_auth_method": "client_secret_jwt"}),
            json!({"redirect_uris": cb, "grant_types": ["implicit"]}),
            json!({"redirect_uris": cb, "grant_types": ["authorization_code"], "response_types": ["token"]}),
            json!({"redirect_uris": cb, "grant_types": ["refresh_token"], "response_types": []}),
            json!({"grant_types": ["client_credentials"], "response_types": ["code"]}),
            json!({"grant_types": ["client_credentials"]}),
            json!({"redirect_uris": cb, "token_endpoint_auth_method": "private_key_jwt"}),
            json!({"redirect_uris": cb, "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://a.example/jwks"}),
            json!({"redirect_uris": cb, "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": []}}),
            json!({"redirect_uris": cb, "jwks": {"keys": []}, "jwks_uri": "https://a.example/j"}),
            json!({"redirect_uris": cb, "scope": "bad\"scope"}),
            json!({"redirect_uris": cb, "logo_uri": "javascript:alert(1)"}),
            json!({"redirect_uris": cb, "application_type": "desktop"}),
        ] {
            assert_eq!(code_of(body.clone()), "invalid_client_metadata", "{body}");
        }
    }

    #[test]
    fn documents_carry_no_secrets() {
        let doc = Rules {
            document: true,
            ..rules(false)
        };
        let cb = json!(["https://app.example/cb"]);
        let r = validate(&json!({"redirect_uris": cb}), &doc).unwrap();
        assert_eq!(
            r.auth_method, "none",
            "a document defaults to a public client"
        );
        for body in [
            json!({"redirect_uris": cb, "client_secret": "s"}),
            json!({"redirect_uris": cb, "client_secret_expires_at": 0}),
            json!({"redirect_uris": cb, "token_endpoint_auth_method": "client_secret_basic"}),
            json!({"redirect_uris": cb, "token_endpoint_auth_method": "client_secret_post"}),
        ] {
            assert!(validate(&body, &doc).is_err(), "{body}");
        }
    }

    #[test]
    fn client_credentials_needs_an_authorized_registrant() {
        let body = json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post"});
        assert!(validate(&body, &rules(false)).is_err());
        let r = validate(&body, &rules(true)).unwrap();
        assert_eq!(r.metadata.response_types, Some(vec![]));
        let public =
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"});
        assert!(validate(&public, &rules(true)).is_err());
    }
}
