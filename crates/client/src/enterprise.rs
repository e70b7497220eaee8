//! Enterprise-managed authorization (MCP extension, SEP-990): the user's enterprise IdP issues an
//! Identity Assertion JWT Authorization Grant (ID-JAG) for the MCP authorization server, which
//! the client redeems there — no browser redirect to the MCP AS.
//!
//! 1. RFC 8693 token exchange at the IdP: `subject_token` (the user's ID token) →
//!    `requested_token_type=urn:ietf:params:oauth:token-type:id-jag`, `audience` = MCP AS issuer,
//!    `resource` = the MCP resource.
//! 2. RFC 7523 JWT-bearer grant at the MCP AS with the ID-JAG as `assertion`.

use crate::error::{Error, Result};
use crate::fetch::Fetcher;
use crate::registration::ClientRegistration;
use crate::token::{self, IssuedToken, TokenEndpoint};
use mcp_oauth_core::metadata::AuthorizationServerMetadata;
use mcp_oauth_core::secret::Secret;
use mcp_oauth_core::token::grant_type;

/// `requested_token_type` / `issued_token_type` of an ID-JAG.
pub const ID_JAG_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id-jag";
/// `subject_token_type` of an OpenID Connect ID token.
pub const ID_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:id_token";
/// `subject_token_type` of a SAML 2.0 assertion.
pub const SAML2_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:saml2";

/// The enterprise IdP and the user's identity assertion.
#[derive(Debug, Clone)]
pub struct EnterpriseConfig {
    /// The IdP's token endpoint.
    pub idp_token_endpoint: String,
    /// The IdP's issuer (audience of `private_key_jwt` assertions at the IdP); defaults to the
    /// token endpoint URL, which RFC 7523 also allows.
    pub idp_issuer: Option<String>,
    /// This client's registration at the IdP.
    pub idp_client: ClientRegistration,
    /// The user's ID token (or SAML assertion) from single sign-on.
    pub subject_token: Secret,
    /// [`ID_TOKEN_TYPE`] or [`SAML2_TOKEN_TYPE`].
    pub subject_token_type: String,
}

impl EnterpriseConfig {
    /// An IdP with an ID-token subject.
    pub fn new(
        idp_token_endpoint: impl Into<String>,
        idp_client: ClientRegistration,
        id_token: Secret,
    ) -> Self {
        Self {
            idp_token_endpoint: idp_token_endpoint.into(),
            idp_issuer: None,
            idp_client,
            subject_token: id_token,
            subject_token_type: ID_TOKEN_TYPE.to_owned(),
        }
    }
}

/// Step 1: exchanges the subject token at the IdP for an ID-JAG addressed to `audience`.
pub async fn request_id_jag(
    fetcher: &Fetcher,
    config: &EnterpriseConfig,
    audience: &str,
    resource: &str,
    scope: Option<&str>,
    now: i64,
) -> Result<Secret> {
    let mut params = vec![
        ("grant_type".into(), grant_type::TOKEN_EXCHANGE.into()),
        ("requested_token_type".into(), ID_JAG_TOKEN_TYPE.into()),
        ("audience".into(), audience.to_owned()),
        ("resource".into(), resource.to_owned()),
        (
            "subject_token".into(),
            config.subject_token.expose().to_owned(),
        ),
        (
            "subject_token_type".into(),
            config.subject_token_type.clone(),
        ),
    ];
    if let Some(s) = scope {
        params.push(("scope".into(), s.to_owned()));
    }
    let idp_issuer = config
        .idp_issuer
        .as_deref()
        .unwrap_or(&config.idp_token_endpoint);
    let issued = token::request(
        fetcher,
        TokenEndpoint {
            url: &config.idp_token_endpoint,
            issuer: idp_issuer,
            client: &config.idp_client,
            method: config.idp_client.auth.method(None),
            dpop: None,
        },
        params,
        now,
        false,
    )
    .await?;
    match issued.issued_token_type.as_deref() {
        Some(ID_JAG_TOKEN_TYPE) => Ok(issued.access_token),
        other => Err(Error::InvalidResponse {
            url: config.idp_token_endpoint.clone(),
            status: 200,
            expected: "an ID-JAG token exchange response",
            detail: format!("issued_token_type is {other:?}, expected {ID_JAG_TOKEN_TYPE}"),
        }),
    }
}

/// Step 2: redeems the ID-JAG at the MCP AS (`metadata`, whose issuer discovery has checked)
/// with the JWT-bearer grant.
pub async fn redeem_id_jag(
    fetcher: &Fetcher,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    id_jag: &Secret,
    resource: &str,
    scope: Option<&str>,
    now: i64,
) -> Result<IssuedToken> {
    let issuer = metadata.issuer.as_str();
    let params = vec![
        ("grant_type".into(), grant_type::JWT_BEARER.into()),
        ("assertion".into(), id_jag.expose().to_owned()),
    ];
    token::grant_request(
        fetcher, issuer, metadata, client, params, resource, scope, now, None,
    )
    .await
}
