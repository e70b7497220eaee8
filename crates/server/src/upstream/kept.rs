//! The upstream's tokens at rest: sealed with the key-encryption key (AES-256-GCM), bound to
//! their row by the code hash as associated data, so a sealed value moved to another row does
//! not open. Never in a log, never in a response to an MCP client.

use super::TokenSet;
use crate::keys::kek::{Kek, KekError};
use crate::model::upstream::UpstreamTokens;
use mcp_oauth_core::clock::UnixTime;
use mcp_oauth_core::secret::Secret;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

#[derive(Serialize, Deserialize)]
struct Plain {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

fn context(code_hash: &str) -> Vec<u8> {
    format!("mcp-oauth upstream tokens v1:{code_hash}").into_bytes()
}

/// Seals `tokens` for the row of `code_hash`.
pub(crate) fn seal(
    kek: &Kek,
    code_hash: &str,
    upstream_id: &str,
    tokens: &TokenSet,
    now: UnixTime,
) -> Result<UpstreamTokens, KekError> {
    let plain = Zeroizing::new(
        serde_json::to_vec(&Plain {
            access_token: tokens.access_token.expose().to_owned(),
            refresh_token: tokens.refresh_token.as_ref().map(|r| r.expose().to_owned()),
            scope: tokens.scope.clone(),
        })
        .map_err(|_| KekError::Encrypt)?,
    );
    Ok(UpstreamTokens {
        code_hash: code_hash.to_owned(),
        grant_id: None,
        upstream_id: upstream_id.to_owned(),
        sealed: kek.encrypt(&context(code_hash), &plain)?,
        expires_at: tokens.expires_at,
        updated_at: now,
    })
}

/// Opens a kept row.
pub(crate) fn open(kek: &Kek, kept: &UpstreamTokens) -> Result<TokenSet, KekError> {
    let plain = kek.decrypt(&context(&kept.code_hash), &kept.sealed)?;
    let p: Plain = serde_json::from_slice(&plain).map_err(|_| KekError::Decrypt)?;
    Ok(TokenSet {
        access_token: Secret::new(p.access_token),
        refresh_token: p.refresh_token.map(Secret::new),
        expires_at: kept.expires_at,
        id_token: None,
        scope: p.scope,
    })
}

/// Why no upstream token can be handed out.
#[derive(Debug, thiserror::Error)]
pub(crate) enum KeptError {
    /// The grant keeps no token of that upstream (signed in otherwise, or revoked).
    #[error("the user did not sign in through this identity provider for this grant")]
    None,
    /// It expired and cannot be refreshed (no refresh token, or the upstream refused).
    #[error("the identity provider's token expired and could not be refreshed: {0}")]
    Expired(String),
    /// The upstream could not be asked.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// Storage or the KEK failed.
    #[error("{0}")]
    Internal(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_bound_to_the_row() {
        let kek = Kek::generate().unwrap();
        let t = TokenSet {
            access_token: Secret::new("at-1"),
            refresh_token: Some(Secret::new("rt-1")),
            expires_at: Some(100),
            id_token: Some("x".into()),
            scope: None,
        };
        let kept = seal(&kek, "code-a", "corp", &t, 5).unwrap();
        assert!(
            !kept.sealed.windows(4).any(|w| w == b"at-1"),
            "not in the clear"
        );
        let back = open(&kek, &kept).unwrap();
        assert_eq!(back.access_token.expose(), "at-1");
        assert_eq!(back.refresh_token.unwrap().expose(), "rt-1");
        let mut moved = kept.clone();
        moved.code_hash = "code-b".into();
        assert!(open(&kek, &moved).is_err(), "moved to another row");
        assert!(open(&Kek::generate().unwrap(), &kept).is_err());
    }
}
