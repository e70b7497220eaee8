//! Token endpoint requests (RFC 6749 §3.2) with client authentication, shared by every grant.
//!
//! Client authentication per method:
//! - `none`: `client_id` in the body;
//! - `client_secret_basic`: `Authorization: Basic base64(urlenc(id) ":" urlenc(secret))` — the
//!   id and secret are form-urlencoded first (RFC 6749 §2.3.1), which many clients forget;
//! - `client_secret_post`: `client_id` and `client_secret` in the body;
//! - `private_key_jwt`: an RFC 7523 assertion addressed to the issuer.
//!
//! Responses are turned into [`IssuedToken`] at once, whose token values are [`Secret`]s.

use crate::assertion::client_assertion;
use crate::error::{Error, Result};
use crate::fetch::Fetcher;
use crate::registration::{ClientAuth, ClientRegistration};
use mcp_oauth_core::ErrorResponse;
use mcp_oauth_core::metadata::AuthorizationServerMetadata;
use mcp_oauth_core::secret::Secret;
use mcp_oauth_core::token::{TokenResponse, auth_method};
use reqwest::header::HeaderValue;

/// A token endpoint's answer, with the token values kept secret.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The access token (or, for a token exchange, the issued token).
    pub access_token: Secret,
    /// `Bearer`, or `N_A` for an RFC 8693 exchange.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: Option<u64>,
    /// A refresh token, if issued.
    pub refresh_token: Option<Secret>,
    /// The granted scope, if the AS said.
    pub scope: Option<String>,
    /// RFC 8693 `issued_token_type`, if present.
    pub issued_token_type: Option<String>,
}

impl IssuedToken {
    /// Whether the token is DPoP-bound (`token_type: DPoP`, RFC 9449 §5).
    pub fn is_dpop(&self) -> bool {
        self.token_type
            .eq_ignore_ascii_case(mcp_oauth_core::dpop::TOKEN_TYPE)
    }
}

/// The DPoP key a token request proves, and where the server nonces are kept.
#[derive(Debug, Clone, Copy)]
pub struct Dpop<'a> {
    /// The key.
    pub key: &'a crate::dpop::DpopKey,
    /// The nonces.
    pub nonces: &'a crate::dpop::Nonces,
}

/// Where and as whom to call a token endpoint.
#[derive(Debug, Clone, Copy)]
pub struct TokenEndpoint<'a> {
    /// The token endpoint URL.
    pub url: &'a str,
    /// The issuer (the audience of `private_key_jwt` assertions).
    pub issuer: &'a str,
    /// The client.
    pub client: &'a ClientRegistration,
    /// The authentication method name (from [`ClientAuth::method`]).
    pub method: &'a str,
    /// The DPoP key to prove, if the token is to be bound to one.
    pub dpop: Option<Dpop<'a>>,
}

/// `form_urlencode`: one value as `application/x-www-form-urlencoded` (RFC 6749 Appendix B);
/// `basic_authorization`: the `client_secret_basic` header value (RFC 6749 §2.3.1). Both are the
/// one codec in [`mcp_oauth_core::basic`], which the server decodes with.
pub use mcp_oauth_core::basic::{encode as basic_authorization, form_urlencode};

/// Adds client authentication for `endpoint.method` to `params`; returns the `Authorization`
/// header value for `client_secret_basic`.
fn authenticate(
    endpoint: TokenEndpoint<'_>,
    params: &mut Vec<(String, String)>,
    now: i64,
) -> Result<Option<HeaderValue>> {
    let client = endpoint.client;
    let mut authorization = None;
    let secret = match &client.auth {
        ClientAuth::Secret(s) | ClientAuth::SecretBasic(s) | ClientAuth::SecretPost(s) => Some(s),
        _ => None,
    };
    match (endpoint.method, &client.auth, secret) {
        (auth_method::CLIENT_SECRET_BASIC, _, Some(s)) => {
            let mut v = HeaderValue::from_str(&basic_authorization(&client.client_id, s.expose()))
                .map_err(|_| Error::Config("client id or secret cannot be sent".into()))?;
            v.set_sensitive(true);
            authorization = Some(v);
        }
        (auth_method::CLIENT_SECRET_POST, _, Some(s)) => {
            params.push(("client_id".into(), client.client_id.clone()));
            params.push(("client_secret".into(), s.expose().to_owned()));
        }
        (auth_method::PRIVATE_KEY_JWT, ClientAuth::PrivateKeyJwt(key), _) => {
            let jwt = client_assertion(key, &client.client_id, endpoint.issuer, now)?;
            params.push((
                "client_assertion_type".into(),
                auth_method::JWT_BEARER_ASSERTION_TYPE.into(),
            ));
            params.push(("client_assertion".into(), jwt));
        }
        _ => params.push(("client_id".into(), client.client_id.clone())),
    }
    Ok(authorization)
}

/// RFC 7009 revocation of `token` at `endpoint.url` (the revocation endpoint), authenticated
/// like a token request. `hint` is `refresh_token` or `access_token`. A 200 means revoked (or
/// already invalid, which RFC 7009 §2.2 answers the same way).
pub async fn revoke(
    fetcher: &Fetcher,
    endpoint: TokenEndpoint<'_>,
    token: &Secret,
    hint: &str,
    now: i64,
) -> Result<()> {
    let mut params = vec![
        ("token".to_owned(), token.expose().to_owned()),
        ("token_type_hint".to_owned(), hint.to_owned()),
    ];
    let authorization = authenticate(endpoint, &mut params, now)?;
    let resp = fetcher
        .post_form(endpoint.url, &params, authorization)
        .await?;
    if resp.status == 200 {
        return Ok(());
    }
    Err(oauth_error(endpoint.url, &resp))
}

/// The issuer's `token_endpoint`, or the error that names it missing.
/// POSTs an authorization request to a pushed authorization request endpoint (RFC 9126 §2)
/// with the client's authentication, and returns the `request_uri`.
pub async fn push(
    fetcher: &Fetcher,
    endpoint: TokenEndpoint<'_>,
    mut params: Vec<(String, String)>,
    now: i64,
) -> Result<String> {
    let authorization = authenticate(endpoint, &mut params, now)?;
    let resp = fetcher
        .post_form(endpoint.url, &params, authorization)
        .await?;
    if resp.status != 201 && resp.status != 200 {
        return Err(oauth_error(endpoint.url, &resp));
    }
    #[derive(serde::Deserialize)]
    struct Pushed {
        request_uri: String,
    }
    let pushed: Pushed = resp.json("a pushed authorization response")?;
    Ok(pushed.request_uri)
}

/// POSTs `params` to `endpoint.url` with the client's authentication and returns the answer
/// as it came (the device authorization request, RFC 8628 §3.1, authenticates as at `/token`).
pub(crate) async fn post_authenticated(
    fetcher: &Fetcher,
    endpoint: TokenEndpoint<'_>,
    mut params: Vec<(String, String)>,
    now: i64,
) -> Result<crate::fetch::Fetched> {
    let authorization = authenticate(endpoint, &mut params, now)?;
    fetcher
        .post_form(endpoint.url, &params, authorization)
        .await
}

/// The error of a refused request to `url`.
pub(crate) fn oauth_error(url: &str, resp: &crate::fetch::Fetched) -> Error {
    match resp.json::<ErrorResponse>("an OAuth error response") {
        Ok(e) => Error::OAuth {
            endpoint: url.to_owned(),
            status: resp.status,
            error: e.error,
            description: e.error_description,
        },
        Err(e) => e,
    }
}

pub(crate) fn endpoint<'m>(
    metadata: &'m AuthorizationServerMetadata,
    issuer: &str,
) -> Result<&'m str> {
    metadata
        .token_endpoint
        .as_deref()
        .ok_or_else(|| Error::MissingEndpoint {
            issuer: issuer.to_owned(),
            endpoint: "token_endpoint",
        })
}

/// A grant request at the token endpoint of `metadata` (the AS `issuer`): the grant's own
/// `params`, then `resource` and, when given, `scope`; the client authenticates as its
/// registration and the metadata choose. The client credentials and JWT-bearer grants share it.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn grant_request(
    fetcher: &Fetcher,
    issuer: &str,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    mut params: Vec<(String, String)>,
    resource: &str,
    scope: Option<&str>,
    now: i64,
    dpop: Option<Dpop<'_>>,
) -> Result<IssuedToken> {
    let url = endpoint(metadata, issuer)?;
    params.push(("resource".into(), resource.to_owned()));
    if let Some(s) = scope {
        params.push(("scope".into(), s.to_owned()));
    }
    let endpoint = TokenEndpoint {
        url,
        issuer,
        client,
        method: client.auth.method(Some(metadata)),
        dpop,
    };
    request(fetcher, endpoint, params, now, true).await
}

/// POSTs `params` to the token endpoint with client authentication and parses the answer.
/// `require_bearer` refuses any `token_type` but `Bearer` (off for token exchange).
pub async fn request(
    fetcher: &Fetcher,
    endpoint: TokenEndpoint<'_>,
    mut params: Vec<(String, String)>,
    now: i64,
    require_bearer: bool,
) -> Result<IssuedToken> {
    let authorization = authenticate(endpoint, &mut params, now)?;
    let send = |nonce_retry: bool| {
        let (params, authorization) = (&params, authorization.clone());
        async move {
            let mut extra = Vec::new();
            if let Some(d) = endpoint.dpop {
                let nonce = d.nonces.get(endpoint.url);
                extra.push((
                    mcp_oauth_core::dpop::HEADER,
                    d.key
                        .proof("POST", endpoint.url, None, nonce.as_deref(), now)?,
                ));
            }
            let resp = fetcher
                .post_form_with(endpoint.url, params, authorization, &extra)
                .await?;
            let noted = endpoint
                .dpop
                .is_some_and(|d| d.nonces.note(endpoint.url, &resp.headers));
            // RFC 9449 §8: the server wants a nonce in the proof; once, with the one it gave.
            let wants_nonce = resp.status == 400
                && noted
                && !nonce_retry
                && resp
                    .json::<ErrorResponse>("an OAuth error response")
                    .is_ok_and(|e| e.error == "use_dpop_nonce");
            Ok::<_, Error>((resp, wants_nonce))
        }
    };
    let (mut resp, wants_nonce) = send(false).await?;
    if wants_nonce {
        resp = send(true).await?.0;
    }
    if resp.status != 200 {
        return Err(oauth_error(endpoint.url, &resp));
    }
    let parsed: TokenResponse = resp.json("a token response")?;
    if parsed.access_token.is_empty() {
        return Err(Error::InvalidResponse {
            url: endpoint.url.to_owned(),
            status: resp.status,
            expected: "a token response",
            detail: "access_token is empty".into(),
        });
    }
    let dpop_bound = endpoint.dpop.is_some()
        && parsed
            .token_type
            .eq_ignore_ascii_case(mcp_oauth_core::dpop::TOKEN_TYPE);
    if require_bearer && !parsed.token_type.eq_ignore_ascii_case("bearer") && !dpop_bound {
        return Err(Error::UnsupportedTokenType {
            endpoint: endpoint.url.to_owned(),
            token_type: parsed.token_type,
        });
    }
    let issued_token_type = parsed
        .extra
        .get("issued_token_type")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    Ok(IssuedToken {
        access_token: Secret::new(parsed.access_token),
        token_type: parsed.token_type,
        expires_in: parsed.expires_in,
        refresh_token: parsed.refresh_token.map(Secret::new),
        scope: parsed.scope,
        issued_token_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_is_sent_with_form_encoded_credentials() {
        // The header carries the core codec's encoding; the body gets no client_id or secret.
        let client = ClientRegistration::pre_registered(
            "my client:1",
            ClientAuth::SecretBasic(Secret::new("p@ss w/rd+")),
        );
        let endpoint = TokenEndpoint {
            url: "https://as.example/token",
            issuer: "https://as.example",
            client: &client,
            method: auth_method::CLIENT_SECRET_BASIC,
            dpop: None,
        };
        let mut params = Vec::new();
        let header = authenticate(endpoint, &mut params, 0).unwrap().unwrap();
        assert!(header.is_sensitive());
        assert_eq!(
            mcp_oauth_core::basic::decode(header.to_str().unwrap()),
            Some(("my client:1".into(), "p@ss w/rd+".into()))
        );
        assert_eq!(header, basic_authorization("my client:1", "p@ss w/rd+"));
        assert!(params.is_empty());
    }
}
