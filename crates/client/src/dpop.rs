//! DPoP for the client (RFC 9449): the key a token is bound to, the proofs it signs, and the
//! server nonces it has been given.
//!
//! A key is made for each authorization (ES256, when the server advertises it) and kept with the
//! token in the credential store ([`crate::store::StoredToken::dpop_key`], PKCS#8, as secret as
//! the refresh token it unlocks), so refreshes and every resource request, in this process or
//! another, prove the same key. Proofs are made by `mcp_oauth_core::dpop::sign`. Nonces are
//! remembered per origin for this process: a server that wants one says so (`use_dpop_nonce`
//! with `DPoP-Nonce`) and the request is retried once with it.

use crate::error::{Error, Result};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_oauth_core::dpop::{self, NewProof};
use mcp_oauth_core::jose::{Algorithm, SigningKey, algorithm_name};
use mcp_oauth_core::metadata::AuthorizationServerMetadata;
use mcp_oauth_core::secret::{Secret, random_token};
use reqwest::header::{HeaderMap, HeaderValue};
use std::collections::HashMap;
use std::sync::Mutex;

/// The one proof algorithm the client signs with.
pub const ALGORITHM: Algorithm = Algorithm::ES256;

/// Whether the authorization server takes DPoP proofs the client can make.
pub fn advertised(metadata: &AuthorizationServerMetadata) -> bool {
    let name = algorithm_name(ALGORITHM);
    metadata
        .dpop_signing_alg_values_supported
        .as_ref()
        .is_some_and(|algs| algs.contains(&name))
}

/// A DPoP key.
pub struct DpopKey(SigningKey);

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("DpopKey").field(&self.0.kid()).finish()
    }
}

impl DpopKey {
    /// A fresh key.
    pub fn generate() -> Result<Self> {
        SigningKey::generate(ALGORITHM)
            .map(Self)
            .map_err(|e| Error::Config(format!("cannot make a DPoP key: {e}")))
    }

    /// A key as the credential store keeps it.
    pub fn from_secret(stored: &Secret) -> Result<Self> {
        let der = URL_SAFE_NO_PAD
            .decode(stored.expose())
            .map_err(|_| Error::Config("the stored DPoP key is not base64url".into()))?;
        SigningKey::from_pkcs8(ALGORITHM, &der)
            .map(Self)
            .map_err(|e| Error::Config(format!("the stored DPoP key does not load: {e}")))
    }

    /// The key as the credential store keeps it.
    pub fn to_secret(&self) -> Secret {
        Secret::new(URL_SAFE_NO_PAD.encode(self.0.pkcs8_der()))
    }

    /// Its RFC 7638 thumbprint (`cnf.jkt`).
    pub fn thumbprint(&self) -> &str {
        self.0.kid()
    }

    /// A proof for `method url`, with `ath` when an access token goes with it.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
        now: i64,
    ) -> Result<HeaderValue> {
        let jti = random_token(16);
        let proof = dpop::sign(
            &self.0,
            &NewProof {
                method,
                url,
                iat: now,
                jti: &jti,
                access_token,
                nonce,
            },
        )
        .map_err(|e| Error::Config(format!("cannot sign a DPoP proof: {e}")))?;
        HeaderValue::from_str(&proof).map_err(|_| Error::Config("DPoP proof header".into()))
    }
}

/// The latest nonce each origin gave (RFC 9449 §8, §9).
#[derive(Debug, Default)]
pub struct Nonces(Mutex<HashMap<String, String>>);

impl Nonces {
    /// The nonce to put in a proof for `url`.
    pub fn get(&self, url: &str) -> Option<String> {
        let map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(&origin(url)).cloned()
    }

    /// Remembers the `DPoP-Nonce` of a response from `url`; whether there was one.
    pub fn note(&self, url: &str, headers: &HeaderMap) -> bool {
        let Some(n) = headers
            .get(dpop::NONCE_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|n| !n.is_empty() && n.len() <= 1024)
        else {
            return false;
        };
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(origin(url), n.to_owned());
        true
    }
}

/// `scheme://authority` of a URL (the whole string when it does not parse).
fn origin(url: &str) -> String {
    mcp_oauth_core::uri::UriParts::split(url)
        .map(|p| format!("{}://{}", p.scheme, p.authority))
        .unwrap_or_else(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_key_is_the_same_key() {
        let k = DpopKey::generate().unwrap();
        let again = DpopKey::from_secret(&k.to_secret()).unwrap();
        assert_eq!(k.thumbprint(), again.thumbprint());
        assert!(DpopKey::from_secret(&Secret::new("!!")).is_err());
        let p = k
            .proof("POST", "https://as.example/token?x", None, Some("n"), 100)
            .unwrap();
        let verified = dpop::verify(
            p.to_str().unwrap(),
            &dpop::Expect {
                method: "POST",
                url: "https://as.example/token",
                now: 100,
                max_age: 60,
                future_leeway: 5,
                access_token: None,
            },
        )
        .unwrap();
        assert_eq!(verified.jkt, k.thumbprint());
        assert_eq!(verified.nonce.as_deref(), Some("n"));
    }

    #[test]
    fn nonces_are_kept_per_origin() {
        let n = Nonces::default();
        let mut h = HeaderMap::new();
        assert!(!n.note("https://a.example/token", &h));
        h.insert("dpop-nonce", HeaderValue::from_static("n1"));
        assert!(n.note("https://a.example/token", &h));
        assert_eq!(n.get("https://a.example/other").as_deref(), Some("n1"));
        assert_eq!(n.get("https://b.example/token"), None);
    }
}
