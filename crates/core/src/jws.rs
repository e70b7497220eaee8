//! The one verification of a compact JWS (RFC 7515 §7.1) for this stack: access tokens at the
//! resource guard, client assertions (`private_key_jwt`) and the server's own access tokens.
//!
//! In two steps, because callers have work to do between them (learning which client signed, or
//! refetching a JWK Set for an unknown `kid`):
//! 1. [`Jws::parse`]: three base64url parts, a JOSE header this library reads (so never `none`),
//!    its `alg` on the caller's allow-list, no `crit` (RFC 7515 §4.1.11: no extension is
//!    understood here, so a token that marks one critical is refused);
//! 2. [`Jws::verify`] over a key set with a [`KidRule`], or [`Jws::verify_with`] over keys the
//!    caller looked up itself: only keys that fit the `alg` (key type, curve, declared `alg`) are
//!    tried, the signature is checked over the token's own bytes, and only then is the payload
//!    decoded, into the caller's claims type.
//!
//! Claims are not judged here: issuer, audience and times differ per caller and stay with the
//! caller, against its own clock (never the JWT library's wall clock).

use crate::jose::{Algorithm, DecodingKey, Header, Jwk, decoding_key, key_fits_algorithm};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::PublicKeyUse;
use serde::de::DeserializeOwned;
use std::fmt;

/// Why a compact JWS was refused. Callers turn these into their own error texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwsError {
    /// Not three base64url parts with a JOSE header this library reads (`alg: none` included).
    Malformed,
    /// The header's `alg` is not on the caller's allow-list.
    Algorithm(Algorithm),
    /// The header marks extensions as critical (`crit`), and none is understood.
    Critical,
    /// No key of the set has the token's `kid`.
    UnknownKey,
    /// Keys have the `kid`, but none fits the `alg`.
    NoFittingKey,
    /// Keys fit, but none verifies the signature.
    Signature,
    /// The signature verifies, but the payload is not the JSON claims the caller expects.
    Claims,
}

impl fmt::Display for JwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed => f.write_str("not a well-formed JWS with an accepted alg"),
            Self::Algorithm(a) => write!(f, "the signing algorithm {a:?} is not accepted"),
            Self::Critical => f.write_str("unsupported critical header parameters"),
            Self::UnknownKey => f.write_str("signed with an unknown key"),
            Self::NoFittingKey => f.write_str("no key with this kid fits the alg"),
            Self::Signature => f.write_str("the signature does not verify"),
            Self::Claims => f.write_str("the claims are malformed"),
        }
    }
}

impl std::error::Error for JwsError {}

/// A key that may verify signatures.
pub trait VerifyingKey {
    /// Its `kid`, if it has one.
    fn kid(&self) -> Option<&str>;
    /// Whether it may verify `alg`.
    fn fits(&self, alg: Algorithm) -> bool;
    /// The key itself.
    fn decoding_key(&self) -> &DecodingKey;
}

/// A public key from a JWK Set, ready to verify: its `kid`, the JWK (for the `alg` fit) and the
/// parsed key, so that verification parses nothing.
#[derive(Clone)]
pub struct JwkKey {
    jwk: Jwk,
    key: DecodingKey,
}

impl fmt::Debug for JwkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwkKey")
            .field("kid", &self.jwk.common.key_id)
            .finish_non_exhaustive()
    }
}

impl JwkKey {
    /// A signature key of a set: `None` for a key meant for something else (a `use` other than
    /// `sig`), a symmetric key, or one that does not parse.
    pub fn from_jwk(jwk: &Jwk) -> Option<Self> {
        if !matches!(
            jwk.common.public_key_use,
            None | Some(PublicKeyUse::Signature)
        ) {
            return None;
        }
        let key = decoding_key(jwk).ok()?;
        Some(Self {
            jwk: jwk.clone(),
            key,
        })
    }

    /// The signature keys of `jwks`, in order, at most `max` of them.
    pub fn set<'a>(jwks: impl IntoIterator<Item = &'a Jwk>, max: usize) -> Vec<Self> {
        jwks.into_iter()
            .take(max)
            .filter_map(Self::from_jwk)
            .collect()
    }

    /// The JWK.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }
}

impl VerifyingKey for JwkKey {
    fn kid(&self) -> Option<&str> {
        self.jwk.common.key_id.as_deref()
    }
    fn fits(&self, alg: Algorithm) -> bool {
        key_fits_algorithm(&self.jwk, alg)
    }
    fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}

/// A key for exactly one algorithm (the server's own signing keys, looked up by `kid` already).
impl VerifyingKey for (Algorithm, DecodingKey) {
    fn kid(&self) -> Option<&str> {
        None
    }
    fn fits(&self, alg: Algorithm) -> bool {
        self.0 == alg
    }
    fn decoding_key(&self) -> &DecodingKey {
        &self.1
    }
}

/// Which keys of a set may verify a token, by its `kid`. A token without a `kid` may be verified
/// by any key of the set (that fits its `alg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KidRule {
    /// A `kid` selects the keys with that `kid`, and no other (client assertions).
    Exact,
    /// A `kid` selects the keys with that `kid`; when there are none, the keys published without
    /// a `kid` (some issuers omit it in their JWKS while their tokens carry one).
    OrUnnamed,
}

/// A compact JWS whose header passed the allow-list; not verified yet.
#[derive(Debug, Clone)]
pub struct Jws<'t> {
    header: Header,
    /// `header.payload`, the signed bytes.
    signing_input: &'t str,
    payload: &'t str,
    signature: &'t str,
}

impl<'t> Jws<'t> {
    /// Splits `token` and reads its header: three parts, an `alg` in `algorithms`, no `crit`.
    pub fn parse(token: &'t str, algorithms: &[Algorithm]) -> Result<Self, JwsError> {
        let mut parts = token.split('.');
        let (Some(h), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::Malformed);
        };
        let signing_input = &token[..h.len() + 1 + payload.len()];
        let header: Header = URL_SAFE_NO_PAD
            .decode(h)
            .ok()
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or(JwsError::Malformed)?;
        if !algorithms.contains(&header.alg) {
            return Err(JwsError::Algorithm(header.alg));
        }
        if header.crit.as_ref().is_some_and(|c| !c.is_empty()) {
            return Err(JwsError::Critical);
        }
        Ok(Self {
            header,
            signing_input,
            payload,
            signature,
        })
    }

    /// The JOSE header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The header's `alg`.
    pub fn alg(&self) -> Algorithm {
        self.header.alg
    }

    /// The header's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.header.kid.as_deref()
    }

    /// The header's `typ`.
    pub fn typ(&self) -> Option<&str> {
        self.header.typ.as_deref()
    }

    /// Whether some key of `keys` has the token's `kid` (always, for a token without one).
    pub fn names_a_key_of<K: VerifyingKey>(&self, keys: &[K]) -> bool {
        let kid = self.kid();
        kid.is_none() || keys.iter().any(|k| k.kid() == kid)
    }

    /// Verifies the signature with the keys of `keys` that `rule` selects, and returns the
    /// payload as `C`.
    pub fn verify<C: DeserializeOwned, K: VerifyingKey>(
        &self,
        keys: &[K],
        rule: KidRule,
    ) -> Result<C, JwsError> {
        let kid = self.kid();
        if self.names_a_key_of(keys) {
            return self.verify_with(keys.iter().filter(|k| kid.is_none() || k.kid() == kid));
        }
        match rule {
            KidRule::OrUnnamed if keys.iter().any(|k| k.kid().is_none()) => {
                self.verify_with(keys.iter().filter(|k| k.kid().is_none()))
            }
            _ => Err(JwsError::UnknownKey),
        }
    }

    /// Verifies the signature with the first of `candidates` that fits the `alg` and verifies,
    /// and returns the payload as `C`. No candidate at all is [`JwsError::UnknownKey`].
    pub fn verify_with<'k, C: DeserializeOwned, K: VerifyingKey + 'k>(
        &self,
        candidates: impl IntoIterator<Item = &'k K>,
    ) -> Result<C, JwsError> {
        let alg = self.alg();
        let (mut any, mut fitting) = (false, false);
        for k in candidates {
            any = true;
            if !k.fits(alg) {
                continue;
            }
            fitting = true;
            let verified = jsonwebtoken::crypto::verify(
                self.signature,
                self.signing_input.as_bytes(),
                k.decoding_key(),
                alg,
            );
            if verified.unwrap_or(false) {
                let payload = URL_SAFE_NO_PAD
                    .decode(self.payload)
                    .map_err(|_| JwsError::Claims)?;
                return serde_json::from_slice(&payload).map_err(|_| JwsError::Claims);
            }
        }
        Err(match (any, fitting) {
            (false, _) => JwsError::UnknownKey,
            (true, false) => JwsError::NoFittingKey,
            (true, true) => JwsError::Signature,
        })
    }
}

#[cfg(test)]
mod tests;
