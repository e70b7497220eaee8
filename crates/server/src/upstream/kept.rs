//! The upstream's tokens at rest: sealed with the key-encryption key (AES-256-GCM), bound to
//! their row by the code hash as associated data, so a sealed value moved to another row does
//! not open. Never in a log, never in a response to an MCP client.

use super::TokenSet;
use crate::keys::kek::{Kek, KekError};
use crate::model::upstream::UpstreamTokens;
use mcp_oauth_core::clock::UnixTime;
use mcp_oauth_core::secret::Secret;
use serde::{Deserialize, Serialize};
use std::time::Duration;
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

/// How close to its expiry an upstream access token is refreshed before being handed out.
const REFRESH_MARGIN: i64 = 60;

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

/// The upstream token of `grant_id` at `upstream`: as kept, or refreshed first when it expires
/// within a minute (the refreshed tokens replace the kept ones).
pub(crate) async fn current(
    store: &dyn crate::store::Store,
    upstreams: &super::Upstreams,
    grant_id: &str,
    upstream: &super::Upstream,
    now: UnixTime,
) -> Result<TokenSet, KeptError> {
    if let Some(t) = fresh_enough(store, upstreams, grant_id, upstream, now).await? {
        return Ok(t);
    }
    // One refresh per grant at a time: a provider that rotates refresh tokens would take a
    // second use of the same one for theft (and may revoke the family). In this process, a
    // lock; across the instances on one database, the store's lease.
    let gate = upstreams.refresh_gate(grant_id);
    let result = {
        let _turn = gate.lock().await;
        refresh_once(store, upstreams, grant_id, upstream, now).await
    };
    upstreams.release_gate(grant_id, gate);
    result
}

/// How long a refresh lease is held at most (a holder that died gives it up then).
const LEASE: i64 = 30;
/// How long an instance waits for another's refresh before giving up, and how often it looks.
const LEASE_WAIT: Duration = Duration::from_secs(15);
const LEASE_POLL: Duration = Duration::from_millis(100);

/// Refreshes under the store's lease, or waits for the instance that holds it and takes the
/// tokens it kept.
async fn refresh_once(
    store: &dyn crate::store::Store,
    upstreams: &super::Upstreams,
    grant_id: &str,
    upstream: &super::Upstream,
    now: UnixTime,
) -> Result<TokenSet, KeptError> {
    let internal = |e: &dyn std::fmt::Display| KeptError::Internal(e.to_string());
    let deadline = tokio::time::Instant::now() + LEASE_WAIT;
    loop {
        if let Some(t) = fresh_enough(store, upstreams, grant_id, upstream, now).await? {
            return Ok(t);
        }
        if store
            .claim_upstream_refresh(grant_id, now, now + LEASE)
            .await
            .map_err(|e| internal(&e))?
        {
            let refreshed = refresh(store, upstreams, grant_id, upstream, now).await;
            if let Err(e) = store.release_upstream_refresh(grant_id).await {
                tracing::warn!(target: "mcp_oauth::upstream", error = %e, "releasing an upstream refresh lease failed (it expires by itself)");
            }
            return refreshed;
        }
        // The claim fails for tokens gone too (revoked meanwhile): tell that apart.
        kept_of(store, grant_id, upstream).await?;
        if tokio::time::Instant::now() >= deadline {
            return Err(KeptError::Unavailable(
                "another instance is refreshing this token and has not finished".into(),
            ));
        }
        tokio::time::sleep(LEASE_POLL).await;
    }
}

async fn kept_of(
    store: &dyn crate::store::Store,
    grant_id: &str,
    upstream: &super::Upstream,
) -> Result<UpstreamTokens, KeptError> {
    store
        .get_grant_upstream_tokens(grant_id)
        .await
        .map_err(|e| KeptError::Internal(e.to_string()))?
        .filter(|k| k.upstream_id == upstream.config.id)
        .ok_or(KeptError::None)
}

/// The kept tokens, if they do not expire within the margin.
async fn fresh_enough(
    store: &dyn crate::store::Store,
    upstreams: &super::Upstreams,
    grant_id: &str,
    upstream: &super::Upstream,
    now: UnixTime,
) -> Result<Option<TokenSet>, KeptError> {
    let kept = kept_of(store, grant_id, upstream).await?;
    if kept.expires_at.is_some_and(|e| e <= now + REFRESH_MARGIN) {
        return Ok(None);
    }
    open(upstreams.kek(), &kept)
        .map(Some)
        .map_err(|e| KeptError::Internal(e.to_string()))
}

/// Refreshes the kept tokens at the upstream and keeps the new ones.
async fn refresh(
    store: &dyn crate::store::Store,
    upstreams: &super::Upstreams,
    grant_id: &str,
    upstream: &super::Upstream,
    now: UnixTime,
) -> Result<TokenSet, KeptError> {
    let internal = |e: &dyn std::fmt::Display| KeptError::Internal(e.to_string());
    let kept = kept_of(store, grant_id, upstream).await?;
    let tokens = open(upstreams.kek(), &kept).map_err(|e| internal(&e))?;
    let Some(rt) = &tokens.refresh_token else {
        return Err(KeptError::Expired("no refresh token was issued".into()));
    };
    let endpoints = upstream
        .endpoints(now)
        .await
        .map_err(|e| KeptError::Unavailable(e.to_string()))?;
    let mut fresh = match upstream.refresh(&endpoints.token, rt.expose(), now).await {
        Ok(t) => t,
        Err(e @ super::UpstreamError::Refused { .. }) => {
            return Err(KeptError::Expired(e.to_string()));
        }
        Err(e) => return Err(KeptError::Unavailable(e.to_string())),
    };
    // A provider that does not rotate refresh tokens keeps the old one valid.
    if fresh.refresh_token.is_none() {
        fresh.refresh_token = tokens.refresh_token.clone();
    }
    let mut resealed = seal(
        upstreams.kek(),
        &kept.code_hash,
        &kept.upstream_id,
        &fresh,
        now,
    )
    .map_err(|e| internal(&e))?;
    resealed.grant_id = kept.grant_id.clone();
    if !store
        .update_grant_upstream_tokens(&resealed)
        .await
        .map_err(|e| internal(&e))?
    {
        return Err(KeptError::None);
    }
    Ok(fresh)
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
