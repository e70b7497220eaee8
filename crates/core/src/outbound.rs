//! The one policy for URLs this stack connects to: the client's discovery and token requests,
//! the resource verifier's metadata, JWKS and introspection requests, and the server's fetches of
//! client metadata documents and `jwks_uri`s.
//!
//! A URL passes when it is
//! - a URL (WHATWG parse, the parse the HTTP client then connects with) and an absolute
//!   hierarchical one as written (`scheme://authority…`, [`UriParts::split`]), with a host;
//! - without user information, in the text or in the parse (credentials in a URL leak into logs
//!   and `Authorization` headers nobody asked for);
//! - `https`, or plain `http` as [`PlainHttp`] allows: by default never; with the development
//!   switch only on a loopback host ([`is_loopback`], judged on the parsed host so that `127.1`
//!   and `LOCALHOST.` count as what they connect to).
//!
//! Pure: no DNS, no I/O. What a fetcher checks beyond this (the server's special-use address
//! classes, after resolution too) stays with that fetcher.

use crate::uri::UriParts;
use std::fmt;
use url::{Host, Url};

/// When plain `http` is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlainHttp {
    /// Never: `https` only. The default.
    #[default]
    Never,
    /// On a loopback host only: the development switch of the client and the server.
    Loopback,
    /// On any host: the resource verifier's `insecure_allow_http`, for an issuer in a test
    /// network or a container under a service name. Tokens and keys then travel unprotected.
    Any,
}

/// The outbound-URL policy: `https`, plain `http` as [`PlainHttp`] says, never user
/// information, an absolute URL with a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UrlPolicy {
    /// When plain `http` passes.
    pub plain_http: PlainHttp,
}

/// Why a URL is refused. The `Display` text is the reason every surface shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// It does not parse as a URL.
    NotAUrl(url::ParseError),
    /// It is not written `scheme://authority…`.
    NotAbsolute,
    /// It carries user information.
    UserInfo,
    /// It has no host.
    NoHost,
    /// Plain `http` to a loopback host, without the development switch.
    HttpWithoutSwitch,
    /// Plain `http` to a host that is not loopback.
    HttpNotLoopback,
    /// A scheme other than `https` and `http`.
    Scheme,
}

impl Refusal {
    /// Whether the refusal is about plain `http` (an otherwise valid URL that is not `https`).
    pub fn is_plain_http(&self) -> bool {
        matches!(self, Self::HttpWithoutSwitch | Self::HttpNotLoopback)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAUrl(e) => write!(f, "not a URL ({e})"),
            Self::NotAbsolute => f.write_str("not an absolute URL"),
            Self::UserInfo => f.write_str("user information in a URL is not allowed"),
            Self::NoHost => f.write_str("the URL has no host"),
            Self::HttpWithoutSwitch => {
                f.write_str("plain http is refused without the insecure-http switch")
            }
            Self::HttpNotLoopback => {
                f.write_str("plain http is only ever allowed on a loopback address")
            }
            Self::Scheme => f.write_str("scheme is not https"),
        }
    }
}

impl std::error::Error for Refusal {}

impl UrlPolicy {
    /// `https` only.
    pub const HTTPS_ONLY: Self = Self {
        plain_http: PlainHttp::Never,
    };

    /// The policy of a development switch: plain `http` on a loopback host when `allow`.
    pub const fn loopback_http(allow: bool) -> Self {
        Self {
            plain_http: if allow {
                PlainHttp::Loopback
            } else {
                PlainHttp::Never
            },
        }
    }

    /// Checks `url` and returns its parse, the URL to connect to (the original text stays the
    /// one compared and stored).
    pub fn check(&self, url: &str) -> Result<Url, Refusal> {
        let parsed = Url::parse(url).map_err(Refusal::NotAUrl)?;
        let parts = UriParts::split(url).ok_or(Refusal::NotAbsolute)?;
        if parts.has_userinfo() {
            return Err(Refusal::UserInfo);
        }
        self.check_parsed(&parsed)?;
        Ok(parsed)
    }

    /// [`Self::check`] for a URL parsed already.
    pub fn check_parsed(&self, url: &Url) -> Result<(), Refusal> {
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::UserInfo);
        }
        let host = url.host().ok_or(Refusal::NoHost)?;
        match (url.scheme(), self.plain_http) {
            ("https", _) | ("http", PlainHttp::Any) => Ok(()),
            ("http", _) if !is_loopback(&host) => Err(Refusal::HttpNotLoopback),
            ("http", PlainHttp::Loopback) => Ok(()),
            ("http", _) => Err(Refusal::HttpWithoutSwitch),
            _ => Err(Refusal::Scheme),
        }
    }
}

/// Whether a parsed host is the loopback interface: `localhost` (any case, a trailing dot
/// allowed), `127.0.0.0/8`, `::1`, or an IPv4-mapped loopback address.
pub fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
        Host::Ipv4(a) => a.is_loopback(),
        Host::Ipv6(a) => a.is_loopback() || a.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEVER: UrlPolicy = UrlPolicy::HTTPS_ONLY;
    const DEV: UrlPolicy = UrlPolicy::loopback_http(true);
    const ANY: UrlPolicy = UrlPolicy {
        plain_http: PlainHttp::Any,
    };

    #[test]
    fn https_passes_everywhere() {
        for p in [NEVER, DEV, ANY] {
            let u = p.check("https://as.example/x").unwrap();
            assert_eq!(u.host_str(), Some("as.example"));
        }
    }

    #[test]
    fn plain_http_per_policy() {
        assert_eq!(
            NEVER.check("http://127.0.0.1:8080/x").unwrap_err(),
            Refusal::HttpWithoutSwitch
        );
        assert_eq!(
            NEVER.check("http://example.com/x").unwrap_err(),
            Refusal::HttpNotLoopback
        );
        for loopback in [
            "http://127.0.0.1:8080/x",
            "http://[::1]:8080/x",
            "http://localhost/x",
            "http://LOCALHOST./x",
            "http://127.1/x",
            "http://[::ffff:127.0.0.1]/x",
        ] {
            assert!(DEV.check(loopback).is_ok(), "{loopback}");
        }
        assert_eq!(
            DEV.check("http://example.com/x").unwrap_err(),
            Refusal::HttpNotLoopback
        );
        assert_eq!(
            DEV.check("http://localhost.example/x").unwrap_err(),
            Refusal::HttpNotLoopback
        );
        assert!(ANY.check("http://as.example/x").is_ok());
        assert!(Refusal::HttpNotLoopback.is_plain_http());
        assert!(!Refusal::Scheme.is_plain_http());
    }

    #[test]
    fn never_user_information_or_other_schemes() {
        for p in [NEVER, DEV, ANY] {
            assert_eq!(
                p.check("https://user:pw@example.com/x").unwrap_err(),
                Refusal::UserInfo
            );
            assert_eq!(
                p.check("https://@example.com/x").unwrap_err(),
                Refusal::UserInfo
            );
            assert_eq!(
                p.check("file:///etc/passwd").unwrap_err(),
                Refusal::NotAbsolute
            );
            assert_eq!(
                p.check("javascript:alert(1)").unwrap_err(),
                Refusal::NotAbsolute
            );
            assert_eq!(p.check("ftp://example.com").unwrap_err(), Refusal::Scheme);
            assert_eq!(
                p.check("https:/example.com").unwrap_err(),
                Refusal::NotAbsolute
            );
            assert!(matches!(p.check("not a url"), Err(Refusal::NotAUrl(_))));
            assert!(matches!(p.check(""), Err(Refusal::NotAUrl(_))));
        }
        let parsed = Url::parse("https://u@example.com/").unwrap();
        assert_eq!(NEVER.check_parsed(&parsed), Err(Refusal::UserInfo));
        let no_host = Url::parse("data:text/plain,x").unwrap();
        assert_eq!(NEVER.check_parsed(&no_host), Err(Refusal::NoHost));
    }

    #[test]
    fn reasons_read_as_sentences() {
        assert_eq!(
            Refusal::HttpNotLoopback.to_string(),
            "plain http is only ever allowed on a loopback address"
        );
        assert!(
            NEVER
                .check("nope")
                .unwrap_err()
                .to_string()
                .starts_with("not a URL (")
        );
    }
}
