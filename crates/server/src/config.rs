//! The server's typed configuration. The library never reads files or the environment; the CLI
//! builds this from flags, TOML and `MCP_OAUTH_*` variables.

use mcp_oauth_core::jose::Algorithm;
use mcp_oauth_core::uri::{UriParts, is_loopback_host};

/// Settings of one authorization server. Every field documents its default and why.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The issuer identifier: `https://…` (no query, no fragment, no trailing slash). `http://`
    /// only on a loopback host (127.0.0.0/8, `[::1]`, `localhost`), where traffic never leaves the
    /// machine; any other `http://` issuer is refused.
    pub issuer: String,
    /// Access token lifetime in seconds. Default 900 (15 minutes): short, because a JWT cannot be
    /// recalled from a resource server that does not introspect.
    pub access_token_ttl: i64,
    /// Authorization code lifetime in seconds. Default 60 (RFC 6749 §4.1.2 recommends ≤ 10 min).
    pub code_ttl: i64,
    /// Idle lifetime of a refresh token in seconds. Default 30 days.
    pub refresh_token_ttl: i64,
    /// Absolute lifetime of a refresh-token family in seconds. Default 90 days.
    pub refresh_family_ttl: i64,
    /// Seconds after a rotation in which a retried refresh with the same token gets the same
    /// successor instead of revoking the family. Default 10: long enough for a lost response and a
    /// retry, short enough that a thief racing the client gains nothing.
    pub refresh_grace: i64,
    /// Browser session lifetime in seconds. Default 8 hours.
    pub session_ttl: i64,
    /// Signing algorithm for access tokens. Default ES256.
    pub signing_alg: Algorithm,
    /// Development mode: on a plain-http loopback issuer, sends the session cookie without the
    /// `__Host-` prefix and `Secure` (which some browsers refuse over http). Default false:
    /// outside it the cookie is always `__Host-…; Secure`.
    pub dev: bool,
    /// Largest request body accepted by the form endpoints, in bytes. Default 64 KiB.
    pub max_body_bytes: usize,
    /// Failed logins per account or IP before back-off starts. Default 5.
    pub login_free_attempts: u32,
    /// Longest login back-off in seconds. Default 900.
    pub login_max_backoff: u64,
    /// Whether refresh tokens are issued to clients registered for the refresh grant. Default true.
    pub issue_refresh_tokens: bool,
}

/// A configuration value that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration `{key}`: {message}")]
pub struct ConfigError {
    /// The offending key.
    pub key: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl ServerConfig {
    /// Defaults for `issuer`.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            access_token_ttl: 900,
            code_ttl: 60,
            refresh_token_ttl: 30 * 86_400,
            refresh_family_ttl: 90 * 86_400,
            refresh_grace: 10,
            session_ttl: 8 * 3_600,
            signing_alg: Algorithm::ES256,
            dev: false,
            max_body_bytes: 64 * 1024,
            login_free_attempts: 5,
            login_max_backoff: 900,
            issue_refresh_tokens: true,
        }
    }

    /// Checks the configuration and normalises the issuer (a lone trailing `/` is removed).
    pub fn validate(mut self) -> Result<Self, ConfigError> {
        let err = |key, message: &str| ConfigError {
            key,
            message: message.to_owned(),
        };
        if self.issuer.ends_with('/') {
            self.issuer.pop();
        }
        let parts = UriParts::split(&self.issuer)
            .ok_or_else(|| err("issuer", "must be an absolute https URL"))?;
        if url::Url::parse(&self.issuer).is_err() {
            return Err(err("issuer", "must be an absolute https URL"));
        }
        if parts.query.is_some() || parts.fragment.is_some() || parts.has_userinfo() {
            return Err(err(
                "issuer",
                "must not contain a query, a fragment or user information (RFC 8414 §2)",
            ));
        }
        match parts.scheme {
            "https" => {}
            "http" if is_loopback_host(parts.host()) => {}
            "http" => {
                return Err(err(
                    "issuer",
                    "http:// is only allowed on a loopback address (127.0.0.1, [::1], localhost); use https",
                ));
            }
            _ => return Err(err("issuer", "must use https")),
        }
        for (key, v) in [
            ("access_token_ttl", self.access_token_ttl),
            ("code_ttl", self.code_ttl),
            ("refresh_token_ttl", self.refresh_token_ttl),
            ("refresh_family_ttl", self.refresh_family_ttl),
            ("session_ttl", self.session_ttl),
        ] {
            if v <= 0 {
                return Err(err(key, "must be a positive number of seconds"));
            }
        }
        if self.code_ttl > 600 {
            return Err(err(
                "code_ttl",
                "must be at most 600 seconds (RFC 6749 §4.1.2)",
            ));
        }
        if self.refresh_grace < 0 || self.refresh_grace > 300 {
            return Err(err("refresh_grace", "must be between 0 and 300 seconds"));
        }
        if !mcp_oauth_core::jose::SIGNING_ALGORITHMS.contains(&self.signing_alg) {
            return Err(err("signing_alg", "must be ES256, EdDSA, RS256 or PS256"));
        }
        Ok(self)
    }

    /// The issuer's path (`""` or `/tenant`), under which the endpoints are mounted.
    pub fn issuer_path(&self) -> &str {
        UriParts::split(&self.issuer).map_or("", |p| p.path)
    }

    /// Whether the issuer is served over https.
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// Whether the session cookie carries `Secure` and the `__Host-` prefix: always, except in
    /// development mode on a plain-http issuer.
    pub fn secure_cookie(&self) -> bool {
        self.is_https() || !self.dev
    }

    /// The absolute URL of an endpoint (`/token` → `https://issuer/token`).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_rules() {
        assert!(ServerConfig::new("https://auth.example").validate().is_ok());
        assert_eq!(
            ServerConfig::new("https://auth.example/")
                .validate()
                .unwrap()
                .issuer,
            "https://auth.example"
        );
        assert!(ServerConfig::new("http://auth.example").validate().is_err());
        assert!(ServerConfig::new("http://10.0.0.1").validate().is_err());
        assert!(
            ServerConfig::new("http://127.0.0.1:8080")
                .validate()
                .is_ok()
        );
        assert!(ServerConfig::new("http://[::1]:8080").validate().is_ok());
        assert!(
            ServerConfig::new("http://localhost:8080")
                .validate()
                .is_ok()
        );
        assert!(
            ServerConfig::new("https://a.example?x=1")
                .validate()
                .is_err()
        );
        assert!(ServerConfig::new("https://a.example#f").validate().is_err());
        assert!(ServerConfig::new("ftp://a.example").validate().is_err());
    }

    #[test]
    fn issuer_path_and_endpoints() {
        let c = ServerConfig::new("https://a.example/tenant")
            .validate()
            .unwrap();
        assert_eq!(c.issuer_path(), "/tenant");
        assert_eq!(c.endpoint("/token"), "https://a.example/tenant/token");
    }
}
