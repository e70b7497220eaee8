//! The public keys of `private_key_jwt` clients: what a JWK Set must look like to be accepted
//! (at registration, and when fetched), and the cache of sets fetched from `jwks_uri`.
//!
//! Only asymmetric public keys: a symmetric (`oct`) key would turn the registered "public key"
//! into a shared secret, and a key carrying private parameters (`d`, `p`, `q`, …) shows the
//! client leaked its private key into its metadata.
//!
//! A `jwks_uri` is fetched with the SSRF-safe fetcher, cached as its `Cache-Control` says within
//! the document-cache bounds, and fetched again early only when an assertion names a `kid` the
//! cached set lacks (a key rollover), at most once per `jwks_refetch_interval`. A failed fetch
//! is not retried within that interval either, so bad assertions cannot make the server fetch
//! on their behalf.

use crate::bounded::BoundedMap;
use crate::config::ServerConfig;
use crate::fetch::SafeFetcher;
use mcp_oauth_core::clock::UnixTime;
use mcp_oauth_core::jose::{JwkSet, decoding_key};
use mcp_oauth_core::jws::JwkKey;
use serde_json::Value;
use std::sync::Arc;

/// The largest JWK Set fetched, in bytes (ten RSA-4096 keys fit).
pub const MAX_JWKS_BYTES: usize = 32 * 1024;

/// Most sets kept at once.
const MAX_ENTRIES: usize = 10_000;

/// Most keys a client may register: rollover needs two, a few more are harmless.
pub const MAX_KEYS: usize = 10;

/// JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// Parses and checks a JWK Set given by value. The error says what is wrong, for an
/// `invalid_client_metadata` description or an administrator.
pub fn parse_public_jwks(v: &Value) -> Result<JwkSet, String> {
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("jwks must be a JWK Set: an object with a `keys` array")?;
    if keys.is_empty() {
        return Err("jwks contains no keys".into());
    }
    if keys.len() > MAX_KEYS {
        return Err(format!("jwks may hold at most {MAX_KEYS} keys"));
    }
    for k in keys {
        let obj = k
            .as_object()
            .ok_or("every key in jwks must be a JSON object")?;
        if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
            return Err("jwks must contain public keys only (a key has private parameters)".into());
        }
    }
    let set: JwkSet = serde_json::from_value(v.clone())
        .map_err(|e| format!("jwks is not a valid JWK Set: {e}"))?;
    for jwk in &set.keys {
        decoding_key(jwk).map_err(|e| format!("jwks holds an unusable key: {e}"))?;
    }
    Ok(set)
}

/// The verification keys of a JWK Set given by value, checked by [`parse_public_jwks`].
pub fn public_keys(v: &Value) -> Result<Vec<JwkKey>, String> {
    let set = parse_public_jwks(v)?;
    Ok(JwkKey::set(&set.keys, MAX_KEYS))
}

#[derive(Debug, Clone)]
struct Entry {
    /// The set's verification keys, if the last fetch succeeded.
    keys: Option<Arc<Vec<JwkKey>>>,
    /// When it was last fetched (or tried).
    fetched_at: UnixTime,
    /// Until when the set may be used without fetching again.
    expires_at: UnixTime,
}

/// Fetched JWK Sets by URL.
#[derive(Debug)]
pub struct JwksCache {
    entries: BoundedMap<Entry>,
}

impl Default for JwksCache {
    fn default() -> Self {
        Self {
            entries: BoundedMap::new(MAX_ENTRIES),
        }
    }
}

impl JwksCache {
    /// The keys published at `uri`, fetched with `fetcher`, at the time `now`. `refresh`: the
    /// caller met an unknown `kid` and wants a fresh copy, which it gets if the last fetch is at
    /// least `jwks_refetch_interval` old. `config` gives that interval and the cache bounds.
    pub async fn get(
        &self,
        fetcher: &SafeFetcher,
        config: &ServerConfig,
        now: UnixTime,
        uri: &str,
        refresh: bool,
    ) -> Result<Arc<Vec<JwkKey>>, String> {
        let interval = config.jwks_refetch_interval;
        let cached = self.entries.read(uri, |e| Some(e.clone()));
        if let Some(e) = &cached {
            let may_refetch = now - e.fetched_at >= interval;
            match &e.keys {
                Some(keys) if e.expires_at > now && !(refresh && may_refetch) => {
                    return Ok(keys.clone());
                }
                None if !may_refetch => {
                    return Err(
                        "the client's jwks_uri failed recently; not fetched again yet".into(),
                    );
                }
                Some(keys) if !may_refetch => return Ok(keys.clone()),
                _ => {}
            }
        }
        let result = Self::fetch(fetcher, config, uri).await;
        let previous = cached.and_then(|e| e.keys.map(|k| (k, e.expires_at)));
        let (entry, answer) = match result {
            Ok((keys, ttl)) => (
                Entry {
                    keys: Some(keys.clone()),
                    fetched_at: now,
                    expires_at: now + ttl,
                },
                Ok(keys),
            ),
            // Keep what was known (a failed early refetch does not forget good keys), and
            // remember the attempt so the next one waits for the interval.
            Err(e) => match previous {
                Some((keys, expires_at)) => (
                    Entry {
                        keys: Some(keys.clone()),
                        fetched_at: now,
                        expires_at,
                    },
                    Ok(keys),
                ),
                None => (
                    Entry {
                        keys: None,
                        fetched_at: now,
                        expires_at: now,
                    },
                    Err(e),
                ),
            },
        };
        self.entries.insert(uri, entry, |e| {
            e.expires_at > now || now - e.fetched_at < interval
        });
        answer
    }

    async fn fetch(
        fetcher: &SafeFetcher,
        config: &ServerConfig,
        uri: &str,
    ) -> Result<(Arc<Vec<JwkKey>>, i64), String> {
        let fetched = fetcher
            .get_json(uri, MAX_JWKS_BYTES)
            .await
            .map_err(|e| {
                tracing::warn!(target: "mcp_oauth::client_keys", %uri, error = %e, "fetching a client's jwks_uri failed");
                format!("the client's jwks_uri could not be fetched: {e}")
            })?;
        let value: Value = serde_json::from_slice(&fetched.body)
            .map_err(|_| "the client's jwks_uri is not valid JSON".to_owned())?;
        let keys = public_keys(&value).map_err(|e| format!("the client's jwks_uri: {e}"))?;
        // `no-store` still keeps the set for the refetch interval: every request fetching it
        // would let anyone with a bad assertion drive the server's fetches.
        let ttl = fetched
            .cache
            .ttl(config.cimd_cache_min_ttl, config.cimd_cache_max_ttl)
            .unwrap_or(config.jwks_refetch_interval);
        Ok((Arc::new(keys), ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_oauth_core::jose::{Algorithm, SigningKey};

    #[test]
    fn accepts_public_keys_only() {
        let k = SigningKey::generate(Algorithm::ES256).unwrap();
        let good = serde_json::json!({ "keys": [k.public_jwk()] });
        assert_eq!(parse_public_jwks(&good).unwrap().keys.len(), 1);
        let mut private = serde_json::to_value(k.public_jwk()).unwrap();
        private["d"] = "secret".into();
        assert!(parse_public_jwks(&serde_json::json!({ "keys": [private] })).is_err());
        let oct = serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        assert!(parse_public_jwks(&oct).is_err());
        assert!(parse_public_jwks(&serde_json::json!({"keys": []})).is_err());
        assert!(parse_public_jwks(&serde_json::json!([])).is_err());
        assert!(parse_public_jwks(&serde_json::json!({"keys": [1]})).is_err());
    }
}
