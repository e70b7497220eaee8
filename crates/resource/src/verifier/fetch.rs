//! HTTP for verifiers: issuer metadata discovery, JWKS and introspection requests, with timeouts,
//! a response size bound and HTTPS unless explicitly relaxed.
//!
//! Every failure becomes a [`FetchError`] with text for the log; nothing here panics, and the
//! caller decides whether a failure means `invalid_token` or `503`.

use super::discovery::{Attempt, DiscoveryError};
use crate::error::ConfigError;
use mcp_oauth_core::metadata::AuthorizationServerMetadata;
use mcp_oauth_core::outbound::{PlainHttp, UrlPolicy};
use mcp_oauth_core::wellknown::authorization_server_metadata_urls;
use serde::de::DeserializeOwned;
use std::fmt;
use std::time::Duration;

/// How verifiers reach the issuer. The defaults suit a production resource server.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Whole-request timeout. Default 10 s: a slow issuer must not hold requests for long.
    pub timeout: Duration,
    /// Connect timeout. Default 5 s.
    pub connect_timeout: Duration,
    /// The largest metadata, JWKS or introspection response read. Default 1 MiB.
    pub max_response_bytes: usize,
    /// Allow `http://` issuers and endpoints. Default false: tokens and keys fetched over plain
    /// HTTP can be forged by anyone on the path. Only for local development and tests.
    pub insecure_allow_http: bool,
    /// A client to use instead of one built from these options (proxies, custom roots). The
    /// timeouts above then do not apply; the HTTPS rule still does, for every URL used.
    pub client: Option<reqwest::Client>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_response_bytes: 1024 * 1024,
            insecure_allow_http: false,
            client: None,
        }
    }
}

/// Why an HTTP exchange with the issuer failed. Text for the log only.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// Connection, TLS or timeout.
    Transport(String),
    /// A non-success status.
    Status(u16),
    /// Too large, or not the JSON expected.
    Body(String),
    /// The URL is not acceptable (plain HTTP, unparsable).
    Url(String),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(e) => write!(f, "transport error: {e}"),
            Self::Status(s) => write!(f, "HTTP status {s}"),
            Self::Body(e) => write!(f, "bad response body: {e}"),
            Self::Url(e) => write!(f, "refused URL: {e}"),
        }
    }
}

/// The HTTP side of a verifier.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
    allow_http: bool,
    max_bytes: usize,
}

impl Http {
    pub(crate) fn new(opts: &HttpOptions) -> Result<Self, ConfigError> {
        let client = match &opts.client {
            Some(c) => c.clone(),
            None => reqwest::Client::builder()
                .timeout(opts.timeout)
                .connect_timeout(opts.connect_timeout)
                .redirect(reqwest::redirect::Policy::limited(3))
                .https_only(!opts.insecure_allow_http)
                .build()
                .map_err(|e| ConfigError::HttpClient(e.to_string()))?,
        };
        Ok(Self {
            client,
            allow_http: opts.insecure_allow_http,
            max_bytes: opts.max_response_bytes,
        })
    }

    /// Checks that `url` parses and is HTTPS (or HTTP when allowed).
    pub(crate) fn check_url(&self, url: &str) -> Result<(), ConfigError> {
        check_url(url, self.allow_http)
    }

    /// GETs a JSON document.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, FetchError> {
        self.check_url(url)
            .map_err(|e| FetchError::Url(e.to_string()))?;
        let resp = self
            .client
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        self.read_json(resp).await
    }

    /// POSTs a form with HTTP Basic client authentication (`client_secret_basic`, RFC 6749
    /// §2.3.1: id and secret form-encoded before being joined) and reads a JSON answer.
    pub(crate) async fn post_form_json<T: DeserializeOwned>(
        &self,
        url: &str,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Result<T, FetchError> {
        self.check_url(url)
            .map_err(|e| FetchError::Url(e.to_string()))?;
        let mut req = self
            .client
            .post(url)
            .header(http::header::ACCEPT, "application/json")
            .form(form);
        if let Some((id, secret)) = basic {
            let mut value = http::HeaderValue::from_str(&mcp_oauth_core::basic::encode(id, secret))
                .map_err(|_| FetchError::Url("client credentials cannot be sent".into()))?;
            value.set_sensitive(true);
            req = req.header(http::header::AUTHORIZATION, value);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        self.read_json(resp).await
    }

    async fn read_json<T: DeserializeOwned>(
        &self,
        mut resp: reqwest::Response,
    ) -> Result<T, FetchError> {
        if !resp.status().is_success() {
            return Err(FetchError::Status(resp.status().as_u16()));
        }
        if resp
            .content_length()
            .is_some_and(|len| len > self.max_bytes as u64)
        {
            return Err(FetchError::Body("response too large".into()));
        }
        let mut buf = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| FetchError::Transport(e.to_string()))?
        {
            if buf.len() + chunk.len() > self.max_bytes {
                return Err(FetchError::Body("response too large".into()));
            }
            buf.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&buf).map_err(|e| FetchError::Body(e.to_string()))
    }

    /// Fetches the issuer's metadata from the well-known URLs in the MCP order (RFC 8414
    /// path-insert, OpenID path-insert, OpenID path-append) and returns the first document whose
    /// `issuer` is exactly `issuer` (RFC 8414 §3.3: a document for another issuer must not be
    /// used); otherwise what each URL gave.
    pub(crate) async fn discover(
        &self,
        issuer: &str,
    ) -> Result<AuthorizationServerMetadata, DiscoveryError> {
        let fail = |attempts| DiscoveryError {
            issuer: issuer.to_owned(),
            attempts,
        };
        let urls = authorization_server_metadata_urls(issuer).ok_or_else(|| fail(Vec::new()))?;
        let mut attempts = Vec::new();
        for url in urls {
            let outcome = match self.get_json::<AuthorizationServerMetadata>(&url).await {
                Ok(m) if m.issuer == issuer => return Ok(m),
                Ok(m) => Attempt::OtherIssuer(m.issuer),
                Err(FetchError::Transport(e)) => Attempt::Unreachable(e),
                Err(FetchError::Status(s)) => Attempt::Status(s),
                Err(e) => Attempt::Invalid(e.to_string()),
            };
            attempts.push((url, outcome));
        }
        Err(fail(attempts))
    }
}

/// Checks `url` against the outbound-URL policy of `mcp_oauth_core::outbound`: HTTPS, or plain
/// HTTP to any host when `allow_http` (`insecure_allow_http`: a development issuer may sit under
/// a service name, not only on loopback); never user information. A plain-HTTP refusal is
/// [`ConfigError::InsecureUrl`], every other one [`ConfigError::InvalidUrl`].
pub(crate) fn check_url(url: &str, allow_http: bool) -> Result<(), ConfigError> {
    let policy = UrlPolicy {
        plain_http: if allow_http {
            PlainHttp::Any
        } else {
            PlainHttp::Never
        },
    };
    match policy.check(url) {
        Ok(_) => Ok(()),
        Err(r) if r.is_plain_http() => Err(ConfigError::InsecureUrl(url.to_owned())),
        Err(_) => Err(ConfigError::InvalidUrl(url.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_unless_allowed() {
        assert!(check_url("https://as.example/jwks", false).is_ok());
        assert_eq!(
            check_url("http://as.example/jwks", false),
            Err(ConfigError::InsecureUrl("http://as.example/jwks".into()))
        );
        assert!(check_url("http://127.0.0.1:9/jwks", true).is_ok());
        assert!(matches!(
            check_url("file:///etc/passwd", true),
            Err(ConfigError::InvalidUrl(_))
        ));
        assert!(matches!(
            check_url("nope", true),
            Err(ConfigError::InvalidUrl(_))
        ));
        assert!(check_url("http://as.example/jwks", true).is_ok());
        assert!(matches!(
            check_url("https://user:pw@as.example/jwks", true),
            Err(ConfigError::InvalidUrl(_))
        ));
    }
}
