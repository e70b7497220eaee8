//! PKCE (RFC 7636) with the S256 method only, as MCP and RFC 9700 require.

use crate::secret::{constant_time_eq, random_token, sha256_b64url};

/// The only code challenge method this stack accepts or sends.
pub const S256: &str = "S256";

/// Why a PKCE value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PkceError {
    /// `code_challenge_method` was `plain` or something else (RFC 9700 §2.1.1: S256 only).
    #[error("code_challenge_method must be S256")]
    UnsupportedMethod,
    /// The verifier is not 43 to 128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
    #[error("code_verifier must be 43 to 128 characters of [A-Za-z0-9-._~]")]
    MalformedVerifier,
    /// The challenge is not a base64url SHA-256 digest (43 characters).
    #[error("code_challenge must be the base64url SHA-256 of the verifier (43 characters)")]
    MalformedChallenge,
}

/// Whether `s` is 43..=128 unreserved characters (RFC 7636 §4.1 `code-verifier` ABNF).
pub fn is_valid_verifier(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Validates a `code_challenge` for S256: exactly 43 base64url characters.
pub fn validate_challenge(challenge: &str, method: Option<&str>) -> Result<(), PkceError> {
    // RFC 7636 §4.3 makes `plain` the default when the method is absent; we refuse that default.
    if method != Some(S256) {
        return Err(PkceError::UnsupportedMethod);
    }
    if challenge.len() != 43
        || !challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(PkceError::MalformedChallenge);
    }
    Ok(())
}

/// The S256 challenge of a verifier: `BASE64URL(SHA256(ASCII(verifier)))`.
pub fn s256_challenge(verifier: &str) -> String {
    sha256_b64url(verifier.as_bytes())
}

/// Checks a verifier against a stored S256 challenge, in constant time.
pub fn verify_s256(verifier: &str, challenge: &str) -> Result<bool, PkceError> {
    if !is_valid_verifier(verifier) {
        return Err(PkceError::MalformedVerifier);
    }
    Ok(constant_time_eq(
        s256_challenge(verifier).as_bytes(),
        challenge.as_bytes(),
    ))
}

/// A fresh verifier with 256 bits of entropy (43 characters) and its S256 challenge.
pub fn generate() -> (String, String) {
    let verifier = random_token(32);
    let challenge = s256_challenge(&verifier);
    (verifier, challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            s256_challenge(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(
            verify_s256(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            Ok(true)
        );
    }

    #[test]
    fn plain_and_missing_methods_are_refused() {
        let c = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert_eq!(
            validate_challenge(c, None),
            Err(PkceError::UnsupportedMethod)
        );
        assert_eq!(
            validate_challenge(c, Some("plain")),
            Err(PkceError::UnsupportedMethod)
        );
        assert_eq!(validate_challenge(c, Some("S256")), Ok(()));
        assert_eq!(
            validate_challenge("short", Some("S256")),
            Err(PkceError::MalformedChallenge)
        );
    }

    #[test]
    fn verifier_charset_and_length() {
        assert!(!is_valid_verifier(&"a".repeat(42)));
        assert!(is_valid_verifier(&"a".repeat(43)));
        assert!(is_valid_verifier(&"a".repeat(128)));
        assert!(!is_valid_verifier(&"a".repeat(129)));
        assert!(!is_valid_verifier(&format!("{}+", "a".repeat(43))));
        assert_eq!(verify_s256("bad", "x"), Err(PkceError::MalformedVerifier));
    }

    #[test]
    fn generated_pairs_verify() {
        let (v, c) = generate();
        assert!(is_valid_verifier(&v));
        assert_eq!(verify_s256(&v, &c), Ok(true));
        let (v2, _) = generate();
        assert_eq!(verify_s256(&v2, &c), Ok(false));
    }
}
