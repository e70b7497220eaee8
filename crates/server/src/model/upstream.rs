//! The records of federated login (`crate::upstream`).

use mcp_oauth_core::clock::UnixTime;
use serde::{Deserialize, Serialize};

/// A sign-in sent to an upstream and not yet back: what the callback needs to finish it and to
/// know it is the same browser and the same request. Keyed by the SHA-256 of its `state`;
/// consumed once ([`crate::store::UpstreamStore::take_upstream_login`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamLogin {
    /// SHA-256 (base64url) of the `state` sent upstream.
    pub state_hash: String,
    /// The block it was sent to: the callback must be that block's.
    pub upstream_id: String,
    /// SHA-256 of the browser session id that started it (the binding to the browser).
    pub session_hash: String,
    /// What the sign-in is for: finished at the callback.
    pub target: SignInFor,
    /// Our PKCE verifier for the upstream, sealed with the KEK (context: the state hash).
    pub sealed_verifier: Vec<u8>,
    /// The OpenID `nonce` sent (it comes back inside the signed ID token).
    pub nonce: String,
    /// Creation time.
    pub created_at: UnixTime,
    /// Expiry (ten minutes: a person signing in at the provider).
    pub expires_at: UnixTime,
}

/// What an upstream sign-in finishes, once the provider says who signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignInFor {
    /// Our own pending `/authorize` request (its query), validated again at the callback, which
    /// then issues its code.
    Authorization {
        /// The request's query string.
        query: String,
    },
    /// A device authorization (RFC 8628) the person confirmed on the device page, by the HMAC
    /// of its user code: the callback approves it for the account that signed in.
    Device {
        /// [`crate::device::user_code_hash`] of the code.
        user_code_hash: String,
    },
}

/// An upstream account linked to a local user: (upstream, subject) is unique, and a user may
/// have several links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamLink {
    /// The `[[upstream]]` block's id.
    pub upstream_id: String,
    /// The subject at that upstream.
    pub subject: String,
    /// The local user.
    pub user_id: String,
    /// The e-mail the upstream gave at the last sign-in.
    pub email: Option<String>,
    /// Whether the upstream said it verified it.
    pub email_verified: bool,
    /// When the link was made.
    pub created_at: UnixTime,
}

/// The upstream's tokens, kept for the MCP server (token exchange), sealed with the KEK: first
/// with the authorization code they came with, then with the grant the code produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamTokens {
    /// SHA-256 of the code the sign-in issued (the key until the code is redeemed).
    pub code_hash: String,
    /// The grant, once the code was redeemed.
    pub grant_id: Option<String>,
    /// The block.
    pub upstream_id: String,
    /// The access token, refresh token and expiry, as JSON, sealed (context: the code hash).
    pub sealed: Vec<u8>,
    /// When the upstream access token expires, if known.
    pub expires_at: Option<UnixTime>,
    /// When these were stored (or last refreshed).
    pub updated_at: UnixTime,
}

impl UpstreamTokens {
    /// A row of the revocation queue: only what revoking at the provider needs.
    pub fn queued(code_hash: String, upstream_id: String, sealed: Vec<u8>) -> Self {
        Self {
            code_hash,
            grant_id: None,
            upstream_id,
            sealed,
            expires_at: None,
            updated_at: 0,
        }
    }
}
