//! Signing keys: created at first start, persisted with the private part encrypted under the
//! KEK, published in the JWKS, and chosen for signing by their activation time.
//!
//! A key is published from its `created_at` and signs from its `activates_at`, so a rotation can
//! publish the next key before it signs (resource servers that cache the JWKS then already know
//! it). A retired key stays published until it is deleted, which must wait until every token it
//! signed has expired.

pub mod kek;

use crate::model::StoredKey;
use crate::store::{Store, StoreError};
use kek::{Kek, KekError};
use mcp_oauth_core::clock::UnixTime;
use mcp_oauth_core::jose::{Algorithm, DecodingKey, JoseError, JwkSet, SigningKey, algorithm_name};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Seconds a retired key stays published beyond its last token's lifetime: covers instances
/// that still sign with it until their next key reload (60 s by default) and clock skew.
pub const DELETE_LEEWAY: i64 = 300;

/// Why keys could not be loaded or made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The KEK does not open a stored key.
    #[error(transparent)]
    Kek(#[from] KekError),
    /// Key material is unusable.
    #[error(transparent)]
    Jose(#[from] JoseError),
    /// A stored key names an algorithm we do not sign with.
    #[error("stored key {0} has unsupported algorithm {1}")]
    Algorithm(String, String),
}

/// The keys in force at one moment.
pub struct KeyRing {
    /// The key that signs new tokens.
    pub signer: Arc<SigningKey>,
    /// Every published key by kid, for verifying our own tokens (introspection, revocation).
    pub verifiers: HashMap<String, (Algorithm, DecodingKey)>,
    /// The JWKS document, serialised once.
    pub jwks_json: bytes::Bytes,
    /// Metadata of all keys, for `keys list`.
    pub keys: Vec<StoredKey>,
}

/// Loads, creates and serves signing keys.
pub struct KeyManager {
    store: Arc<dyn Store>,
    kek: Arc<Kek>,
    alg: Algorithm,
    ring: RwLock<Arc<KeyRing>>,
}

impl std::fmt::Debug for KeyManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyManager")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn parse_alg(kid: &str, name: &str) -> Result<Algorithm, KeyError> {
    mcp_oauth_core::jose::parse_signing_algorithm(name)
        .ok_or_else(|| KeyError::Algorithm(kid.to_owned(), name.to_owned()))
}

impl KeyManager {
    /// Loads the keys, creating a first key for `alg` when none can sign.
    pub async fn load(
        store: Arc<dyn Store>,
        kek: Arc<Kek>,
        alg: Algorithm,
        now: UnixTime,
    ) -> Result<Self, KeyError> {
        let ring = Self::build_ring(&store, &kek, alg, now).await?;
        let ring = match ring {
            Some(r) => r,
            None => {
                Self::create_key(&store, &kek, alg, now, now).await?;
                Self::build_ring(&store, &kek, alg, now)
                    .await?
                    .ok_or_else(|| KeyError::Algorithm("new".into(), algorithm_name(alg)))?
            }
        };
        Ok(Self {
            store,
            kek,
            alg,
            ring: RwLock::new(Arc::new(ring)),
        })
    }

    /// The keys in force. Cheap: one uncontended read lock and an `Arc` clone.
    pub fn ring(&self) -> Arc<KeyRing> {
        match self.ring.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Re-reads the stored keys (another instance may have rotated) and re-selects the signer.
    pub async fn reload(&self, now: UnixTime) -> Result<(), KeyError> {
        if let Some(ring) = Self::build_ring(&self.store, &self.kek, self.alg, now).await? {
            match self.ring.write() {
                Ok(mut g) => *g = Arc::new(ring),
                Err(poisoned) => *poisoned.into_inner() = Arc::new(ring),
            }
        }
        Ok(())
    }

    /// Creates the next key, published now and signing from `now + prepublish`; the current
    /// signer retires at that moment. Returns the new kid.
    pub async fn rotate(&self, now: UnixTime, prepublish: i64) -> Result<String, KeyError> {
        let activates = now + prepublish.max(0);
        let current = self.ring().signer.kid().to_owned();
        let kid = Self::create_key(&self.store, &self.kek, self.alg, now, activates).await?;
        self.store.retire_key(&current, activates).await?;
        self.reload(now).await?;
        Ok(kid)
    }

    /// The scheduled rotation: when no key was created within the last `interval` seconds,
    /// creates the next key, published now and signing from `now + prepublish`, and retires the
    /// others at that moment, in one store step that only one of several instances on the same
    /// database can win. Returns the new kid, or `None` when no rotation was due (or another
    /// instance rotated first).
    pub async fn rotate_if_due(
        &self,
        now: UnixTime,
        interval: i64,
        prepublish: i64,
    ) -> Result<Option<String>, KeyError> {
        if interval <= 0 {
            return Ok(None);
        }
        let newest = self.ring().keys.iter().map(|k| k.created_at).max();
        if newest.is_some_and(|c| c > now - interval) {
            return Ok(None);
        }
        let stored = Self::make_key(&self.kek, self.alg, now, now + prepublish.max(0)).await?;
        let rotated = self
            .store
            .insert_key_if_none_since(&stored, now - interval)
            .await?;
        if rotated {
            tracing::info!(target: "mcp_oauth::keys", kid = %stored.kid, activates_at = stored.activates_at, "scheduled key rotation");
            crate::audit::record(
                self.store.as_ref(),
                crate::audit::AuditEvent::new(crate::audit::AuditKind::KeyRotated, now).detail(
                    serde_json::json!({"kid": stored.kid, "alg": stored.alg, "activates_at": stored.activates_at, "scheduled": true}),
                ),
            )
            .await;
        }
        self.reload(now).await?;
        Ok(rotated.then_some(stored.kid))
    }

    /// Deletes retired keys once every token they can have signed has expired: retired at `r`,
    /// a key may still sign until the instances reload (`leeway` covers that and clock skew),
    /// and its last token lives `token_ttl` more. A key is never deleted while it would leave no
    /// key that signs now. Returns the deleted kids.
    pub async fn delete_expired(
        &self,
        now: UnixTime,
        token_ttl: i64,
        leeway: i64,
    ) -> Result<Vec<String>, KeyError> {
        let keys = self.store.list_keys().await?;
        let signs_now =
            |k: &StoredKey| k.activates_at <= now && k.retires_at.is_none_or(|r| r > now);
        if !keys.iter().any(signs_now) {
            return Ok(Vec::new());
        }
        let mut deleted = Vec::new();
        for k in keys
            .iter()
            .filter(|k| k.retires_at.is_some_and(|r| r + token_ttl + leeway <= now))
        {
            if self.store.delete_key(&k.kid).await? {
                crate::audit::record(
                    self.store.as_ref(),
                    crate::audit::AuditEvent::new(crate::audit::AuditKind::KeyDeleted, now)
                        .detail(serde_json::json!({"kid": k.kid, "retired_at": k.retires_at})),
                )
                .await;
                deleted.push(k.kid.clone());
            }
        }
        if !deleted.is_empty() {
            tracing::info!(target: "mcp_oauth::keys", deleted = ?deleted, "retired signing keys deleted");
            self.reload(now).await?;
        }
        Ok(deleted)
    }

    async fn make_key(
        kek: &Kek,
        alg: Algorithm,
        now: UnixTime,
        activates_at: UnixTime,
    ) -> Result<StoredKey, KeyError> {
        let key = tokio::task::spawn_blocking(move || SigningKey::generate(alg))
            .await
            .map_err(|_| KeyError::Jose(JoseError::Generate))??;
        let public_jwk = serde_json::to_value(key.public_jwk())
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(StoredKey {
            kid: key.kid().to_owned(),
            alg: algorithm_name(alg),
            encrypted_private_key: kek.encrypt(key.kid().as_bytes(), key.pkcs8_der())?,
            public_jwk,
            created_at: now,
            activates_at,
            retires_at: None,
        })
    }

    async fn create_key(
        store: &Arc<dyn Store>,
        kek: &Kek,
        alg: Algorithm,
        now: UnixTime,
        activates_at: UnixTime,
    ) -> Result<String, KeyError> {
        let stored = Self::make_key(kek, alg, now, activates_at).await?;
        store.insert_key(&stored).await?;
        tracing::info!(target: "mcp_oauth::keys", kid = %stored.kid, alg = %stored.alg, activates_at, "signing key created");
        crate::audit::record(
            store.as_ref(),
            crate::audit::AuditEvent::new(crate::audit::AuditKind::KeyRotated, now).detail(
                serde_json::json!({"kid": stored.kid, "alg": stored.alg, "activates_at": activates_at}),
            ),
        )
        .await;
        Ok(stored.kid)
    }

    async fn build_ring(
        store: &Arc<dyn Store>,
        kek: &Kek,
        alg: Algorithm,
        now: UnixTime,
    ) -> Result<Option<KeyRing>, KeyError> {
        let keys = store.list_keys().await?;
        let mut verifiers = HashMap::new();
        let mut jwks = JwkSet { keys: Vec::new() };
        let mut signer: Option<(&StoredKey, UnixTime)> = None;
        for k in &keys {
            let key_alg = parse_alg(&k.kid, &k.alg)?;
            let jwk: mcp_oauth_core::jose::Jwk = serde_json::from_value(k.public_jwk.clone())
                .map_err(|e| StoreError::Backend(format!("stored JWK {}: {e}", k.kid)))?;
            verifiers.insert(
                k.kid.clone(),
                (key_alg, mcp_oauth_core::jose::decoding_key(&jwk)?),
            );
            jwks.keys.push(jwk);
            let can_sign =
                key_alg == alg && k.activates_at <= now && k.retires_at.is_none_or(|r| r > now);
            if can_sign && signer.is_none_or(|(_, a)| k.activates_at >= a) {
                signer = Some((k, k.activates_at));
            }
        }
        let Some((chosen, _)) = signer else {
            return Ok(None);
        };
        let der = kek.decrypt(chosen.kid.as_bytes(), &chosen.encrypted_private_key)?;
        let signing = SigningKey::from_pkcs8(alg, &der)?;
        let jwks_json = serde_json::to_vec(&jwks)
            .map_err(|e| StoreError::Backend(e.to_string()))?
            .into();
        Ok(Some(KeyRing {
            signer: Arc::new(signing),
            verifiers,
            jwks_json,
            keys,
        }))
    }
}
