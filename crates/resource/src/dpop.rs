//! DPoP at the resource (RFC 9449 §7): a token bound to a key (`cnf.jkt`) is accepted only with
//! the `DPoP` scheme and a proof of that key for this very request (method, URL, `ath` of the
//! token, fresh `iat`, unused `jti`); a bound token sent as `Bearer` is refused, as is an
//! unbound one sent as `DPoP`. The proof rules are `mcp_oauth_core::dpop`.
//!
//! The `jti` replay cache is per process and bounded ([`DpopSettings::max_replay_entries`]):
//! proofs live [`DpopSettings::proof_lifetime`] seconds, so the cache only has to hold the
//! proofs of that window; several guard instances behind one load balancer do not share it, so
//! a proof replayed within the window to another instance is not caught there (its `ath`,
//! method and URL still pin it to the one request), unless they share a [`ReplayStore`]
//! ([`DpopSettings::replay`]; on Redis with the `redis` feature, [`crate::dpop_redis`]). When
//! the cache is full of live entries, or the shared store does not answer, the guard answers
//! `503` rather than forget one: it fails closed.

use crate::error::{AuthError, DpopRefusal};
use crate::extract::Scheme;
use crate::principal::Principal;
use crate::proof_cache::{Admit, ProofCache};
use mcp_oauth_core::ErrorCode;
use mcp_oauth_core::challenge::DpopChallenge;
use mcp_oauth_core::clock::{SharedClock, SystemClock, UnixTime};
use mcp_oauth_core::dpop::nonce::NonceKey;
use mcp_oauth_core::dpop::{self, Expect};
use std::sync::{Arc, Mutex};

/// How the guard judges DPoP proofs.
#[derive(Clone)]
pub struct DpopSettings {
    /// How old a proof's `iat` may be, in seconds. Default 60.
    pub proof_lifetime: i64,
    /// How far in the future `iat` may be, in seconds. Default 5.
    pub future_leeway: i64,
    /// The most proof ids remembered at once by the per-process cache. Default 500 000: ids live
    /// `proof_lifetime + future_leeway` (65 s), so that is ~7 700 DPoP requests a second
    /// sustained, ~45 MiB when full (beyond it requests are refused with `503`, or share a
    /// [`ReplayStore`]).
    pub max_replay_entries: usize,
    /// The time source. Default: the system clock.
    pub clock: SharedClock,
    /// Server nonces (RFC 9449 §9): when set, a proof must carry a current nonce of this key,
    /// else the answer is `use_dpop_nonce` with a fresh one in `DPoP-Nonce`. Default none.
    /// Several guards accept each other's nonces when they share the key.
    pub nonces: Option<Arc<NonceKey>>,
    /// A replay store shared by several guards, used instead of the per-process cache. Default
    /// none (per process).
    pub replay: Option<Arc<dyn ReplayStore>>,
}

/// Where several guards remember the proofs they accepted (RFC 9449 §11.1).
#[async_trait::async_trait]
pub trait ReplayStore: Send + Sync {
    /// Records the proof `id` (SHA-256 of the key's thumbprint, a zero byte and the `jti`)
    /// until `until` (the last moment its `iat` is acceptable): `Ok(true)` on its first use,
    /// `Ok(false)` for a replay, `Err` when it cannot tell (the request is refused with `503`,
    /// never accepted).
    async fn first_use(
        &self,
        id: &[u8; 32],
        until: UnixTime,
        now: UnixTime,
    ) -> Result<bool, ReplayUnavailable>;
}

/// The shared replay store did not answer.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the shared DPoP replay store did not answer")]
pub struct ReplayUnavailable;

impl Default for DpopSettings {
    fn default() -> Self {
        Self {
            proof_lifetime: 60,
            future_leeway: 5,
            max_replay_entries: 500_000,
            clock: Arc::new(SystemClock),
            nonces: None,
            replay: None,
        }
    }
}

impl std::fmt::Debug for DpopSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopSettings")
            .field("proof_lifetime", &self.proof_lifetime)
            .field("future_leeway", &self.future_leeway)
            .field("max_replay_entries", &self.max_replay_entries)
            .field("nonces", &self.nonces.is_some())
            .field("shared_replay", &self.replay.is_some())
            .finish_non_exhaustive()
    }
}

fn refuse(code: ErrorCode, description: impl Into<String>) -> AuthError {
    AuthError::Dpop(DpopRefusal {
        code,
        description: description.into(),
        nonce: None,
    })
}

/// The `DPoP` challenge of a refusal.
pub fn challenge(r: &DpopRefusal, resource_metadata: &str) -> DpopChallenge {
    DpopChallenge {
        algs: Some(dpop::algorithm_names().join(" ")),
        error: Some(r.code.as_str().to_owned()),
        error_description: Some(r.description.clone()),
        scope: None,
        resource_metadata: Some(resource_metadata.to_owned()),
    }
}

/// The guard's DPoP state: settings and the replay cache.
pub(crate) struct DpopGuard {
    settings: DpopSettings,
    seen: Mutex<ProofCache>,
}

impl DpopGuard {
    pub(crate) fn new(settings: DpopSettings) -> Self {
        let seen = Mutex::new(ProofCache::new(settings.max_replay_entries));
        Self { settings, seen }
    }

    /// Checks the scheme, the binding and the proof of a request whose token verified.
    /// `url` is the request's URL as the client addressed it (the resource's origin and path).
    pub(crate) async fn check(
        &self,
        headers: &http::HeaderMap,
        method: &http::Method,
        url: &str,
        scheme: Scheme,
        token: &str,
        principal: &Principal,
    ) -> Result<(), AuthError> {
        let bound = principal
            .claims
            .as_object()
            .and_then(dpop::cnf_jkt)
            .map(str::to_owned);
        let jkt = match (scheme, bound) {
            (Scheme::Bearer, None) => return Ok(()),
            (Scheme::Bearer, Some(_)) => {
                return Err(refuse(
                    ErrorCode::InvalidToken,
                    "this access token is DPoP-bound: send it with the DPoP scheme and a proof",
                ));
            }
            (Scheme::Dpop, None) => {
                return Err(refuse(
                    ErrorCode::InvalidToken,
                    "this access token is not DPoP-bound: send it with the Bearer scheme",
                ));
            }
            (Scheme::Dpop, Some(jkt)) => jkt,
        };
        let mut values = headers.get_all(dpop::HEADER).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(refuse(
                ErrorCode::InvalidDpopProof,
                "send exactly one DPoP proof with a DPoP-bound token",
            ));
        };
        let proof = value
            .to_str()
            .map_err(|_| refuse(ErrorCode::InvalidDpopProof, "the DPoP header is not a JWS"))?;
        let now = self.settings.clock.now();
        let expect = Expect {
            method: method.as_str(),
            url,
            now,
            max_age: self.settings.proof_lifetime,
            future_leeway: self.settings.future_leeway,
            access_token: Some(token),
        };
        let verified = dpop::verify(proof, &expect)
            .map_err(|e| refuse(ErrorCode::InvalidDpopProof, e.to_string()))?;
        if !mcp_oauth_core::secret::constant_time_eq(verified.jkt.as_bytes(), jkt.as_bytes()) {
            return Err(refuse(
                ErrorCode::InvalidDpopProof,
                "the DPoP proof is signed by another key than the one the token is bound to",
            ));
        }
        if let Some(k) = &self.settings.nonces
            && !verified.nonce.as_deref().is_some_and(|n| k.accepts(n, now))
        {
            return Err(AuthError::Dpop(DpopRefusal {
                code: ErrorCode::UseDpopNonce,
                description: "the DPoP proof must carry the nonce this server sent in DPoP-Nonce"
                    .into(),
                nonce: Some(k.current(now)),
            }));
        }
        let until = expect.replay_until(verified.iat);
        let id = proof_id(&verified.jkt, &verified.jti);
        let Some(shared) = &self.settings.replay else {
            return self.first_use(id, until, now);
        };
        match shared.first_use(&id, until, now).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(refuse(
                ErrorCode::InvalidDpopProof,
                "the DPoP proof was already used",
            )),
            Err(ReplayUnavailable) => {
                tracing::warn!(target: "mcp_oauth::resource", "shared DPoP replay store unavailable; refusing");
                Err(AuthError::Unavailable)
            }
        }
    }

    fn first_use(&self, id: [u8; 32], until: UnixTime, now: UnixTime) -> Result<(), AuthError> {
        let mut seen = self.seen.lock().map_err(|_| AuthError::Unavailable)?;
        match seen.admit(id, until, now) {
            Admit::First => Ok(()),
            Admit::Replay => Err(refuse(
                ErrorCode::InvalidDpopProof,
                "the DPoP proof was already used",
            )),
            Admit::Full => {
                tracing::warn!(target: "mcp_oauth::resource", "DPoP replay cache full of live proofs; refusing");
                Err(AuthError::Unavailable)
            }
        }
    }
}

/// The id a proof is remembered by: SHA-256 of the key's thumbprint, a zero byte and the `jti`.
fn proof_id(jkt: &str, jti: &str) -> [u8; 32] {
    let mut id = Vec::with_capacity(jkt.len() + jti.len() + 1);
    id.extend_from_slice(jkt.as_bytes());
    id.push(0);
    id.extend_from_slice(jti.as_bytes());
    mcp_oauth_core::secret::sha256(&id)
}

/// The URL a request addressed: the resource's origin and the request's path.
pub(crate) fn request_url(resource: &str, path: &str) -> String {
    let origin = mcp_oauth_core::uri::UriParts::split(resource)
        .map(|p| format!("{}://{}", p.scheme, p.authority))
        .unwrap_or_default();
    format!("{origin}{path}")
}
