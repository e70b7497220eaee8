//! The key-encryption key (KEK): AES-256-GCM over private signing keys at rest.
//!
//! The KEK comes from `MCP_OAUTH_KEK` or a 0600 file in the data directory
//! ([`Kek::load_or_create`], `file.rs`);
//! the database alone is therefore not enough to forge tokens. It also derives the HMAC key
//! that makes refresh-token successors reproducible within the grace window without storing any
//! refresh token in the clear.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

mod file;

pub use file::{KEK_FILE, KekFileError};

/// A 256-bit key-encryption key.
pub struct Kek {
    bytes: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek([REDACTED])")
    }
}

/// A KEK that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KekError {
    /// Not 32 bytes of base64url.
    #[error("the key-encryption key must be 32 bytes, base64url-encoded (43 characters)")]
    Malformed,
    /// Decryption failed: wrong KEK or corrupted data.
    #[error("cannot decrypt a stored key: wrong key-encryption key, or corrupted data")]
    Decrypt,
    /// The crypto library failed.
    #[error("encryption failed")]
    Encrypt,
}

impl Kek {
    /// A fresh random KEK.
    pub fn generate() -> Result<Self, KekError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| KekError::Encrypt)?;
        Ok(Self { bytes })
    }

    /// Parses the base64url form (as in `MCP_OAUTH_KEK` or the KEK file).
    pub fn from_base64url(s: &str) -> Result<Self, KekError> {
        let raw = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(s.trim())
                .map_err(|_| KekError::Malformed)?,
        );
        let arr: [u8; 32] = raw.as_slice().try_into().map_err(|_| KekError::Malformed)?;
        Ok(Self {
            bytes: Zeroizing::new(arr),
        })
    }

    /// The base64url form, for writing the KEK file once.
    pub fn to_base64url(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(self.bytes.as_ref()))
    }

    fn aead(&self) -> Result<LessSafeKey, KekError> {
        UnboundKey::new(&AES_256_GCM, self.bytes.as_ref())
            .map(LessSafeKey::new)
            .map_err(|_| KekError::Encrypt)
    }

    /// Encrypts `plaintext` bound to `context` (the key id): `nonce || ciphertext || tag`.
    pub fn encrypt(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, KekError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| KekError::Encrypt)?;
        let mut buf = plaintext.to_vec();
        self.aead()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                &mut buf,
            )
            .map_err(|_| KekError::Encrypt)?;
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts what [`Kek::encrypt`] produced for the same `context`.
    pub fn decrypt(&self, context: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, KekError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(KekError::Decrypt);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| KekError::Decrypt)?;
        let mut buf = Zeroizing::new(ct.to_vec());
        let len = self
            .aead()?
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context),
                buf.as_mut_slice(),
            )
            .map_err(|_| KekError::Decrypt)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }

    /// An HMAC-SHA256 key derived from the KEK for `purpose`.
    pub fn derive_hmac(&self, purpose: &str) -> hmac::Key {
        let master = hmac::Key::new(hmac::HMAC_SHA256, self.bytes.as_ref());
        let derived = hmac::sign(&master, purpose.as_bytes());
        hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open() {
        let k = Kek::generate().unwrap();
        let sealed = k.encrypt(b"kid1", b"secret key").unwrap();
        assert_eq!(
            k.decrypt(b"kid1", &sealed).unwrap().as_slice(),
            b"secret key"
        );
        assert!(k.decrypt(b"kid2", &sealed).is_err(), "bound to its context");
        let other = Kek::generate().unwrap();
        assert!(other.decrypt(b"kid1", &sealed).is_err());
        assert!(k.decrypt(b"kid1", &sealed[..10]).is_err());
    }

    #[test]
    fn base64url_round_trip() {
        let k = Kek::generate().unwrap();
        let s = k.to_base64url();
        let back = Kek::from_base64url(&s).unwrap();
        let sealed = k.encrypt(b"c", b"x").unwrap();
        assert_eq!(back.decrypt(b"c", &sealed).unwrap().as_slice(), b"x");
        assert!(Kek::from_base64url("short").is_err());
        assert_eq!(format!("{k:?}"), "Kek([REDACTED])");
    }
}
