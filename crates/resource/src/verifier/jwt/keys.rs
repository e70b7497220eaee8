//! The issuer's key set: loaded from its JWKS (discovered from its metadata unless configured),
//! reloaded after `jwks_max_age` without making requests wait, refetched at most once per
//! `refetch_interval` for an unknown `kid`, and backed off for a few seconds after a failure.

use super::Inner;
use crate::error::VerifyError;
use crate::verifier::fetch::Http;
use mcp_oauth_core::clock::UnixTime;
use mcp_oauth_core::jose::Jwk;
use mcp_oauth_core::jws::{JwkKey, VerifyingKey};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

/// Seconds after a failed key fetch before another is tried for requests that have no keys at
/// all; they get `503` meanwhile instead of each waiting for a timeout.
const FAILURE_BACKOFF: i64 = 5;

/// Keys beyond this many in one JWKS are ignored: real sets hold a handful.
const MAX_KEYS: usize = 64;

#[derive(Debug)]
pub(super) struct Remote {
    pub(super) http: Http,
    /// Configured, skipping discovery.
    pub(super) jwks_uri: Option<String>,
}

#[derive(Debug, Default)]
pub(super) struct KeyState {
    pub(super) keys: Arc<Vec<JwkKey>>,
    pub(super) loaded: bool,
    pub(super) fetched_at: Option<UnixTime>,
    pub(super) last_kid_refetch: Option<UnixTime>,
    pub(super) last_failure: Option<UnixTime>,
    pub(super) discovered_jwks_uri: Option<String>,
}

impl Inner {
    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, KeyState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, KeyState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The keys to try for a token with `kid`: loads them if needed, and refetches once (rate
    /// limited) when the `kid` is unknown.
    pub(super) async fn keys_for(
        &self,
        kid: Option<&str>,
    ) -> Result<Arc<Vec<JwkKey>>, VerifyError> {
        let now = self.clock.now();
        let (keys, loaded, stale) = {
            let s = self.read_state();
            let stale = self.remote.is_some()
                && s.fetched_at
                    .is_some_and(|t| now.saturating_sub(t) >= self.jwks_max_age);
            (s.keys.clone(), s.loaded, stale)
        };
        let (keys, just_loaded) = if !loaded {
            (self.load(false).await?, true)
        } else if stale {
            (self.refresh_stale(keys).await, false)
        } else {
            (keys, false)
        };
        match kid {
            Some(kid) if !just_loaded && !keys.iter().any(|k| k.kid() == Some(kid)) => {
                Ok(self.refetch_for_unknown_kid(kid).await)
            }
            _ => Ok(keys),
        }
    }

    /// Loads keys when there are none (or when `force`d), waiting for a fetch in progress.
    pub(super) async fn load(&self, force: bool) -> Result<Arc<Vec<JwkKey>>, VerifyError> {
        let Some(remote) = &self.remote else {
            return Ok(self.read_state().keys.clone());
        };
        let _guard = self.fetch_lock.lock().await;
        let now = self.clock.now();
        {
            let s = self.read_state();
            if s.loaded && !force {
                return Ok(s.keys.clone());
            }
            if !force
                && s.last_failure
                    .is_some_and(|t| now.saturating_sub(t) < FAILURE_BACKOFF)
            {
                return Err(VerifyError::unavailable(format!(
                    "keys of issuer `{}` could not be loaded recently",
                    self.issuer
                )));
            }
        }
        match self.fetch(remote).await {
            Ok(entries) => Ok(self.store(entries, now)),
            Err(e) => {
                tracing::warn!(target: "mcp_oauth::resource", issuer = %self.issuer, error = %e, "loading the issuer's keys failed");
                let mut s = self.write_state();
                s.last_failure = Some(now);
                if s.loaded && !force {
                    Ok(s.keys.clone())
                } else {
                    Err(VerifyError::unavailable(e))
                }
            }
        }
    }

    /// Refreshes an expired key set without making requests wait: if another request is already
    /// fetching, the current keys are used. A failed refresh keeps the old keys.
    async fn refresh_stale(&self, current: Arc<Vec<JwkKey>>) -> Arc<Vec<JwkKey>> {
        let Some(remote) = &self.remote else {
            return current;
        };
        let Ok(_guard) = self.fetch_lock.try_lock() else {
            return current;
        };
        let now = self.clock.now();
        {
            let s = self.read_state();
            let fresh = s
                .fetched_at
                .is_some_and(|t| now.saturating_sub(t) < self.jwks_max_age);
            let backing_off = s
                .last_failure
                .is_some_and(|t| now.saturating_sub(t) < FAILURE_BACKOFF);
            if fresh || backing_off {
                return s.keys.clone();
            }
        }
        match self.fetch(remote).await {
            Ok(entries) => self.store(entries, now),
            Err(e) => {
                tracing::warn!(target: "mcp_oauth::resource", issuer = %self.issuer, error = %e, "refreshing the issuer's keys failed; keeping the old ones");
                let mut s = self.write_state();
                s.last_failure = Some(now);
                s.keys.clone()
            }
        }
    }

    /// One refetch for an unknown `kid`, at most once per `refetch_interval`. Requests that
    /// arrive during the fetch wait for it and then see the new keys.
    async fn refetch_for_unknown_kid(&self, kid: &str) -> Arc<Vec<JwkKey>> {
        let Some(remote) = &self.remote else {
            return self.read_state().keys.clone();
        };
        let _guard = self.fetch_lock.lock().await;
        let now = self.clock.now();
        {
            let mut s = self.write_state();
            if s.keys.iter().any(|k| k.kid() == Some(kid)) {
                return s.keys.clone();
            }
            if s.last_kid_refetch
                .is_some_and(|t| now.saturating_sub(t) < self.refetch_interval)
            {
                tracing::debug!(target: "mcp_oauth::resource", issuer = %self.issuer, "unknown kid; JWKS refetch rate-limited");
                return s.keys.clone();
            }
            s.last_kid_refetch = Some(now);
        }
        match self.fetch(remote).await {
            Ok(entries) => self.store(entries, now),
            Err(e) => {
                tracing::warn!(target: "mcp_oauth::resource", issuer = %self.issuer, error = %e, "refetching the issuer's keys failed");
                self.read_state().keys.clone()
            }
        }
    }

    fn store(&self, entries: Vec<JwkKey>, now: UnixTime) -> Arc<Vec<JwkKey>> {
        let keys = Arc::new(entries);
        let mut s = self.write_state();
        s.keys = keys.clone();
        s.loaded = true;
        s.fetched_at = Some(now);
        s.last_failure = None;
        keys
    }

    async fn fetch(&self, remote: &Remote) -> Result<Vec<JwkKey>, String> {
        let discovered = self.read_state().discovered_jwks_uri.clone();
        let uri = match remote.jwks_uri.clone().or(discovered) {
            Some(u) => u,
            None => {
                let meta = remote
                    .http
                    .discover(&self.issuer)
                    .await
                    .map_err(|e| e.to_string())?;
                let uri = meta
                    .jwks_uri
                    .ok_or_else(|| format!("metadata of `{}` has no jwks_uri", self.issuer))?;
                remote
                    .http
                    .check_url(&uri)
                    .map_err(|e| format!("jwks_uri refused: {e}"))?;
                self.write_state().discovered_jwks_uri = Some(uri.clone());
                uri
            }
        };
        #[derive(Deserialize)]
        struct RawSet {
            keys: Vec<Value>,
        }
        match remote.http.get_json::<RawSet>(&uri).await {
            Ok(set) => {
                let jwks: Vec<Jwk> = set
                    .keys
                    .into_iter()
                    .take(MAX_KEYS)
                    .filter_map(|k| serde_json::from_value(k).ok())
                    .collect();
                Ok(key_entries(&jwks))
            }
            Err(e) => {
                // Discover again next time: the issuer may have moved its JWKS.
                if remote.jwks_uri.is_none() {
                    self.write_state().discovered_jwks_uri = None;
                }
                Err(format!("{uri}: {e}"))
            }
        }
    }
}

/// Usable verification keys of a set (at most [`MAX_KEYS`]): signature keys (no `use`, or
/// `use: sig`) that are not symmetric. Keys of unknown type were already dropped when the set
/// was read.
pub(super) fn key_entries(jwks: &[Jwk]) -> Vec<JwkKey> {
    JwkKey::set(jwks, MAX_KEYS)
}
