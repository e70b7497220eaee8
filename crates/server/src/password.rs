//! Password hashing with Argon2id (RFC 9106 defaults of the `argon2` crate: m = 19 MiB, t = 2,
//! p = 1), run on the blocking pool so that a login never stalls the async workers.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use mcp_oauth_core::secret::Secret;

/// Hashing failed (only on resource exhaustion).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

/// A PHC string for `password`.
pub async fn hash(password: Secret) -> Result<String, HashError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| HashError)
    })
    .await
    .map_err(|_| HashError)?
}

/// A hash of a random password, verified against when the user does not exist so that the
/// answer takes as long as for a real account (no user enumeration by timing).
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$q1nGzoV6G4Q9bEsJd4hJYrsuzCHF8P0PpS5yPDEkFeo";

/// Whether `password` matches `phc`. `None` (no such user) still does the work.
pub async fn verify(password: Secret, phc: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        let ok = Argon2::default()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok();
        ok && known
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash(Secret::new("correct horse")).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify(Secret::new("correct horse"), Some(h.clone())).await);
        assert!(!verify(Secret::new("wrong"), Some(h)).await);
        assert!(!verify(Secret::new("anything"), None).await);
    }
}
