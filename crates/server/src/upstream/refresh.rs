//! The upstream token handed out: as kept, or refreshed first when it is about to expire, one
//! refresh per grant at a time (a provider that rotates refresh tokens takes a second use of
//! the same one for theft, and may revoke the family): a lock in this process, and across the
//! instances on one database the store's lease; whoever does not refresh waits and takes the
//! tokens the refresh kept.

use super::kept::{KeptError, open, seal};
use super::{TokenSet, Upstream, UpstreamError, Upstreams};
use crate::model::upstream::UpstreamTokens;
use crate::store::Store;
use mcp_oauth_core::clock::UnixTime;
use std::time::Duration;

/// How close to its expiry an upstream access token is refreshed before being handed out.
const REFRESH_MARGIN: i64 = 60;

/// How long a refresh lease is held at most (a holder that died gives it up then).
const LEASE: i64 = 30;
/// How long an instance waits for another's refresh before giving up, and how often it looks.
const LEASE_WAIT: Duration = Duration::from_secs(15);
const LEASE_POLL: Duration = Duration::from_millis(100);

/// The upstream token of `grant_id` at `upstream`: as kept, or refreshed first when it expires
/// within a minute (the refreshed tokens replace the kept ones).
pub(crate) async fn current(
    store: &dyn Store,
    upstreams: &Upstreams,
    grant_id: &str,
    upstream: &Upstream,
    now: UnixTime,
) -> Result<TokenSet, KeptError> {
    let slot = Slot {
        store,
        upstreams,
        grant_id,
        upstream,
        now,
    };
    if let Some(t) = slot.fresh_enough().await? {
        return Ok(t);
    }
    let gate = upstreams.refresh_gate(grant_id);
    let result = {
        let _turn = gate.lock().await;
        slot.refresh_once().await
    };
    upstreams.release_gate(grant_id, gate);
    result
}

fn internal(e: &dyn std::fmt::Display) -> KeptError {
    KeptError::Internal(e.to_string())
}

/// One grant's kept tokens at one upstream, now: what each step works on.
struct Slot<'a> {
    store: &'a dyn Store,
    upstreams: &'a Upstreams,
    grant_id: &'a str,
    upstream: &'a Upstream,
    now: UnixTime,
}

impl Slot<'_> {
    /// Refreshes under the store's lease, or waits for the instance that holds it and takes
    /// the tokens it kept.
    async fn refresh_once(&self) -> Result<TokenSet, KeptError> {
        let (store, grant_id, now) = (self.store, self.grant_id, self.now);
        let deadline = tokio::time::Instant::now() + LEASE_WAIT;
        loop {
            if let Some(t) = self.fresh_enough().await? {
                return Ok(t);
            }
            if store
                .claim_upstream_refresh(grant_id, now, now + LEASE)
                .await
                .map_err(|e| internal(&e))?
            {
                let refreshed = self.refresh().await;
                if let Err(e) = store.release_upstream_refresh(grant_id).await {
                    tracing::warn!(target: "mcp_oauth::upstream", error = %e, "releasing an upstream refresh lease failed (it expires by itself)");
                }
                return refreshed;
            }
            // The claim fails for tokens gone too (revoked meanwhile): tell that apart.
            self.kept().await?;
            if tokio::time::Instant::now() >= deadline {
                return Err(KeptError::Unavailable(
                    "another instance is refreshing this token and has not finished".into(),
                ));
            }
            tokio::time::sleep(LEASE_POLL).await;
        }
    }

    async fn kept(&self) -> Result<UpstreamTokens, KeptError> {
        self.store
            .get_grant_upstream_tokens(self.grant_id)
            .await
            .map_err(|e| internal(&e))?
            .filter(|k| k.upstream_id == self.upstream.config.id)
            .ok_or(KeptError::None)
    }

    /// The kept tokens, if they do not expire within the margin.
    async fn fresh_enough(&self) -> Result<Option<TokenSet>, KeptError> {
        let kept = self.kept().await?;
        if kept
            .expires_at
            .is_some_and(|e| e <= self.now + REFRESH_MARGIN)
        {
            return Ok(None);
        }
        open(self.upstreams.kek(), &kept)
            .map(Some)
            .map_err(|e| internal(&e))
    }

    /// Refreshes the kept tokens at the upstream and keeps the new ones.
    async fn refresh(&self) -> Result<TokenSet, KeptError> {
        let (upstream, now) = (self.upstream, self.now);
        let kept = self.kept().await?;
        let tokens = open(self.upstreams.kek(), &kept).map_err(|e| internal(&e))?;
        let Some(rt) = &tokens.refresh_token else {
            return Err(KeptError::Expired("no refresh token was issued".into()));
        };
        let endpoints = upstream
            .endpoints(now)
            .await
            .map_err(|e| KeptError::Unavailable(e.to_string()))?;
        let mut fresh = match upstream.refresh(&endpoints.token, rt.expose(), now).await {
            Ok(t) => t,
            Err(e @ UpstreamError::Refused { .. }) => {
                return Err(KeptError::Expired(e.to_string()));
            }
            Err(e) => return Err(KeptError::Unavailable(e.to_string())),
        };
        // A provider that does not rotate refresh tokens keeps the old one valid.
        if fresh.refresh_token.is_none() {
            fresh.refresh_token = tokens.refresh_token.clone();
        }
        let mut resealed = seal(
            self.upstreams.kek(),
            &kept.code_hash,
            &kept.upstream_id,
            &fresh,
            now,
        )
        .map_err(|e| internal(&e))?;
        resealed.grant_id = kept.grant_id.clone();
        if !self
            .store
            .update_grant_upstream_tokens(&resealed)
            .await
            .map_err(|e| internal(&e))?
        {
            return Err(KeptError::None);
        }
        Ok(fresh)
    }
}
