//! The SSRF-safe fetcher for URLs that strangers choose: Client ID Metadata Documents and client
//! `jwks_uri`s.
//!
//! Every fetch:
//! - takes `https` URLs only (plain `http` only on a loopback host, and only with the development
//!   switch), without user information;
//! - resolves the host itself and refuses the request if *any* resolved address is special-use
//!   ([`ip`]); reqwest then connects to exactly the addresses that were checked, because
//!   the check lives in its DNS resolver (no second lookup that a rebinding DNS server could
//!   answer differently). IP-literal hosts skip DNS, so they are checked before the request;
//! - never uses a proxy from the environment (a proxy would connect on our behalf, unchecked);
//! - follows no redirect: a 3xx is a failure, like every status other than `200`;
//! - accepts only a JSON content type (`application/json` or `…+json`);
//! - reads at most `max_bytes`, counting what arrives rather than trusting `Content-Length`;
//! - gives up after the connect and total timeouts.
//!
//! `ip` classifies addresses; `host` gives the canonical (ASCII, IP-normalised) form of a host
//! that every check, trust list and page uses.

mod call;
pub mod host;
pub mod ip;

pub use call::Answer;

use mcp_oauth_core::outbound::{Refusal, UrlPolicy};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use url::{Host, Url};

/// Why a fetch failed. The messages name the URL's problem, never response bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The URL may not be fetched at all: the outbound-URL policy of `mcp_oauth_core::outbound`
    /// refuses it (scheme, user information, no host).
    #[error("the URL cannot be fetched: {0}")]
    Url(Refusal),
    /// The host resolves to, or is, an address the server does not connect to.
    #[error("the host resolves to a private or special-use address")]
    ForbiddenAddress,
    /// The host does not resolve.
    #[error("the host name does not resolve")]
    Resolve,
    /// No connection, or no complete answer, within the timeouts.
    #[error("the host did not answer in time")]
    Timeout,
    /// The answer was a redirect, which is never followed.
    #[error("the URL redirects (HTTP {0}); redirects are not followed")]
    Redirect(u16),
    /// Any status other than 200.
    #[error("the URL answered HTTP {0} instead of 200")]
    Status(u16),
    /// Not a JSON content type.
    #[error("the response is not JSON (Content-Type must be application/json)")]
    ContentType,
    /// Larger than allowed.
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    /// Connection or protocol failure.
    #[error("the fetch failed: {0}")]
    Transport(String),
}

/// What `Cache-Control` says about a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheDirectives {
    /// `no-store` or `no-cache`: do not keep it.
    pub no_store: bool,
    /// `max-age`, in seconds.
    pub max_age: Option<u64>,
}

impl CacheDirectives {
    /// Parses a `Cache-Control` value (RFC 9111 §5.2). Unknown directives are ignored; a
    /// malformed `max-age` counts as absent.
    pub fn parse(value: &str) -> Self {
        let mut d = Self::default();
        for part in value.split(',') {
            let part = part.trim();
            let (name, arg) = match part.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (part, None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                d.no_store = true;
            } else if name.eq_ignore_ascii_case("max-age") {
                d.max_age = arg.and_then(|a| a.parse().ok());
            }
        }
        d
    }

    /// How long to keep the response, in seconds, within `[min, max]`; `None` for `no-store`.
    pub fn ttl(&self, min: i64, max: i64) -> Option<i64> {
        if self.no_store {
            return None;
        }
        let asked = self
            .max_age
            .map_or(min, |a| i64::try_from(a).unwrap_or(i64::MAX));
        Some(asked.clamp(min, max))
    }
}

/// A successful fetch.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The body (at most the limit).
    pub body: Vec<u8>,
    /// The response's caching directives.
    pub cache: CacheDirectives,
}

/// A DNS resolver that refuses names resolving to addresses the fetcher may not reach.
#[derive(Debug, Clone, Copy)]
struct GuardedResolver {
    allow_loopback: bool,
}

/// The resolver's refusal, found again in reqwest's error chain.
#[derive(Debug, thiserror::Error)]
#[error("resolved to a forbidden address")]
struct Forbidden;

/// The resolver's failure to find any address.
#[derive(Debug, thiserror::Error)]
#[error("no address")]
struct Unresolved;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_loopback = self.allow_loopback;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| Box::new(Unresolved) as Box<dyn std::error::Error + Send + Sync>)?
                .collect();
            if addrs.is_empty() {
                return Err(Box::new(Unresolved) as Box<dyn std::error::Error + Send + Sync>);
            }
            // One bad address spoils the answer: a name that mixes public and private addresses
            // is either misconfigured or an attack on whichever address gets tried first.
            if addrs
                .iter()
                .any(|a| !ip::is_allowed(a.ip(), allow_loopback))
            {
                tracing::warn!(target: "mcp_oauth::fetch", %host, "refused: the name resolves to a special-use address");
                return Err(Box::new(Forbidden) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Fetches JSON documents from URLs chosen by others, safely. Cheap to share.
#[derive(Debug, Clone)]
pub struct SafeFetcher {
    http: reqwest::Client,
    allow_loopback: bool,
    timeout: Duration,
}

impl SafeFetcher {
    /// A fetcher with these timeouts. `allow_loopback` is the development switch: it permits
    /// loopback addresses (and plain `http` to a loopback host), never any other special range.
    pub fn new(
        allow_loopback: bool,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> Result<Self, FetchError> {
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { allow_loopback }))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .user_agent(concat!("mcp-oauth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::Transport(e.to_string()))?;
        Ok(Self {
            http,
            allow_loopback,
            timeout,
        })
    }

    /// Whether loopback hosts are allowed (the development switch).
    pub fn allows_loopback(&self) -> bool {
        self.allow_loopback
    }

    /// The outbound-URL policy this fetcher applies before any DNS lookup.
    fn policy(&self) -> UrlPolicy {
        UrlPolicy::loopback_http(self.allow_loopback)
    }

    /// Checks that `url` may be fetched, without fetching it: the outbound-URL policy (scheme,
    /// user information, a host), then an IP-literal host's class. Host names are checked when
    /// they are resolved.
    pub fn check_url(&self, url: &str) -> Result<Url, FetchError> {
        let parsed = self.policy().check(url).map_err(FetchError::Url)?;
        self.check_literal(&parsed)?;
        Ok(parsed)
    }

    /// [`Self::check_url`] for a URL parsed already. The host is WHATWG's, so `127.1` and
    /// `0x7f000001` are the loopback address here as they are to the connection.
    pub fn check_parsed(&self, parsed: &Url) -> Result<(), FetchError> {
        self.policy()
            .check_parsed(parsed)
            .map_err(FetchError::Url)?;
        self.check_literal(parsed)
    }

    /// Refuses an IP-literal host of a special-use class (loopback passes with the switch).
    fn check_literal(&self, parsed: &Url) -> Result<(), FetchError> {
        let literal: Option<IpAddr> = match parsed.host() {
            Some(Host::Ipv4(a)) => Some(IpAddr::V4(a)),
            Some(Host::Ipv6(a)) => Some(IpAddr::V6(a)),
            Some(Host::Domain(_)) | None => None,
        };
        if let Some(a) = literal
            && !ip::is_allowed(a, self.allow_loopback)
        {
            let url = parsed.as_str();
            tracing::warn!(target: "mcp_oauth::fetch", %url, "refused: special-use IP literal");
            return Err(FetchError::ForbiddenAddress);
        }
        Ok(())
    }

    /// GETs `url` as JSON under every rule of this module, reading at most `max_bytes`.
    pub async fn get_json(&self, url: &str, max_bytes: usize) -> Result<Fetched, FetchError> {
        let parsed = self.check_url(url)?;
        self.get_json_url(parsed, max_bytes).await
    }

    /// [`Self::get_json`] for a URL parsed already (a client id checked by
    /// [`crate::cimd::document::check_url`]): the URL that was checked is the one fetched.
    pub async fn get_json_url(&self, parsed: Url, max_bytes: usize) -> Result<Fetched, FetchError> {
        self.check_parsed(&parsed)?;
        // reqwest's own timeout covers the request; this one also covers DNS and the body.
        match tokio::time::timeout(self.timeout, self.fetch(parsed, max_bytes)).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout),
        }
    }

    async fn fetch(&self, url: Url, max_bytes: usize) -> Result<Fetched, FetchError> {
        let resp = send(self.http.get(url)).await?;
        let status = resp.status();
        if status != reqwest::StatusCode::OK {
            return Err(FetchError::Status(status.as_u16()));
        }
        if !has_json_body(&resp) {
            return Err(FetchError::ContentType);
        }
        let cache = resp
            .headers()
            .get_all(reqwest::header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        let cache = CacheDirectives::parse(&cache);
        let body = read_limited(resp, max_bytes).await?;
        Ok(Fetched { body, cache })
    }
}

/// Sends a request that asks for JSON; a redirect is a failure, never followed.
async fn send(req: reqwest::RequestBuilder) -> Result<reqwest::Response, FetchError> {
    let resp = req
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(map_reqwest)?;
    let status = resp.status();
    if status.is_redirection() {
        return Err(FetchError::Redirect(status.as_u16()));
    }
    Ok(resp)
}

/// Reads a body, counting what arrives rather than trusting `Content-Length`.
async fn read_limited(
    mut resp: reqwest::Response,
    max_bytes: usize,
) -> Result<Vec<u8>, FetchError> {
    if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
        return Err(FetchError::TooLarge(max_bytes));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(map_reqwest)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(FetchError::TooLarge(max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether a response says its body is JSON.
fn has_json_body(resp: &reqwest::Response) -> bool {
    let ct = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    is_json_content_type(ct)
}

/// `application/json`, or a structured `+json` type, with any parameters.
fn is_json_content_type(ct: &str) -> bool {
    let mime = ct.split(';').next().unwrap_or_default().trim();
    mime.eq_ignore_ascii_case("application/json")
        || mime.rsplit_once('+').is_some_and(|(base, suffix)| {
            base.starts_with("application/") && suffix.eq_ignore_ascii_case("json")
        })
}

/// Maps a reqwest error, recognising the resolver's own refusals in its source chain.
fn map_reqwest(e: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = source {
        if s.is::<Forbidden>() {
            return FetchError::ForbiddenAddress;
        }
        if s.is::<Unresolved>() {
            return FetchError::Resolve;
        }
        source = s.source();
    }
    if e.is_timeout() {
        return FetchError::Timeout;
    }
    FetchError::Transport(if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "the connection failed".to_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetcher(allow_loopback: bool) -> SafeFetcher {
        SafeFetcher::new(
            allow_loopback,
            Duration::from_millis(500),
            Duration::from_millis(1000),
        )
        .unwrap()
    }

    #[test]
    fn cache_control() {
        let d = CacheDirectives::parse("public, max-age=600");
        assert_eq!(d.ttl(300, 86_400), Some(600));
        assert_eq!(
            CacheDirectives::parse("max-age=5").ttl(300, 86_400),
            Some(300)
        );
        assert_eq!(
            CacheDirectives::parse("max-age=999999999").ttl(300, 86_400),
            Some(86_400)
        );
        assert_eq!(CacheDirectives::parse("").ttl(300, 86_400), Some(300));
        assert_eq!(CacheDirectives::parse("no-store").ttl(300, 86_400), None);
        assert_eq!(
            CacheDirectives::parse("max-age=60, No-Cache").ttl(300, 86_400),
            None
        );
        assert_eq!(CacheDirectives::parse("max-age=x").max_age, None);
    }

    #[test]
    fn json_content_types() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=utf-8"));
        assert!(is_json_content_type("application/jwk-set+json"));
        assert!(!is_json_content_type("text/html"));
        assert!(!is_json_content_type("text/json+html"));
        assert!(!is_json_content_type(""));
    }

    #[test]
    fn url_rules() {
        let f = fetcher(false);
        assert!(f.check_url("https://app.example/client.json").is_ok());
        assert_eq!(
            f.check_url("http://app.example/c").unwrap_err(),
            FetchError::Url(Refusal::HttpNotLoopback)
        );
        assert_eq!(
            f.check_url("http://127.0.0.1:8/c").unwrap_err(),
            FetchError::Url(Refusal::HttpWithoutSwitch)
        );
        assert_eq!(
            f.check_url("https://u:p@app.example/c").unwrap_err(),
            FetchError::Url(Refusal::UserInfo)
        );
        assert!(matches!(
            f.check_url("file:///etc/passwd"),
            Err(FetchError::Url(_))
        ));
        assert!(matches!(
            f.check_url("ftp://app.example/c"),
            Err(FetchError::Url(_))
        ));
        for forbidden in [
            "https://127.0.0.1/c",
            "https://10.0.0.1/c",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/c",
            "https://[fd00::1]/c",
            "https://[::ffff:10.0.0.1]/c",
            "https://0x7f.1/c", // the URL parser reads this as 127.0.0.1
        ] {
            assert_eq!(
                f.check_url(forbidden).unwrap_err(),
                FetchError::ForbiddenAddress,
                "{forbidden}"
            );
        }
        let dev = fetcher(true);
        assert!(dev.check_url("http://127.0.0.1:8/c").is_ok());
        assert!(dev.check_url("http://localhost:8/c").is_ok());
        assert!(dev.check_url("https://[::1]/c").is_ok());
        assert_eq!(
            dev.check_url("https://10.0.0.1/c").unwrap_err(),
            FetchError::ForbiddenAddress
        );
        assert_eq!(
            dev.check_url("http://app.example/c").unwrap_err(),
            FetchError::Url(Refusal::HttpNotLoopback)
        );
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused_without_the_switch() {
        // `localhost` resolves from the hosts file, without the network.
        let err = fetcher(false)
            .get_json("https://localhost:9/c.json", 5120)
            .await
            .unwrap_err();
        assert_eq!(err, FetchError::ForbiddenAddress);
    }
}
