//! The client credentials grant for machine-to-machine clients (MCP extension
//! `oauth-client-credentials`, SEP-1046): pre-registered credentials only, authenticated with
//! `client_secret_basic` / `client_secret_post` (chosen from the AS metadata) or
//! `private_key_jwt`, and `resource` on the request like every other token request.

use crate::error::{Error, Result};
use crate::fetch::Fetcher;
use crate::registration::{ClientAuth, ClientRegistration};
use crate::token::{self, IssuedToken, TokenEndpoint};
use mcp_oauth_core::metadata::AuthorizationServerMetadata;
use mcp_oauth_core::token::grant_type;

/// Requests a token with `grant_type=client_credentials` for `resource`.
pub async fn request_token(
    fetcher: &Fetcher,
    issuer: &str,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    resource: &str,
    scope: Option<&str>,
    now: i64,
) -> Result<IssuedToken> {
    if matches!(client.auth, ClientAuth::None) {
        return Err(Error::Config(
            "the client credentials grant needs a client secret or a private key".into(),
        ));
    }
    let url = metadata
        .token_endpoint
        .as_deref()
        .ok_or_else(|| Error::MissingEndpoint {
            issuer: issuer.to_owned(),
            endpoint: "token_endpoint",
        })?;
    let mut params = vec![
        ("grant_type".into(), grant_type::CLIENT_CREDENTIALS.into()),
        ("resource".into(), resource.to_owned()),
    ];
    if let Some(s) = scope {
        params.push(("scope".into(), s.to_owned()));
    }
    token::request(
        fetcher,
        TokenEndpoint {
            url,
            issuer,
            client,
            method: client.auth.method(Some(metadata)),
        },
        params,
        now,
        true,
    )
    .await
}
