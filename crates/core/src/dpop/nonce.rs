//! Server nonces for DPoP proofs (RFC 9449 §8, §9), stateless: a nonce is the number of a time
//! window and a MAC of it, so every instance with the same key (the authorization server derives
//! it from the KEK) issues and accepts the same nonces, and nothing is stored. A nonce is
//! accepted in its own window and the next one, so it lives between one and two windows. Used
//! by the token endpoint and by the guard.

use crate::clock::UnixTime;
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The length of a nonce window, in seconds.
pub const WINDOW: i64 = 300;

/// The bytes of the MAC kept in a nonce.
const TAG_BYTES: usize = 16;

/// The key nonces are made and checked with.
pub struct NonceKey(hmac::Key);

impl NonceKey {
    /// A key (derived from the KEK by the server).
    pub fn new(key: hmac::Key) -> Self {
        Self(key)
    }

    /// A fresh random key, for one process (the guard's default).
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        // The system RNG does not fail on the platforms aws-lc-rs supports; a failure leaves
        // zeros, which only makes the nonces guessable, never accepted without a proof.
        let _ = aws_lc_rs::rand::fill(&mut bytes);
        Self(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
    }

    fn encode(&self, window: i64) -> String {
        let w = window.to_be_bytes();
        let tag = hmac::sign(&self.0, &w);
        let mut raw = w.to_vec();
        raw.extend_from_slice(&tag.as_ref()[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The nonce to hand out now.
    pub fn current(&self, now: UnixTime) -> String {
        self.encode(now.div_euclid(WINDOW))
    }

    /// Whether `nonce` is one of ours and still current.
    pub fn accepts(&self, nonce: &str, now: UnixTime) -> bool {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(nonce) else {
            return false;
        };
        let Some(w) = raw.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
            return false;
        };
        let window = i64::from_be_bytes(w);
        let current = now.div_euclid(WINDOW);
        if window != current && window != current - 1 {
            return false;
        }
        crate::secret::constant_time_eq(nonce.as_bytes(), self.encode(window).as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(secret: &[u8]) -> NonceKey {
        NonceKey::new(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    #[test]
    fn nonces_live_one_to_two_windows_and_only_under_their_key() {
        let k = key(b"k");
        let n = k.current(1000);
        assert!(k.accepts(&n, 1000));
        assert!(k.accepts(&n, 1199), "same window");
        assert!(k.accepts(&n, 1200 + WINDOW - 1), "the next window");
        assert!(!k.accepts(&n, 1200 + WINDOW), "two windows on");
        assert!(!k.accepts(&n, 800), "before its window");
        assert!(!key(b"other").accepts(&n, 1000), "another key");
        assert!(key(b"k").accepts(&n, 1000), "another instance, same key");
        let mut forged = URL_SAFE_NO_PAD.decode(&n).unwrap();
        forged[20] ^= 1;
        assert!(!k.accepts(&URL_SAFE_NO_PAD.encode(forged), 1000));
        for junk in ["", "!!", "AAAA", &"A".repeat(64)] {
            assert!(!k.accepts(junk, 1000), "{junk}");
        }
    }
}
