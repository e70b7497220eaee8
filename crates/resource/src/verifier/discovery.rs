//! Issuer metadata discovery for callers that must say precisely what went wrong (the guard's
//! start-up checks): the same lookup the verifiers do (RFC 8414 path-insert, OpenID path-insert,
//! OpenID path-append; the document's `issuer` must be exactly the configured one, RFC 8414
//! §3.3), with every URL's outcome kept apart.

use super::fetch::{Http, HttpOptions};
use crate::error::ConfigError;
use mcp_oauth_core::metadata::AuthorizationServerMetadata;
use std::fmt;

/// What one well-known URL gave.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attempt {
    /// No connection, TLS failure or timeout.
    Unreachable(String),
    /// A non-success HTTP status.
    Status(u16),
    /// A document that is not metadata (or too large), or a refused URL.
    Invalid(String),
    /// Metadata naming this other issuer.
    OtherIssuer(String),
}

/// No usable metadata for `issuer`: each URL tried and what it gave (none, when the issuer is
/// not an absolute URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryError {
    /// The issuer looked up.
    pub issuer: String,
    /// Each URL tried, in order, and its outcome.
    pub attempts: Vec<(String, Attempt)>,
}

impl DiscoveryError {
    /// Whether no URL could be reached at all (the issuer is down or the address is wrong).
    pub fn unreachable(&self) -> bool {
        !self.attempts.is_empty()
            && self
                .attempts
                .iter()
                .all(|(_, a)| matches!(a, Attempt::Unreachable(_)))
    }

    /// The issuer a metadata document named instead, if one did.
    pub fn other_issuer(&self) -> Option<&str> {
        self.attempts.iter().find_map(|(_, a)| match a {
            Attempt::OtherIssuer(i) => Some(i.as_str()),
            _ => None,
        })
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(e) => write!(f, "unreachable ({e})"),
            Self::Status(s) => write!(f, "HTTP status {s}"),
            Self::Invalid(e) => write!(f, "{e}"),
            Self::OtherIssuer(i) => write!(f, "metadata names issuer `{i}`"),
        }
    }
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.attempts.is_empty() {
            return write!(f, "issuer `{}` is not an absolute URI", self.issuer);
        }
        write!(f, "no usable metadata for issuer `{}`: ", self.issuer)?;
        for (i, (url, a)) in self.attempts.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{url}: {a}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DiscoveryError {}

/// Fetches `issuer`'s metadata as the verifiers do, with `http`'s settings (HTTPS unless
/// `insecure_allow_http`). The outer error is a refused setting (a plain-HTTP issuer).
pub async fn discover(
    issuer: &str,
    http: &HttpOptions,
) -> Result<Result<AuthorizationServerMetadata, DiscoveryError>, ConfigError> {
    let http = Http::new(http)?;
    http.check_url(issuer)?;
    Ok(http.discover(issuer).await)
}
