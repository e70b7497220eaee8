//! RFC 7523 §2.2 client assertions (`private_key_jwt`) and loading the key that signs them.
//!
//! The assertion says "I am `client_id`" to one authorization server: `iss` = `sub` =
//! `client_id`, `aud` = the AS issuer, a short `exp` (60 s) so a leaked assertion is soon
//! useless, and a unique `jti` so the AS can refuse a replay.

use crate::error::{Error, Result};
use base64::Engine;
use mcp_oauth_core::jose::{Algorithm, SigningKey};
use serde::Serialize;
use std::path::Path;

/// Lifetime of an assertion in seconds.
pub const ASSERTION_LIFETIME: i64 = 60;

/// The claims of a client assertion.
#[derive(Debug, Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    jti: String,
}

/// Signs a client assertion for `client_id` addressed to `audience` (the AS issuer).
pub fn client_assertion(
    key: &SigningKey,
    client_id: &str,
    audience: &str,
    now: i64,
) -> Result<String> {
    let claims = AssertionClaims {
        iss: client_id,
        sub: client_id,
        aud: audience,
        exp: now + ASSERTION_LIFETIME,
        iat: now,
        jti: mcp_oauth_core::secret::random_token(16),
    };
    Ok(key.sign("JWT", &claims)?)
}

/// Loads a PKCS#8 PEM private key (`-----BEGIN PRIVATE KEY-----`). With `alg` unset the key
/// type decides: P-256 → ES256, Ed25519 → EdDSA, RSA → RS256.
pub fn load_private_key_pem(pem: &str, alg: Option<Algorithm>) -> Result<SigningKey> {
    const BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
    const END: &str = "-----END PRIVATE KEY-----";
    let Some(start) = pem.find(BEGIN) else {
        let hint = if pem.contains("-----BEGIN EC PRIVATE KEY-----")
            || pem.contains("-----BEGIN RSA PRIVATE KEY-----")
        {
            "this is a traditional (SEC1/PKCS#1) key; convert it with `openssl pkcs8 -topk8 -nocrypt -in key.pem`"
        } else if pem.contains("ENCRYPTED PRIVATE KEY") {
            "encrypted keys are not supported; decrypt it with `openssl pkcs8 -nocrypt`"
        } else {
            "expected a PEM block `-----BEGIN PRIVATE KEY-----` (PKCS#8)"
        };
        return Err(Error::Key(hint.to_owned()));
    };
    let body = &pem[start + BEGIN.len()..];
    let end = body
        .find(END)
        .ok_or_else(|| Error::Key("PEM block is not terminated".to_owned()))?;
    let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    let der = zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| Error::Key(format!("PEM body is not base64: {e}")))?,
    );
    match alg {
        Some(a) => Ok(SigningKey::from_pkcs8(a, &der)?),
        None => [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256]
            .into_iter()
            .find_map(|a| SigningKey::from_pkcs8(a, &der).ok())
            .ok_or_else(|| {
                Error::Key("the key is not a P-256, Ed25519 or RSA PKCS#8 private key".to_owned())
            }),
    }
}

/// Loads a PKCS#8 PEM private key from a file.
pub fn load_private_key_file(path: &Path, alg: Option<Algorithm>) -> Result<SigningKey> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| Error::Key(format!("reading {}: {e}", path.display())))?;
    load_private_key_pem(&pem, alg)
}

/// Encodes PKCS#8 DER as PEM (for tests and for writing generated keys).
pub fn pkcs8_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_detects_algorithm() {
        for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256] {
            let k = SigningKey::generate(alg).unwrap();
            let pem = pkcs8_pem(k.pkcs8_der());
            let back = load_private_key_pem(&pem, None).unwrap();
            assert_eq!(back.algorithm(), alg);
            assert_eq!(back.kid(), k.kid());
        }
    }

    #[test]
    fn traditional_keys_get_a_hint() {
        let e = load_private_key_pem("-----BEGIN EC PRIVATE KEY-----\nAA\n", None).unwrap_err();
        assert!(e.to_string().contains("openssl pkcs8"), "{e}");
    }

    #[test]
    fn assertion_claims() {
        let k = SigningKey::generate(Algorithm::ES256).unwrap();
        let jwt = client_assertion(&k, "cid", "https://as", 1000).unwrap();
        let mut v = jsonwebtoken::Validation::new(Algorithm::ES256);
        v.set_audience(&["https://as"]);
        v.validate_exp = false;
        let dk = mcp_oauth_core::jose::decoding_key(k.public_jwk()).unwrap();
        let data = jsonwebtoken::decode::<serde_json::Value>(&jwt, &dk, &v).unwrap();
        assert_eq!(data.claims["iss"], "cid");
        assert_eq!(data.claims["sub"], "cid");
        assert_eq!(data.claims["exp"], 1060);
        assert_eq!(data.claims["iat"], 1000);
        assert!(data.claims["jti"].as_str().unwrap().len() >= 16);
    }
}
