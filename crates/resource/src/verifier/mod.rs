//! Token verifiers: how the guard turns a bearer token into a [`Principal`].
//!
//! - [`JwtVerifier`]: RFC 9068 JWT access tokens, keys from the issuer's JWKS (discovered from
//!   its metadata, cached, refetched on an unknown `kid` at a bounded rate).
//! - [`IntrospectionVerifier`]: opaque tokens through RFC 7662 introspection, cached no longer
//!   than the token lives.
//! - [`CachedVerifier`]: a bounded cache of verified tokens in front of any verifier.
//! - [`MultiIssuerVerifier`]: several trusted issuers at once.
//! - [`SplitVerifier`]: JWTs to one verifier, opaque tokens and API keys to another.
//!
//! - [`Profile`]: how one identity provider's tokens are read (Auth0, Okta, Entra ID, Cognito,
//!   Keycloak, RFC 9068, generic); [`discover`]: issuer metadata with each URL's outcome.
//!
//! Every verifier checks the audience against this server's canonical resource URI
//! (RFC 8707, MCP §Token Audience Binding), or the audience aliases configured where a provider
//! cannot name it: a token for another server is never accepted, and no setting turns the check
//! off.

mod cache;
mod discovery;
mod fetch;
mod introspection;
mod jwt;
mod multi;
pub mod profile;
mod split;

pub use cache::{CachedVerifier, DEFAULT_CACHE_CAPACITY};
pub use discovery::{Attempt, DiscoveryError, discover};
pub use fetch::HttpOptions;
pub use introspection::{IntrospectionVerifier, IntrospectionVerifierBuilder};
pub use jwt::{JwtVerifier, JwtVerifierBuilder};
pub use multi::MultiIssuerVerifier;
pub use profile::{Audiences, IssuerForms, Profile};
pub use split::SplitVerifier;

use crate::error::VerifyError;
use crate::principal::Principal;
use async_trait::async_trait;
use std::sync::Arc;

/// Turns a bearer token into a verified [`Principal`], or says why not.
///
/// Object-safe (through `async_trait`) so that the guard can hold an `Arc<dyn TokenVerifier>`
/// and so that verifiers nest (a cache in front of a multi-issuer verifier in front of JWT and
/// introspection verifiers). Implementations must check signature or introspection, expiry and
/// audience before returning `Ok`; scopes are the guard's job. They must never log the token.
#[async_trait]
pub trait TokenVerifier: Send + Sync + 'static {
    /// Verifies `token` (the `token68` from `Authorization: Bearer`).
    async fn verify(&self, token: &str) -> Result<Principal, VerifyError>;

    /// The answer `verify` would give for `token` if this verifier has it at hand without
    /// waiting (a cache hit), else `None`. The guard asks this first, so that a cache hit costs
    /// no boxed future. The default is `None`; a verifier that overrides it must answer exactly
    /// as `verify` would.
    fn cached(&self, token: &str) -> Option<Result<Principal, VerifyError>> {
        let _ = token;
        None
    }
}

#[async_trait]
impl<T: TokenVerifier + ?Sized> TokenVerifier for Arc<T> {
    async fn verify(&self, token: &str) -> Result<Principal, VerifyError> {
        (**self).verify(token).await
    }

    fn cached(&self, token: &str) -> Option<Result<Principal, VerifyError>> {
        (**self).cached(token)
    }
}

#[async_trait]
impl<T: TokenVerifier + ?Sized> TokenVerifier for Box<T> {
    async fn verify(&self, token: &str) -> Result<Principal, VerifyError> {
        (**self).verify(token).await
    }

    fn cached(&self, token: &str) -> Option<Result<Principal, VerifyError>> {
        (**self).cached(token)
    }
}

/// A shared, type-erased verifier, as the guard keeps it.
pub type SharedVerifier = Arc<dyn TokenVerifier>;

/// The seconds from `now` until `exp`, as the cache lifetime of a verified token: never past
/// the token's own expiry and never longer than `max`.
pub(crate) fn cache_lifetime(now: i64, exp: Option<i64>, max: u64) -> i64 {
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    match exp {
        Some(exp) => (exp.saturating_sub(now)).min(max),
        None => max,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetime_is_bounded_by_exp_and_max() {
        assert_eq!(cache_lifetime(100, Some(130), 60), 30);
        assert_eq!(cache_lifetime(100, Some(1000), 60), 60);
        assert_eq!(cache_lifetime(100, Some(90), 60), -10);
        assert_eq!(cache_lifetime(100, None, 60), 60);
    }
}
