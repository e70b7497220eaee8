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

/// The `client_secret_basic` credentials of the one `Authorization` header, decoded by
/// [`mcp_oauth_core::basic::decode`]; `None` when the header is absent or of another scheme.
/// A malformed Basic value is an `invalid_client` with a Basic challenge (RFC 6749 §5.2).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let mut auth_headers = headers.get_all(header::AUTHORIZATION).iter();
    let auth = auth_headers.next();
    if auth_headers.next().is_some() {
        return Err(OAuthError::invalid_request(
            "more than one Authorization header",
        ));
    }
    let Some(value) = auth.and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let is_basic = value
        .get(..6)
        .is_some_and(|p| p.eq_ignore_ascii_case("basic "));
    if !is_basic {
        return Ok(None);
    }
    mcp_oauth_core::basic::decode(value)
        .map(Some)
        .ok_or_else(|| OAuthError::invalid_client("malformed HTTP Basic credentials", true))
}

/// Authenticates the client of a request, removing `client_id` and `client_secret` from
/// `params`. Public clients are accepted only when `allow_public`.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &mut OAuthParams,
    allow_public: bool,
) -> Result<AuthenticatedClient, OAuthError> {
    let basic = basic_credentials(headers)?;
    let basic_attempted = basic.is_some();
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
            // Both comparisons always run: which secret matched is not timed.
            let current = constant_time_eq(presented.as_bytes(), stored.as_bytes());
            let previous = client
                .previous_secret_hash
                .as_deref()
                .is_some_and(|p| constant_time_eq(presented.as_bytes(), p.as_bytes()))
                && client
                    .previous_secret_until
                    .is_some_and(|t| t > state.now());
            if !(current | previous) {
                return Err(unknown());
            }
            if current
                && client
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
    use axum::http::HeaderValue;
    use mcp_oauth_core::ErrorCode;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn basic_header_is_accepted_form_decoded() {
        // What the client sends (the core encoder) is what the server reads.
        let sent = mcp_oauth_core::basic::encode("a b:c", "p:w%+");
        let got = basic_credentials(&headers(&[&sent])).unwrap();
        assert_eq!(got, Some(("a b:c".into(), "p:w%+".into())));
        let lower = sent.replacen("Basic", "basic", 1);
        assert!(basic_credentials(&headers(&[&lower])).unwrap().is_some());
    }

    #[test]
    fn other_schemes_absent_and_malformed_basic() {
        assert_eq!(basic_credentials(&HeaderMap::new()).unwrap(), None);
        assert_eq!(basic_credentials(&headers(&["Bearer x"])).unwrap(), None);
        assert_eq!(basic_credentials(&headers(&["Basic"])).unwrap(), None);
        let e = basic_credentials(&headers(&["Basic !!!"])).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidClient);
        let two = headers(&["Basic YTpi", "Basic YTpi"]);
        assert_eq!(
            basic_credentials(&two).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }
}
