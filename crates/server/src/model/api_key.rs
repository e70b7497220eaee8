//! API keys (issue 16): long-lived credentials for scripts and MCP clients without OAuth, bound
//! to one resource and a subset of its scopes, with an expiry. Plain data the store persists;
//! creating, hashing and checking a key is [`crate::api_keys`].

use mcp_oauth_core::ScopeSet;
use mcp_oauth_core::clock::UnixTime;
use serde::{Deserialize, Serialize};

/// One API key. The key itself is never stored: only its HMAC-SHA-256 under a key derived from
/// the KEK ([`crate::api_keys`] says why a keyed hash and not Argon2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Random identifier, for listing and revoking (not secret; also the key's visible prefix).
    pub id: String,
    /// HMAC-SHA-256 (base64url) of the whole key.
    pub key_hash: String,
    /// What it is for, as its creator described it.
    pub label: String,
    /// The user it acts for; `None`: a service key an administrator created.
    pub user_id: Option<String>,
    /// The one resource (audience) it is good for.
    pub resource: String,
    /// The scopes it carries (a subset of the resource's).
    pub scope: ScopeSet,
    /// Creation time.
    pub created_at: UnixTime,
    /// When it stops working.
    pub expires_at: UnixTime,
    /// When it was last accepted.
    pub last_used_at: Option<UnixTime>,
    /// When it was revoked; `None`: not revoked.
    pub revoked_at: Option<UnixTime>,
}

impl ApiKey {
    /// Whether the key is usable at `now`: not revoked and not expired.
    pub fn is_active(&self, now: UnixTime) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}
