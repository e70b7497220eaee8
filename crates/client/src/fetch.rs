//! Outbound HTTP with the client's safety rules: the URL policy, no automatic redirects, short
//! timeouts and bounded bodies.
//!
//! Every URL a server hands us (`resource_metadata`, `authorization_servers`, endpoints) is
//! attacker-controlled as far as this client knows, so each request passes [`check_url`] first
//! (MCP Security Best Practices, SSRF; RFC 9728 §7.7). Redirects are never followed: a metadata
//! URL that redirects counts as "not found here" and the next candidate is tried.

use crate::error::{Error, Result};
use mcp_oauth_core::outbound::UrlPolicy;
use reqwest::header::{HeaderMap, HeaderValue};
use std::time::Duration;

/// The header MCP clients send during metadata discovery (2025-03-26 and later).
pub const MCP_PROTOCOL_VERSION: &str = "MCP-Protocol-Version";

/// The MCP protocol revision sent by default.
pub const DEFAULT_PROTOCOL_VERSION: &str = "2025-11-25";

/// Settings of the outbound HTTP client.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Allow `http://` on loopback addresses (development and tests). Default: false.
    pub allow_insecure_http: bool,
    /// Whole-request timeout (connect, send, read the body). Default: 10 s.
    pub timeout: Duration,
    /// Largest body read. Default: 1 MiB.
    pub max_response_bytes: usize,
    /// The `MCP-Protocol-Version` sent on discovery requests.
    pub protocol_version: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            allow_insecure_http: false,
            timeout: Duration::from_secs(10),
            max_response_bytes: 1024 * 1024,
            protocol_version: DEFAULT_PROTOCOL_VERSION.to_owned(),
        }
    }
}

/// Checks `url` against the URL policy ([`UrlPolicy`]): `https`, or `http` on a loopback host
/// when `allow_insecure_http` is set; never user information. Returns the parsed URL for sending
/// (the original string stays the one compared and stored).
pub fn check_url(url: &str, allow_insecure_http: bool) -> Result<url::Url> {
    UrlPolicy::loopback_http(allow_insecure_http)
        .check(url)
        .map_err(|refusal| Error::UrlRefused {
            url: url.to_owned(),
            reason: refusal.to_string(),
        })
}

/// A response read in full (up to the size limit). Its `Debug` omits the body, which may hold
/// tokens.
#[derive(Clone)]
pub struct Fetched {
    /// The URL requested.
    pub url: String,
    /// The HTTP status.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Fetched {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetched")
            .field("url", &self.url)
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Fetched {
    /// All values of `WWW-Authenticate`.
    pub fn www_authenticate(&self) -> Vec<&str> {
        self.headers
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// Parses the body as JSON of type `T`, or describes why it is not.
    pub fn json<T: serde::de::DeserializeOwned>(&self, expected: &'static str) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| Error::InvalidResponse {
            url: self.url.clone(),
            status: self.status,
            expected,
            detail: e.to_string(),
        })
    }
}

/// The HTTP client every OAuth request of this crate goes through.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    settings: HttpSettings,
}

impl Fetcher {
    /// Builds a client with redirects off and the configured timeout.
    pub fn new(settings: HttpSettings) -> Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("mcp-oauth-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { client, settings })
    }

    /// The settings this fetcher enforces.
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// Applies the URL policy with this fetcher's dev switch.
    pub fn check(&self, url: &str) -> Result<url::Url> {
        check_url(url, self.settings.allow_insecure_http)
    }

    /// GET for discovery: sends `Accept: application/json` and `MCP-Protocol-Version`.
    pub async fn get_metadata(&self, url: &str) -> Result<Fetched> {
        let u = self.check(url)?;
        let req = self
            .client
            .get(u)
            .header(reqwest::header::ACCEPT, "application/json")
            .header(MCP_PROTOCOL_VERSION, &self.settings.protocol_version);
        self.send(url, req).await
    }

    /// A plain GET without extra headers (used by the headless prompt).
    pub async fn get(&self, url: &str) -> Result<Fetched> {
        let u = self.check(url)?;
        self.send(url, self.client.get(u)).await
    }

    /// POST `application/x-www-form-urlencoded`, with an optional `Authorization` value.
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(String, String)],
        authorization: Option<HeaderValue>,
    ) -> Result<Fetched> {
        self.post_form_with(url, form, authorization, &[]).await
    }

    /// [`Self::post_form`] with more headers (a DPoP proof).
    pub async fn post_form_with(
        &self,
        url: &str,
        form: &[(String, String)],
        authorization: Option<HeaderValue>,
        extra: &[(&str, HeaderValue)],
    ) -> Result<Fetched> {
        let u = self.check(url)?;
        let mut req = self
            .client
            .post(u)
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form);
        if let Some(mut v) = authorization {
            v.set_sensitive(true);
            req = req.header(reqwest::header::AUTHORIZATION, v);
        }
        for (name, value) in extra {
            let mut v = value.clone();
            v.set_sensitive(true);
            req = req.header(*name, v);
        }
        self.send(url, req).await
    }

    /// POST a JSON body.
    pub async fn post_json<T: serde::Serialize + ?Sized>(
        &self,
        url: &str,
        body: &T,
        extra: &[(&str, &str)],
    ) -> Result<Fetched> {
        let u = self.check(url)?;
        let mut req = self
            .client
            .post(u)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(body);
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        self.send(url, req).await
    }

    /// Any method with the given headers and no body: what a diagnosis needs that a client
    /// flow does not (a CORS preflight `OPTIONS`, a `GET` carrying `Origin`). The URL policy
    /// applies as to every other request.
    pub async fn request(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<Fetched> {
        let u = self.check(url)?;
        let mut req = self.client.request(method, u);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(url, req).await
    }

    async fn send(&self, url: &str, req: reqwest::RequestBuilder) -> Result<Fetched> {
        let map = |e: reqwest::Error| self.map_err(url, e);
        let mut resp = req.send().await.map_err(map)?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let limit = self.settings.max_response_bytes;
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(Error::ResponseTooLarge {
                url: url.to_owned(),
                limit,
            });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(map)? {
            if body.len() + chunk.len() > limit {
                return Err(Error::ResponseTooLarge {
                    url: url.to_owned(),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            url: url.to_owned(),
            status,
            headers,
            body,
        })
    }

    fn map_err(&self, url: &str, e: reqwest::Error) -> Error {
        if e.is_timeout() {
            Error::Timeout {
                url: url.to_owned(),
                timeout: self.settings.timeout,
            }
        } else {
            Error::Transport {
                url: url.to_owned(),
                source: e.without_url(),
            }
        }
    }
}

/// A short description of a failed fetch for an [`crate::error::Attempt`].
pub fn describe_failure(e: &Error) -> String {
    match e {
        Error::Timeout { timeout, .. } => format!("timed out after {} ms", timeout.as_millis()),
        Error::Transport { source, .. } => format!("request failed ({source})"),
        Error::ResponseTooLarge { limit, .. } => format!("body larger than {limit} bytes"),
        Error::UrlRefused { reason, .. } => format!("refused: {reason}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_policy() {
        assert!(check_url("https://as.example/x", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/x", true).is_ok());
        assert!(check_url("http://[::1]:8080/x", true).is_ok());
        assert!(check_url("http://localhost/x", true).is_ok());
        assert!(check_url("http://127.0.0.1:8080/x", false).is_err());
        assert!(check_url("http://example.com/x", true).is_err());
        assert!(check_url("https://user:pw@example.com/x", false).is_err());
        assert!(check_url("javascript:alert(1)", true).is_err());
        assert!(check_url("file:///etc/passwd", true).is_err());
        assert!(check_url("ftp://example.com", true).is_err());
        assert!(check_url("not a url", true).is_err());
    }
}
