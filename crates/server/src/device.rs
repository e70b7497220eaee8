//! The codes of the device authorization grant (RFC 8628), without the state.
//!
//! - The device code is the client's secret to poll with: 256 random bits, stored as SHA-256
//!   like authorization codes.
//! - The user code is what a person types: 8 characters of the RFC 8628 §6.1 alphabet
//!   `BCDFGHJKLMNPQRSTVWXZ` (20 consonants: no vowels, so no words; no digits, so nothing to
//!   confuse with letters), 20^8 ≈ 2^34.6 codes, shown `XXXX-XXXX`. Input is normalised:
//!   case, dashes and white space do not matter (§6.1). Such a short code would fall to an
//!   offline search in seconds if stored as a plain hash, so it is stored as HMAC-SHA-256 under a
//!   key derived from the KEK (not in the database), as API keys are; online guessing is bounded
//!   by the page's rate limit (`docs/security.md`).

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;

/// The RFC 8628 §6.1 alphabet.
pub(crate) const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Characters in a user code.
pub(crate) const USER_CODE_LEN: usize = 8;
/// The purpose string of the KEK-derived key user codes are hashed under.
pub(crate) const HMAC_PURPOSE: &str = "mcp-oauth device user code v1";

/// A fresh user code, normalised (8 letters, no dash). Each character is drawn uniformly from
/// the operating system's CSPRNG.
pub(crate) fn new_user_code() -> String {
    let mut rng = rand::rng();
    (0..USER_CODE_LEN)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// `BCDFGHJK` → `BCDF-GHJK`, as people are shown it.
pub(crate) fn display(normalised: &str) -> String {
    match normalised.split_at_checked(USER_CODE_LEN / 2) {
        Some((a, b)) => format!("{a}-{b}"),
        None => normalised.to_owned(),
    }
}

/// What a person typed, as a code: upper case, without dashes and white space; `None` unless
/// it is then 8 characters of the alphabet (so nothing else is ever looked up or counted as a
/// guess of a live code).
pub(crate) fn normalise(input: &str) -> Option<String> {
    // Bounded before any work: a pasted essay is not a code.
    if input.len() > 64 {
        return None;
    }
    let code: String = input
        .chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == USER_CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// The stored form of a normalised user code.
pub(crate) fn user_code_hash(key: &hmac::Key, normalised: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac::sign(key, normalised.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_use_the_alphabet_and_vary() {
        let codes: Vec<String> = (0..200).map(|_| new_user_code()).collect();
        for c in &codes {
            assert_eq!(c.len(), USER_CODE_LEN);
            assert!(c.bytes().all(|b| ALPHABET.contains(&b)), "{c}");
            assert_eq!(normalise(c).as_deref(), Some(c.as_str()));
        }
        let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
        assert!(distinct.len() > 190, "random codes rarely repeat");
        let used: std::collections::BTreeSet<u8> = codes.iter().flat_map(|c| c.bytes()).collect();
        assert_eq!(
            used.len(),
            ALPHABET.len(),
            "every letter appears in 1 600 draws"
        );
    }

    #[test]
    fn input_is_normalised() {
        assert_eq!(normalise("bcdf-ghjk").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalise(" BCDF GHJK\t").as_deref(), Some("BCDFGHJK"));
        assert_eq!(normalise("B-C-D-F-G-H-J-K").as_deref(), Some("BCDFGHJK"));
        assert_eq!(display("BCDFGHJK"), "BCDF-GHJK");
        for bad in [
            "",
            "BCDFGHJ",
            "BCDFGHJKL",
            "ABCDEFGH",
            "BCDF-GHJ1",
            "ＢCDFGHJK",
        ] {
            assert_eq!(normalise(bad), None, "{bad:?}");
        }
        assert_eq!(normalise(&"-".repeat(100)), None);
    }

    #[test]
    fn hashes_are_keyed() {
        let a = hmac::Key::new(hmac::HMAC_SHA256, b"a");
        let b = hmac::Key::new(hmac::HMAC_SHA256, b"b");
        assert_eq!(
            user_code_hash(&a, "BCDFGHJK"),
            user_code_hash(&a, "BCDFGHJK")
        );
        assert_ne!(
            user_code_hash(&a, "BCDFGHJK"),
            user_code_hash(&b, "BCDFGHJK")
        );
        assert_ne!(
            user_code_hash(&a, "BCDFGHJK"),
            user_code_hash(&a, "BCDFGHJL")
        );
    }
}
