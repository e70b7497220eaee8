//! The client credentials grant for machine-to-machine clients (MCP extension
//! `oauth-client-credentials`, SEP-1046): pre-registered credentials only, authenticated with
//! `client_secret_basic` / `client_secret_post` (chosen from the AS metadata) or
//! `private_key_jwt`, and `resource` on the request like every other token request.

use crate::error::{Error, Result};
use crate::fetch::Fetcher;
use crate::registration::{ClientAuth, ClientRegistration};
use crate::token::{self, IssuedToken};
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
    request_token_with(
        fetcher, issuer, metadata, client, resource, scope, now, None,
    )
    .await
}

/// [`request_token`], the token bound to a DPoP key (RFC 9449 §5) when `dpop` is given.
#[allow(clippy::too_many_arguments)]
pub async fn request_token_with(
    fetcher: &Fetcher,
    issuer: &str,
    metadata: &AuthorizationServerMetadata,
    client: &ClientRegistration,
    resource: &str,
    scope: Option<&str>,
    now: i64,
    dpop: Option<token::Dpop<'_>>,
) -> Result<IssuedToken> {
    if matches!(client.auth, ClientAuth::None) {
        return Err(Error::Config(
            "the client credentials grant needs a client secret or a private key".into(),
        ));
    }
    let params = vec![("grant_type".into(), grant_type::CLIENT_CREDENTIALS.into())];
    token::grant_request(
        fetcher, issuer, metadata, client, params, resource, scope, now, dpop,
    )
    .await
}
