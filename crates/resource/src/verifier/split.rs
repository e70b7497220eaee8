//! JWT access tokens to one verifier, every other credential (an opaque token, an API key) to
//! another: the shape of the guard that accepts "an API key or OAuth".
//!
//! A credential of three dot-separated parts is a JWS and goes to `jwt` only; anything else goes
//! to `opaque` only (typically an [`IntrospectionVerifier`](super::IntrospectionVerifier) whose
//! cache lifetime bounds how late a revoked key is noticed, or an in-process check). Neither
//! verifier sees the other's credentials, so an opaque key never reaches a JWT parser and a JWT
//! never costs an introspection round trip.

use super::TokenVerifier;
use crate::error::VerifyError;
use crate::principal::Principal;
use async_trait::async_trait;

/// Routes JWS-shaped tokens to `jwt` and every other token to `opaque`.
#[derive(Debug, Clone)]
pub struct SplitVerifier<J, O> {
    jwt: J,
    opaque: O,
}

impl<J: TokenVerifier, O: TokenVerifier> SplitVerifier<J, O> {
    /// JWTs to `jwt`, the rest to `opaque`.
    pub fn new(jwt: J, opaque: O) -> Self {
        Self { jwt, opaque }
    }
}

/// Whether `token` has the shape of a JWS compact serialization (three parts).
fn is_jws(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

#[async_trait]
impl<J: TokenVerifier, O: TokenVerifier> TokenVerifier for SplitVerifier<J, O> {
    async fn verify(&self, token: &str) -> Result<Principal, VerifyError> {
        if is_jws(token) {
            self.jwt.verify(token).await
        } else {
            self.opaque.verify(token).await
        }
    }

    fn cached(&self, token: &str) -> Option<Result<Principal, VerifyError>> {
        if is_jws(token) {
            self.jwt.cached(token)
        } else {
            self.opaque.cached(token)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::PrincipalData;

    struct Named(&'static str);

    #[async_trait]
    impl TokenVerifier for Named {
        async fn verify(&self, _token: &str) -> Result<Principal, VerifyError> {
            Ok(Principal::new(PrincipalData {
                issuer: self.0.into(),
                subject: None,
                client_id: None,
                scopes: Default::default(),
                audience: Vec::new(),
                expires_at: None,
                claims: serde_json::Value::Null,
            }))
        }
    }

    #[tokio::test]
    async fn routes_by_shape() {
        let v = SplitVerifier::new(Named("jwt"), Named("opaque"));
        assert_eq!(v.verify("a.b.c").await.unwrap().issuer, "jwt");
        for t in ["mcpk_abc", "a.b", "a.b.c.d", "opaque"] {
            assert_eq!(v.verify(t).await.unwrap().issuer, "opaque", "{t}");
        }
    }
}
