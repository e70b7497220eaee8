//! Client authentication at the token, revocation and introspection endpoints
//! (RFC 6749 §2.3, §3.2.1).
//!
//! Exactly one method per request: HTTP Basic, `client_secret` in the body, a client assertion
//! (`private_key_jwt`, RFC 7523 §2.2, checked in [`crate::client_assertion`]), or none (a public
//! client naming itself with `client_id`). Secrets are 256-bit random values stored as SHA-256
//! hashes and compared in constant time. A client registered with a secret may present it either
//! by Basic or in the body: the MCP client-credentials extension asks servers to accept both, and
//! the two carry the same secret over the same TLS channel. A client registered for
//! `private_key_jwt` must present an assertion on every request.

use crate::error::OAuthError;
use crate::model::Client;
use crate::state::AppState;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use mcp_oauth_core::form::OAuthParams;
use mcp_oauth_core::secret::{constant_time_eq, sha256_b64url};
use mcp_oauth_core::token::auth_method;
use std::sync::Arc;

/// How the client authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A public client.
    None,
    /// HTTP Basic.
    SecretBasic,
    /// Secret in the body.
    SecretPost,
    /// A client assertion signed with the client's private key.
    PrivateKeyJwt,
}

/// A client that passed authentication.
#[derive(Debug, Clone)]
pub struct AuthenticatedClient {
    /// Its record.
    pub client: Arc<Client>,
    /// How it authenticated.
    pub method: AuthMethod,
}

/// Basic credentials: `base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1).
fn parse_basic(value: &str) -> Option<(String, String)> {
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = STANDARD.decode(rest.trim()).ok()?;
    let mut raw = String::from_utf8(raw).ok()?;
    let colon = raw.find(':')?;
    if !raw.contains(['+', '%']) {
        // Nothing to decode: split the buffer instead of copying both halves.
        let secret = raw[colon + 1..].to_owned();
        raw.truncate(colon);
        return Some((raw, secret));
    }
    let (id, secret) = raw.split_at(colon);
    Some((form_decode(id)?, form_decode(&secret[1..])?))
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a byte.
/// Done by hand because a raw `&` or `=` from a lax client must not split the value.
fn form_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Authenticates the client of a request, removing `client_id` and `client_secret` from
/// `params`. Public clients are accepted only when `allow_public`.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &mut OAuthParams,
    allow_public: bool,
) -> Result<AuthenticatedClient, OAuthError> {
    let mut auth_headers = headers.get_all(header::AUTHORIZATION).iter();
    let auth = auth_headers.next();
    if auth_headers.next().is_some() {
        return Err(OAuthError::invalid_request(
            "more than one Authorization header",
        ));
    }
    let basic_attempted = auth
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() >= 6 && v[..6].eq_ignore_ascii_case("basic "));
    let basic =
        if basic_attempted {
            let v = auth.and_then(|v| v.to_str().ok()).unwrap_or_default();
            Some(parse_basic(v).ok_or_else(|| {
                OAuthError::invalid_client("malformed HTTP Basic credentials", true)
            })?)
        } else {
            None
        };
    let body_id = params.take("client_id");
    let body_secret = params.take("client_secret");
    let assertion_type = params.take("client_assertion_type");
    let assertion = params.take("client_assertion");
    if assertion_type.is_some() || assertion.is_some() {
        if basic.is_some() || body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "more than one client authentication method (RFC 6749 §2.3)",
            ));
        }
        let (Some(kind), Some(assertion)) = (assertion_type, assertion) else {
            return Err(OAuthError::invalid_request(
                "client_assertion and client_assertion_type go together",
            ));
        };
        if kind != auth_method::JWT_BEARER_ASSERTION_TYPE {
            return Err(OAuthError::invalid_client(
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                false,
            ));
        }
        let client = crate::client_assertion::verify(state, &assertion, body_id.as_deref()).await?;
        return Ok(AuthenticatedClient {
            client,
            method: AuthMethod::PrivateKeyJwt,
        });
    }
    let (client_id, secret, method) = match (basic, body_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "more than one client authentication method (RFC 6749 §2.3)",
            ));
        }
        (Some((id, secret)), None) => {
            if body_id.as_deref().is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the authenticated client",
                ));
            }
            (id, Some(secret), AuthMethod::SecretBasic)
        }
        (None, Some(secret)) => {
            let id = body_id
                .ok_or_else(|| OAuthError::invalid_request("client_secret without client_id"))?;
            (id, Some(secret), AuthMethod::SecretPost)
        }
        (None, None) => {
            let id = body_id.ok_or_else(|| {
                OAuthError::invalid_client("client authentication is required", false)
            })?;
            (id, None, AuthMethod::None)
        }
    };
    let unknown =
        || OAuthError::invalid_client("unknown client or bad credentials", basic_attempted);
    let client = crate::clients::find(state, &client_id)
        .await?
        .ok_or_else(unknown)?;
    match (secret, client.secret_hash.as_deref()) {
        (Some(secret), Some(stored)) => {
            let presented = sha256_b64url(secret.as_bytes());
            if !constant_time_eq(presented.as_bytes(), stored.as_bytes()) {
                return Err(unknown());
            }
            if client
                .secret_expires_at
                .is_some_and(|t| t != 0 && t <= state.now())
            {
                return Err(OAuthError::invalid_client(
                    "the client secret has expired",
                    basic_attempted,
                ));
            }
        }
        (Some(_), None) => return Err(unknown()),
        (None, _) => {
            if client.token_endpoint_auth_method != auth_method::NONE {
                return Err(OAuthError::invalid_client(
                    "this client must authenticate",
                    false,
                ));
            }
            if !allow_public {
                return Err(OAuthError::invalid_client(
                    "public clients may not use this endpoint",
                    false,
                ));
            }
        }
    }
    Ok(AuthenticatedClient { client, method })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_is_form_decoded() {
        // id "a b" and secret "p:w%" encoded per RFC 6749 §2.3.1.
        let v = format!("Basic {}", STANDARD.encode("a+b:p%3Aw%25"));
        assert_eq!(parse_basic(&v), Some(("a b".into(), "p:w%".into())));
        assert_eq!(parse_basic("Bearer x"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
        assert_eq!(
            parse_basic(&format!("basic {}", STANDARD.encode("nocolon"))),
            None
        );
        assert_eq!(form_decode("a&b=c%2"), None);
        assert_eq!(form_decode("a&b=c"), Some("a&b=c".into()));
    }
}
