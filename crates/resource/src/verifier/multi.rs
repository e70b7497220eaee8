//! Several trusted issuers at once.
//!
//! A JWT is routed by its **unverified** `iss` to the one verifier configured for that issuer
//! (which then verifies everything, `iss` included); a JWT naming no configured issuer is
//! refused without any network traffic. A token that is not a JWT (opaque) is offered to each
//! verifier in turn: the first that accepts it wins.

use super::{SharedVerifier, TokenVerifier};
use crate::error::{ConfigError, VerifyError};
use crate::principal::Principal;
use async_trait::async_trait;
use serde::Deserialize;
use std::sync::Arc;

/// Trusts tokens from several issuers, each with its own verifier.
#[derive(Clone, Default)]
pub struct MultiIssuerVerifier {
    issuers: Vec<(String, SharedVerifier)>,
}

impl std::fmt::Debug for MultiIssuerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.issuers.iter().map(|(i, _)| i))
            .finish()
    }
}

impl MultiIssuerVerifier {
    /// No issuer yet (every token is refused).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `issuer`, verified by `verifier` (which must itself be configured for that issuer).
    pub fn with_issuer(
        mut self,
        issuer: impl Into<String>,
        verifier: impl TokenVerifier,
    ) -> Result<Self, ConfigError> {
        let issuer = issuer.into();
        if self.issuers.iter().any(|(i, _)| *i == issuer) {
            return Err(ConfigError::DuplicateIssuer(issuer));
        }
        self.issuers.push((issuer, Arc::new(verifier)));
        Ok(self)
    }

    /// The configured issuers, in order.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.issuers.iter().map(|(i, _)| i.as_str())
    }
}

#[derive(Deserialize)]
struct IssOnly {
    iss: Option<String>,
}

/// The `iss` of a JWS-shaped token, without verifying anything; `None` for an opaque token.
fn unverified_issuer(token: &str) -> Option<Option<String>> {
    if token.split('.').count() != 3 {
        return None;
    }
    jsonwebtoken::dangerous::insecure_decode_claims::<IssOnly>(token)
        .ok()
        .map(|c| c.iss)
}

#[async_trait]
impl TokenVerifier for MultiIssuerVerifier {
    async fn verify(&self, token: &str) -> Result<Principal, VerifyError> {
        match unverified_issuer(token) {
            Some(Some(iss)) => match self.issuers.iter().find(|(i, _)| *i == iss) {
                Some((_, v)) => v.verify(token).await,
                None => Err(VerifyError::invalid(
                    "the access token was not issued by a trusted issuer",
                )),
            },
            Some(None) => Err(VerifyError::invalid("the access token has no issuer")),
            None => {
                let mut unavailable = None;
                for (_, v) in &self.issuers {
                    match v.verify(token).await {
                        Ok(p) => return Ok(p),
                        Err(e @ VerifyError::Unavailable(_)) => unavailable = Some(e),
                        Err(_) => {}
                    }
                }
                Err(unavailable.unwrap_or_else(|| {
                    VerifyError::invalid("the access token is not recognised by any trusted issuer")
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_oauth_core::ScopeSet;

    #[derive(Debug)]
    struct Fixed(Result<&'static str, VerifyError>);

    #[async_trait]
    impl TokenVerifier for Fixed {
        async fn verify(&self, _token: &str) -> Result<Principal, VerifyError> {
            self.0.clone().map(|iss| {
                Principal::new(crate::principal::PrincipalData {
                    issuer: iss.into(),
                    subject: None,
                    client_id: None,
                    scopes: ScopeSet::new(),
                    audience: vec![],
                    expires_at: None,
                    claims: serde_json::Value::Null,
                })
            })
        }
    }

    fn jwt_with(payload: &str) -> String {
        use base64::Engine;
        let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b(r#"{"alg":"ES256"}"#), b(payload))
    }

    #[tokio::test]
    async fn routes_jwts_by_issuer() {
        let m = MultiIssuerVerifier::new()
            .with_issuer("https://a", Fixed(Ok("https://a")))
            .unwrap()
            .with_issuer("https://b", Fixed(Ok("https://b")))
            .unwrap();
        let p = m.verify(&jwt_with(r#"{"iss":"https://b"}"#)).await.unwrap();
        assert_eq!(p.issuer, "https://b");
        assert!(m.verify(&jwt_with(r#"{"iss":"https://c"}"#)).await.is_err());
        assert!(m.verify(&jwt_with(r#"{"sub":"x"}"#)).await.is_err());
        assert_eq!(
            m.issuers().collect::<Vec<_>>(),
            vec!["https://a", "https://b"]
        );
        assert!(matches!(
            m.clone().with_issuer("https://a", Fixed(Ok("x"))),
            Err(ConfigError::DuplicateIssuer(_))
        ));
    }

    #[tokio::test]
    async fn tries_each_for_opaque_tokens() {
        let m = MultiIssuerVerifier::new()
            .with_issuer("https://a", Fixed(Err(VerifyError::invalid("no"))))
            .unwrap()
            .with_issuer("https://b", Fixed(Ok("https://b")))
            .unwrap();
        assert_eq!(m.verify("opaque").await.unwrap().issuer, "https://b");
        let down = MultiIssuerVerifier::new()
            .with_issuer("https://a", Fixed(Err(VerifyError::invalid("no"))))
            .unwrap()
            .with_issuer("https://b", Fixed(Err(VerifyError::unavailable("down"))))
            .unwrap();
        assert!(matches!(
            down.verify("opaque").await,
            Err(VerifyError::Unavailable(_))
        ));
        let none = MultiIssuerVerifier::new();
        assert!(matches!(
            none.verify("opaque").await,
            Err(VerifyError::InvalidToken(_))
        ));
    }
}
