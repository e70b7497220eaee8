//! The grant and first refresh token a redemption creates (authorization code, device code):
//! written by the store in the same transaction that spends the code, which fills the user,
//! resource, scope and auth time from what it spends.

use crate::client_auth::AuthenticatedClient;
use crate::model::{Grant, RefreshToken};
use crate::state::AppState;
use crate::tokens::{bind_refresh_token, new_refresh_token};
use mcp_oauth_core::clock::UnixTime;
use mcp_oauth_core::secret::{random_token, sha256_b64url};
use mcp_oauth_core::token::grant_type;

/// A grant about to be created, with its first refresh token (if the client gets one).
pub(crate) struct NewFamily {
    /// The grant, its user, resource, scope and auth time left for the store to fill.
    pub pending: Grant,
    /// The refresh token as the client will see it.
    pub refresh_plain: Option<String>,
    /// Its stored record.
    pub refresh: Option<RefreshToken>,
}

impl NewFamily {
    /// The family `client` would get at `now`. RFC 9449 §5: a public client's refresh token is
    /// bound to its DPoP key `dpop_jkt` (a confidential client's is bound to its credentials).
    pub(crate) fn new(
        state: &AppState,
        client: &AuthenticatedClient,
        dpop_jkt: Option<&str>,
        now: UnixTime,
    ) -> Self {
        let cfg = state.config();
        let grant_id = random_token(16);
        let issue_refresh =
            cfg.issue_refresh_tokens && client.client.allows_grant(grant_type::REFRESH_TOKEN);
        let refresh_plain = issue_refresh.then(|| match dpop_jkt {
            Some(jkt) if !client.client.is_confidential() => {
                bind_refresh_token(&state.0.refresh_hmac, &new_refresh_token(), jkt)
            }
            _ => new_refresh_token(),
        });
        let refresh = refresh_plain.as_ref().map(|t| RefreshToken {
            token_hash: sha256_b64url(t.as_bytes()),
            grant_id: grant_id.clone(),
            created_at: now,
            expires_at: now + cfg.refresh_token_ttl,
            rotated_at: None,
            successor_hash: None,
        });
        let pending = Grant {
            id: grant_id,
            client_id: client.client.client_id.clone(),
            user_id: None,
            resource: String::new(),
            scope: Default::default(),
            auth_time: None,
            created_at: now,
            expires_at: now + cfg.refresh_family_ttl,
            revoked_at: None,
        };
        Self {
            pending,
            refresh_plain,
            refresh,
        }
    }
}
