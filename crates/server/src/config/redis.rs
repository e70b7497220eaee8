//! The Redis settings' own types: the URL, which may carry a password and so is never printed,
//! and its checks. The settings themselves are `redis_url`, `redis_timeout_ms`,
//! `redis_key_prefix` and `redis_ca_file` of [`super::ServerConfig`]; what runs on Redis is
//! [`crate::shared`].

use serde::Deserialize;

/// A `redis://` or `rediss://` URL, or empty (no Redis). Its `Debug` shows the host only: a
/// password in the URL must not reach a log line through the configuration.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// The URL as given.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL, for the connection only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether a URL is set.
    pub fn is_set(&self) -> bool {
        !self.0.is_empty()
    }

    /// Whether it is a `rediss://` (TLS) URL.
    pub fn is_tls(&self) -> bool {
        self.0
            .get(..9)
            .is_some_and(|s| s.eq_ignore_ascii_case("rediss://"))
    }

    /// The URL with any user information masked, for messages.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut u) => {
                if !u.username().is_empty() || u.password().is_some() {
                    let _ = u.set_username("***");
                    let _ = u.set_password(None);
                }
                u.to_string()
            }
            Err(_) => "(not a URL)".to_owned(),
        }
    }

    /// The URL's rules: `redis://` or `rediss://` (TLS, by rustls) with a host.
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        if !self.is_set() {
            return Ok(());
        }
        let Ok(u) = url::Url::parse(&self.0) else {
            return Err("must be a redis:// or rediss:// URL");
        };
        if !matches!(u.scheme(), "redis" | "rediss") {
            return Err("must be a redis:// or rediss:// URL (rediss:// for TLS)");
        }
        if u.host_str().is_none_or(str::is_empty) {
            return Err("must name a host, as in redis://127.0.0.1:6379");
        }
        Ok(())
    }
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_set() {
            write!(f, "RedisUrl({})", self.redacted())
        } else {
            f.write_str("RedisUrl(none)")
        }
    }
}

impl<'de> Deserialize<'de> for RedisUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

/// The longest `redis_timeout_ms`: a request must never wait on Redis for long.
pub const MAX_TIMEOUT_MS: u64 = 5_000;

/// Checks the timeout and the key prefix.
pub(crate) fn check_timeout_and_prefix(
    timeout_ms: u64,
    prefix: &str,
) -> Result<(), (&'static str, &'static str)> {
    if timeout_ms == 0 || timeout_ms > MAX_TIMEOUT_MS {
        return Err((
            "redis_timeout_ms",
            "must be between 1 and 5000 milliseconds",
        ));
    }
    if prefix.is_empty()
        || prefix.len() > 64
        || prefix.bytes().any(|b| b.is_ascii_control() || b == b' ')
    {
        return Err((
            "redis_key_prefix",
            "must be 1 to 64 bytes without spaces or control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_never_shows() {
        let u = RedisUrl::new("redis://app:s3cret@cache.internal:6380/2");
        assert!(!format!("{u:?}").contains("s3cret"));
        assert!(!u.redacted().contains("s3cret"));
        assert!(u.redacted().contains("cache.internal:6380"));
        assert_eq!(u.check(), Ok(()));
        assert_eq!(RedisUrl::new("rediss://cache.internal").check(), Ok(()));
        assert!(RedisUrl::new("http://cache.internal").check().is_err());
        assert!(RedisUrl::new("not a url").check().is_err());
        assert_eq!(RedisUrl::default().check(), Ok(()));
        assert_eq!(format!("{:?}", RedisUrl::default()), "RedisUrl(none)");
    }

    #[test]
    fn timeout_and_prefix_are_bounded() {
        assert!(check_timeout_and_prefix(50, "mcp-oauth:").is_ok());
        assert!(check_timeout_and_prefix(0, "p:").is_err());
        assert!(check_timeout_and_prefix(5_001, "p:").is_err());
        assert!(check_timeout_and_prefix(50, "").is_err());
        assert!(check_timeout_and_prefix(50, "a b").is_err());
    }
}
