//! JOSE for this stack: signing keys (generated with aws-lc-rs), their public JWKs with RFC 7638
//! thumbprint key ids, and JWS signing through `jsonwebtoken`.
//!
//! Private keys are kept as PKCS#8 DER in a zeroized buffer; persisting and encrypting them is the
//! server's job. Only asymmetric algorithms exist here: an access token signed with a shared secret
//! would let every resource server mint tokens.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
pub use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::jwk::{PublicKeyUse, ThumbprintHash};
pub use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde::Serialize;
use std::fmt;
use zeroize::Zeroizing;

/// The algorithms an access token may be signed with, in the server's order of preference.
pub const SIGNING_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::PS256,
];

/// The allow-list for verifying JWTs from peers (access tokens, client assertions).
/// Never `none` and never an HMAC algorithm: a public key must not double as a shared secret.
pub const VERIFY_ALGORITHMS: [Algorithm; 7] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
];

/// Why a key could not be made, loaded or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// The algorithm is not one of [`SIGNING_ALGORITHMS`].
    #[error("unsupported signing algorithm {0:?}")]
    UnsupportedAlgorithm(Algorithm),
    /// Key generation failed in the crypto library.
    #[error("key generation failed")]
    Generate,
    /// Stored key material does not parse for the algorithm.
    #[error("key material rejected: {0}")]
    Rejected(String),
    /// The crypto library failed to sign.
    #[error("signing failed")]
    Sign,
    /// Signing or encoding failed.
    #[error("JWS error: {0}")]
    Jws(#[from] jsonwebtoken::errors::Error),
}

/// Parses an algorithm name as it appears in configuration (`ES256`, `EdDSA`, `RS256`, `PS256`).
pub fn parse_signing_algorithm(name: &str) -> Option<Algorithm> {
    SIGNING_ALGORITHMS
        .into_iter()
        .find(|a| format!("{a:?}").eq_ignore_ascii_case(name))
}

/// The JOSE name of an algorithm (`"ES256"`).
pub fn algorithm_name(alg: Algorithm) -> String {
    format!("{alg:?}")
}

/// The parsed private key, kept so that signing does not re-parse PKCS#8 on every token.
enum Signer {
    Ecdsa(aws_lc_rs::signature::EcdsaKeyPair),
    Ed25519(aws_lc_rs::signature::Ed25519KeyPair),
    Rsa(
        aws_lc_rs::rsa::KeyPair,
        &'static dyn aws_lc_rs::signature::RsaEncoding,
    ),
}

/// An asymmetric signing key with its public JWK.
pub struct SigningKey {
    alg: Algorithm,
    kid: String,
    pkcs8: Zeroizing<Vec<u8>>,
    signer: Signer,
    jwk: Jwk,
    /// The encoded JWS header for `typ: at+jwt`, the one every access token carries.
    at_jwt_header: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh key (P-256 for ES256, Ed25519 for EdDSA, RSA-2048 for RS256/PS256).
    pub fn generate(alg: Algorithm) -> Result<Self, JoseError> {
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
        let der: Vec<u8> = match alg {
            Algorithm::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|k| k.to_pkcs8v1())
                .map_err(|_| JoseError::Generate)?
                .as_ref()
                .to_vec(),
            Algorithm::EdDSA => Ed25519KeyPair::generate()
                .and_then(|k| k.to_pkcs8v1())
                .map_err(|_| JoseError::Generate)?
                .as_ref()
                .to_vec(),
            Algorithm::RS256 | Algorithm::PS256 => {
                aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                    .map_err(|_| JoseError::Generate)?
                    .as_der()
                    .map_err(|_| JoseError::Generate)?
                    .as_ref()
                    .to_vec()
            }
            other => return Err(JoseError::UnsupportedAlgorithm(other)),
        };
        Self::from_pkcs8(alg, &der)
    }

    /// Loads a key from PKCS#8 DER. The key id is the RFC 7638 thumbprint of the public key.
    pub fn from_pkcs8(alg: Algorithm, der: &[u8]) -> Result<Self, JoseError> {
        use aws_lc_rs::signature as sig;
        let rejected = |e: aws_lc_rs::error::KeyRejected| JoseError::Rejected(e.to_string());
        let (encoding, signer) = match alg {
            Algorithm::ES256 => (
                EncodingKey::from_ec_der(der),
                Signer::Ecdsa(
                    sig::EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, der)
                        .map_err(rejected)?,
                ),
            ),
            Algorithm::EdDSA => (
                EncodingKey::from_ed_der(der),
                Signer::Ed25519(sig::Ed25519KeyPair::from_pkcs8(der).map_err(rejected)?),
            ),
            Algorithm::RS256 | Algorithm::PS256 => {
                let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(der).map_err(rejected)?;
                // jsonwebtoken wants PKCS#1 for RSA; its PEM reader unwraps PKCS#8 for us.
                let pem = Zeroizing::new(format!(
                    "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                    STANDARD.encode(der)
                ));
                let padding: &'static dyn sig::RsaEncoding = if alg == Algorithm::RS256 {
                    &sig::RSA_PKCS1_SHA256
                } else {
                    &sig::RSA_PSS_SHA256
                };
                (
                    EncodingKey::from_rsa_pem(pem.as_bytes())?,
                    Signer::Rsa(pair, padding),
                )
            }
            other => return Err(JoseError::UnsupportedAlgorithm(other)),
        };
        let mut jwk = Jwk::from_encoding_key(&encoding, alg)?;
        let kid = jwk.thumbprint(ThumbprintHash::SHA256)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let at_jwt_header = encoded_header(alg, crate::token::ACCESS_TOKEN_JWT_TYPE, &kid)?;
        Ok(Self {
            alg,
            kid,
            pkcs8: Zeroizing::new(der.to_vec()),
            signer,
            jwk,
            at_jwt_header,
        })
    }

    /// The signing algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key id (RFC 7638 SHA-256 thumbprint, base64url).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key as PKCS#8 DER, for encrypted persistence.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// The public JWK (`kid`, `alg`, `use: sig`).
    pub fn public_jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// Signs `claims` as a compact JWS with header `typ` and this key's `alg` and `kid`.
    ///
    /// This is the token-issuance hot path, so it signs with the parsed key pair directly: one
    /// serialisation of the claims, one base64 pass, one signature, one output buffer.
    pub fn sign<T: Serialize>(&self, typ: &str, claims: &T) -> Result<String, JoseError> {
        let payload = serde_json::to_vec(claims).map_err(|e| JoseError::Rejected(e.to_string()))?;
        self.sign_json(typ, &payload)
    }

    /// Signs `payload`, the claims already serialised as a JSON object, like [`Self::sign`].
    pub fn sign_json(&self, typ: &str, payload: &[u8]) -> Result<String, JoseError> {
        if typ == crate::token::ACCESS_TOKEN_JWT_TYPE {
            self.sign_with_header(&self.at_jwt_header, payload)
        } else {
            self.sign_with_header(&encoded_header(self.alg, typ, &self.kid)?, payload)
        }
    }

    /// Signs `payload` under `header`, a JOSE header already base64url-encoded by the caller
    /// (a DPoP proof carries the public `jwk` rather than a `kid`). The header must name this
    /// key's algorithm.
    pub fn sign_with_header(&self, header: &str, payload: &[u8]) -> Result<String, JoseError> {
        let mut out = String::with_capacity(header.len() + payload.len() * 4 / 3 + 360);
        out.push_str(header);
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut out);
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match &self.signer {
            Signer::Ecdsa(k) => {
                let sig = k.sign(&rng, out.as_bytes()).map_err(|_| JoseError::Sign)?;
                out.push('.');
                URL_SAFE_NO_PAD.encode_string(sig.as_ref(), &mut out);
            }
            Signer::Ed25519(k) => {
                let sig = k.sign(out.as_bytes());
                out.push('.');
                URL_SAFE_NO_PAD.encode_string(sig.as_ref(), &mut out);
            }
            Signer::Rsa(k, padding) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(*padding, &rng, out.as_bytes(), &mut sig)
                    .map_err(|_| JoseError::Sign)?;
                out.push('.');
                URL_SAFE_NO_PAD.encode_string(&sig, &mut out);
            }
        }
        Ok(out)
    }
}

/// The base64url JWS header `{"alg":…,"typ":…,"kid":…}`.
fn encoded_header(alg: Algorithm, typ: &str, kid: &str) -> Result<String, JoseError> {
    #[derive(Serialize)]
    struct JwsHeader<'a> {
        alg: &'a str,
        typ: &'a str,
        kid: &'a str,
    }
    let alg = match alg {
        Algorithm::ES256 => "ES256",
        Algorithm::EdDSA => "EdDSA",
        Algorithm::RS256 => "RS256",
        Algorithm::PS256 => "PS256",
        other => return Err(JoseError::UnsupportedAlgorithm(other)),
    };
    let header = serde_json::to_vec(&JwsHeader { alg, typ, kid })
        .map_err(|e| JoseError::Rejected(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(header))
}

/// A decoding key from a peer's JWK, refusing symmetric keys.
pub fn decoding_key(jwk: &Jwk) -> Result<DecodingKey, JoseError> {
    if matches!(
        jwk.algorithm,
        jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
    ) {
        return Err(JoseError::Rejected(
            "symmetric keys are not accepted".into(),
        ));
    }
    Ok(DecodingKey::from_jwk(jwk)?)
}

/// Whether `alg` may be used with `jwk` (its `kty`/`crv` and, when set, its `alg`).
pub fn key_fits_algorithm(jwk: &Jwk, alg: Algorithm) -> bool {
    use jsonwebtoken::jwk::{AlgorithmParameters as P, EllipticCurve};
    if let Some(key_alg) = jwk.common.key_algorithm
        && key_alg.to_string() != algorithm_name(alg)
    {
        return false;
    }
    match (&jwk.algorithm, alg) {
        (P::EllipticCurve(p), Algorithm::ES256) => p.curve == EllipticCurve::P256,
        (P::EllipticCurve(p), Algorithm::ES384) => p.curve == EllipticCurve::P384,
        (P::OctetKeyPair(p), Algorithm::EdDSA) => p.curve == EllipticCurve::Ed25519,
        (
            P::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::Validation;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Claims {
        sub: String,
        exp: i64,
    }

    fn round_trip(alg: Algorithm) {
        let key = SigningKey::generate(alg).unwrap();
        let reloaded = SigningKey::from_pkcs8(alg, key.pkcs8_der()).unwrap();
        assert_eq!(key.kid(), reloaded.kid(), "kid is a stable thumbprint");
        let claims = Claims {
            sub: "alice".into(),
            exp: 4_000_000_000,
        };
        let jws = reloaded.sign("at+jwt", &claims).unwrap();
        let header = jsonwebtoken::decode_header(&jws).unwrap();
        assert_eq!(header.typ.as_deref(), Some("at+jwt"));
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        let dk = decoding_key(key.public_jwk()).unwrap();
        assert!(key_fits_algorithm(key.public_jwk(), alg));
        let mut v = Validation::new(alg);
        v.validate_aud = false;
        let data = jsonwebtoken::decode::<Claims>(&jws, &dk, &v).unwrap();
        assert_eq!(data.claims, claims);
    }

    #[test]
    fn es256_round_trip() {
        round_trip(Algorithm::ES256);
    }

    #[test]
    fn eddsa_round_trip() {
        round_trip(Algorithm::EdDSA);
    }

    #[test]
    fn rs256_and_ps256_round_trip() {
        round_trip(Algorithm::RS256);
        round_trip(Algorithm::PS256);
    }

    #[test]
    fn hs256_is_not_a_signing_algorithm() {
        assert!(matches!(
            SigningKey::generate(Algorithm::HS256),
            Err(JoseError::UnsupportedAlgorithm(_))
        ));
        assert_eq!(parse_signing_algorithm("es256"), Some(Algorithm::ES256));
        assert_eq!(parse_signing_algorithm("HS256"), None);
    }

    #[test]
    fn key_kind_must_fit_algorithm() {
        let ec = SigningKey::generate(Algorithm::ES256).unwrap();
        assert!(!key_fits_algorithm(ec.public_jwk(), Algorithm::RS256));
        assert!(!key_fits_algorithm(ec.public_jwk(), Algorithm::EdDSA));
    }
}
