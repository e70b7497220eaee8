//! A bounded cache of verified tokens, so that repeated requests with the same token skip
//! signature verification or introspection.
//!
//! Keys are the SHA-256 of the token: the cache never holds a token itself, so a heap dump or a
//! debug print of it reveals none. An entry lives until the token's `exp` (never the leeway past
//! it) and at most `max_ttl`; the capacity bound (quick_cache's S3-FIFO eviction) keeps a flood
//! of distinct tokens from growing memory.

use super::{TokenVerifier, cache_lifetime};
use crate::error::VerifyError;
use crate::principal::Principal;
use async_trait::async_trait;
use mcp_oauth_core::clock::{SharedClock, SystemClock, UnixTime};
use mcp_oauth_core::secret::sha256;
use std::sync::Arc;
use std::time::Duration;

/// The default number of cached tokens.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// A time-bounded map from token hash to a value, shared by [`CachedVerifier`] and the
/// introspection verifier.
#[derive(Debug)]
pub(crate) struct TokenCache<V: Clone> {
    cache: quick_cache::sync::Cache<[u8; 32], (V, UnixTime)>,
    clock: SharedClock,
}

impl<V: Clone> TokenCache<V> {
    pub(crate) fn new(capacity: usize, clock: SharedClock) -> Self {
        Self {
            cache: quick_cache::sync::Cache::new(capacity.max(1)),
            clock,
        }
    }

    /// The value for `token` if present and not expired (an expired one is removed).
    pub(crate) fn get(&self, token: &str) -> Option<V> {
        let key = sha256(token.as_bytes());
        let (value, until) = self.cache.get(&key)?;
        if self.clock.now() < until {
            Some(value)
        } else {
            self.cache.remove(&key);
            None
        }
    }

    /// Stores `value` for `seconds` from now; nothing is stored for a non-positive lifetime.
    pub(crate) fn insert(&self, token: &str, value: V, seconds: i64) {
        if seconds > 0 {
            let until = self.clock.now().saturating_add(seconds);
            self.cache.insert(sha256(token.as_bytes()), (value, until));
        }
    }

    pub(crate) fn now(&self) -> UnixTime {
        self.clock.now()
    }

    pub(crate) fn len(&self) -> usize {
        self.cache.len()
    }
}

/// A verified-token cache in front of any verifier.
///
/// Only successes are cached: a failure is cheap to repeat for a JWT, and the introspection
/// verifier caches its own inactive answers. Revocation at the issuer is seen after `max_ttl`
/// at the latest (default 60 s); lower it if that matters more than verification cost.
#[derive(Debug)]
pub struct CachedVerifier<V> {
    inner: V,
    cache: TokenCache<Principal>,
    max_ttl: u64,
}

impl<V: TokenVerifier> CachedVerifier<V> {
    /// A cache of [`DEFAULT_CACHE_CAPACITY`] tokens, at most 60 s each, on the system clock.
    pub fn new(inner: V) -> Self {
        Self::with_options(
            inner,
            DEFAULT_CACHE_CAPACITY,
            Duration::from_secs(60),
            Arc::new(SystemClock),
        )
    }

    /// A cache with explicit capacity, maximum lifetime and clock.
    pub fn with_options(inner: V, capacity: usize, max_ttl: Duration, clock: SharedClock) -> Self {
        Self {
            inner,
            cache: TokenCache::new(capacity, clock),
            max_ttl: max_ttl.as_secs(),
        }
    }

    /// The verifier behind the cache.
    pub fn inner(&self) -> &V {
        &self.inner
    }

    /// How many tokens are cached now.
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl<V: TokenVerifier> TokenVerifier for CachedVerifier<V> {
    async fn verify(&self, token: &str) -> Result<Principal, VerifyError> {
        if let Some(p) = self.cache.get(token) {
            // A reference-count increment: the principal's data is shared.
            return Ok(p);
        }
        let principal = self.inner.verify(token).await?;
        let lifetime = cache_lifetime(self.cache.now(), principal.expires_at, self.max_ttl);
        self.cache.insert(token, principal.clone(), lifetime);
        Ok(principal)
    }

    fn cached(&self, token: &str) -> Option<Result<Principal, VerifyError>> {
        self.cache.get(token).map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_oauth_core::ScopeSet;
    use mcp_oauth_core::clock::TestClock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A verifier that accepts `good-<exp>` tokens and counts its calls.
    #[derive(Debug, Default)]
    struct Counting(AtomicUsize);

    #[async_trait]
    impl TokenVerifier for Counting {
        async fn verify(&self, token: &str) -> Result<Principal, VerifyError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            let exp = token
                .strip_prefix("good-")
                .and_then(|e| e.parse().ok())
                .ok_or_else(|| VerifyError::invalid("bad"))?;
            Ok(Principal::new(crate::principal::PrincipalData {
                issuer: "https://as".into(),
                subject: Some("alice".into()),
                client_id: None,
                scopes: ScopeSet::new(),
                audience: vec![],
                expires_at: Some(exp),
                claims: serde_json::Value::Null,
            }))
        }
    }

    #[tokio::test]
    async fn caches_until_exp_and_max_ttl() {
        let clock = TestClock::new(1000);
        let v = CachedVerifier::with_options(
            Counting::default(),
            100,
            Duration::from_secs(60),
            Arc::new(clock.clone()),
        );
        // exp in 30 s: cached for 30 s.
        assert!(v.verify("good-1030").await.is_ok());
        assert!(v.verify("good-1030").await.is_ok());
        assert_eq!(v.inner().0.load(Ordering::SeqCst), 1);
        clock.advance(29);
        assert!(v.verify("good-1030").await.is_ok());
        assert_eq!(v.inner().0.load(Ordering::SeqCst), 1);
        clock.advance(1);
        assert!(v.verify("good-1030").await.is_ok());
        assert_eq!(
            v.inner().0.load(Ordering::SeqCst),
            2,
            "expired entry re-verified"
        );

        // exp far away: cached for max_ttl only.
        clock.set(2000);
        assert!(v.verify("good-9999").await.is_ok());
        clock.advance(59);
        assert!(v.verify("good-9999").await.is_ok());
        assert_eq!(v.inner().0.load(Ordering::SeqCst), 3);
        clock.advance(1);
        assert!(v.verify("good-9999").await.is_ok());
        assert_eq!(v.inner().0.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn cached_answers_hits_only() {
        let clock = TestClock::new(1000);
        let v = CachedVerifier::with_options(
            Counting::default(),
            100,
            Duration::from_secs(60),
            Arc::new(clock.clone()),
        );
        assert!(v.cached("good-1030").is_none());
        let p = v.verify("good-1030").await.unwrap();
        let hit = v.cached("good-1030").unwrap().unwrap();
        assert!(Arc::ptr_eq(p.data(), hit.data()), "a hit shares the data");
        // Through the guard's `Arc<dyn TokenVerifier>`.
        let shared: crate::SharedVerifier = Arc::new(v);
        assert!(shared.cached("good-1030").is_some());
        assert!(shared.cached("bad").is_none());
        clock.advance(30);
        assert!(shared.cached("good-1030").is_none(), "expired");
    }

    #[tokio::test]
    async fn failures_and_expired_are_not_cached() {
        let clock = TestClock::new(1000);
        let v = CachedVerifier::with_options(
            Counting::default(),
            100,
            Duration::from_secs(60),
            Arc::new(clock),
        );
        assert!(v.verify("bad").await.is_err());
        assert!(v.verify("bad").await.is_err());
        assert!(v.verify("good-900").await.is_ok());
        assert_eq!(v.inner().0.load(Ordering::SeqCst), 3);
        assert!(v.is_empty());
    }

    #[tokio::test]
    async fn capacity_is_bounded() {
        let clock = TestClock::new(1000);
        let v = CachedVerifier::with_options(
            Counting::default(),
            8,
            Duration::from_secs(60),
            Arc::new(clock),
        );
        for i in 0..100 {
            v.verify(&format!("good-{}", 5000 + i)).await.unwrap();
        }
        assert!(v.len() <= 16, "{}", v.len());
    }
}
