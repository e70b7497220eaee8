//! Federated login for an MCP server in the same process (the other route is RFC 8693 token
//! exchange at `/token`): from the claims of a caller's access token, verified already (the
//! guard's `Principal::claims`), the upstream account they signed in with and their upstream
//! access token, refreshed first when it is about to expire. An MCP client never sees these.

use crate::state::AppState;
use crate::tokens::GRANT_CLAIM;
use crate::upstream::KeptError;
use mcp_oauth_core::clock::UnixTime;
use mcp_oauth_core::secret::Secret;
use serde_json::Value;

/// The upstream account behind a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamAccount {
    /// The `[[upstream]]` block's id.
    pub upstream_id: String,
    /// Its display name.
    pub name: String,
    /// The subject at the upstream.
    pub subject: String,
    /// The e-mail the upstream gave, and whether it verified it.
    pub email: Option<String>,
    /// See `email`.
    pub email_verified: bool,
}

/// An upstream access token.
#[derive(Debug, Clone)]
pub struct UpstreamAccess {
    /// The `[[upstream]]` block's id.
    pub upstream_id: String,
    /// The token (redacted in `Debug`).
    pub access_token: Secret,
    /// When it expires, if the upstream said.
    pub expires_at: Option<UnixTime>,
    /// Its scope, if the upstream said.
    pub scope: Option<String>,
}

/// Why there is no upstream account or token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FederationError {
    /// The caller did not sign in through an upstream (or the grant was revoked).
    #[error("the caller did not sign in through an identity provider")]
    NotFederated,
    /// The upstream token expired and could not be refreshed.
    #[error("{0}")]
    Expired(String),
    /// The upstream or the store could not be reached.
    #[error("{0}")]
    Unavailable(String),
}

fn grant_of(claims: &Value) -> Result<&str, FederationError> {
    claims
        .get(GRANT_CLAIM)
        .and_then(Value::as_str)
        .ok_or(FederationError::NotFederated)
}

/// The upstream account the caller of these claims signed in with.
pub async fn upstream_account(
    state: &AppState,
    claims: &Value,
) -> Result<UpstreamAccount, FederationError> {
    let gid = grant_of(claims)?;
    let unavailable = |e: crate::store::StoreError| FederationError::Unavailable(e.to_string());
    let kept = state
        .store()
        .get_grant_upstream_tokens(gid)
        .await
        .map_err(unavailable)?
        .ok_or(FederationError::NotFederated)?;
    let user = claims
        .get("sub")
        .and_then(Value::as_str)
        .ok_or(FederationError::NotFederated)?;
    let link = state
        .store()
        .user_upstream_links(user)
        .await
        .map_err(unavailable)?
        .into_iter()
        .find(|l| l.upstream_id == kept.upstream_id)
        .ok_or(FederationError::NotFederated)?;
    let name = state.upstreams().get(&link.upstream_id).map_or_else(
        || link.upstream_id.clone(),
        |u| u.config.display_name().to_owned(),
    );
    Ok(UpstreamAccount {
        upstream_id: link.upstream_id,
        name,
        subject: link.subject,
        email: link.email,
        email_verified: link.email_verified,
    })
}

/// The caller's access token at `upstream_id`.
pub async fn upstream_token(
    state: &AppState,
    claims: &Value,
    upstream_id: &str,
) -> Result<UpstreamAccess, FederationError> {
    token_for_grant(state, grant_of(claims)?, upstream_id).await
}

/// The upstream access token kept with grant `gid` (the grant of a verified access token).
pub(crate) async fn token_for_grant(
    state: &AppState,
    gid: &str,
    upstream_id: &str,
) -> Result<UpstreamAccess, FederationError> {
    let upstream = state
        .upstreams()
        .get(upstream_id)
        .ok_or(FederationError::NotFederated)?;
    let now = state.now();
    let tokens = crate::upstream::current(
        state.store().as_ref(),
        state.upstreams(),
        gid,
        upstream,
        now,
    )
    .await
    .map_err(|e| match e {
        KeptError::None => FederationError::NotFederated,
        KeptError::Expired(m) => FederationError::Expired(m),
        KeptError::Unavailable(m) | KeptError::Internal(m) => FederationError::Unavailable(m),
    })?;
    Ok(UpstreamAccess {
        upstream_id: upstream_id.to_owned(),
        access_token: tokens.access_token,
        expires_at: tokens.expires_at,
        scope: tokens.scope,
    })
}
