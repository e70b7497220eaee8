//! Redirect URIs: which may be registered, and whether a requested one matches a registered one.
//!
//! Matching is an exact string comparison (OAuth 2.1 §4.1.1, RFC 9700 §2.1), with one exception:
//! a loopback redirect (`http://127.0.0.1`, `http://[::1]`, `http://localhost`) matches whatever
//! port the native client's listener got (RFC 8252 §7.3). Scheme, host, path and query must still
//! be identical.

use crate::uri::{UriParts, is_loopback_host};

/// Why a redirect URI may not be registered or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RedirectUriError {
    /// Not an absolute URI.
    #[error("redirect URI is not an absolute URI")]
    NotAbsolute,
    /// Has a fragment (RFC 6749 §3.1.2).
    #[error("redirect URI must not contain a fragment")]
    Fragment,
    /// `http` on a host other than loopback.
    #[error("redirect URI must use https, or http on a loopback address")]
    InsecureHttp,
    /// A scheme that is neither http(s) nor a private-use scheme.
    #[error("redirect URI scheme is not allowed")]
    Scheme,
    /// Contains user:password.
    #[error("redirect URI must not contain user information")]
    UserInfo,
}

/// Checks that `uri` may be registered as a redirect URI: https; http only on loopback; or a
/// private-use scheme with a dot in it (reverse domain name, RFC 8252 §7.1). Never a fragment.
pub fn validate(uri: &str) -> Result<(), RedirectUriError> {
    if url::Url::parse(uri).is_err() {
        return Err(RedirectUriError::NotAbsolute);
    }
    if uri.contains('#') {
        return Err(RedirectUriError::Fragment);
    }
    let scheme_end = uri.find(':').ok_or(RedirectUriError::NotAbsolute)?;
    let scheme = uri[..scheme_end].to_ascii_lowercase();
    match scheme.as_str() {
        "https" | "http" => {
            let parts = UriParts::split(uri).ok_or(RedirectUriError::NotAbsolute)?;
            if parts.has_userinfo() {
                return Err(RedirectUriError::UserInfo);
            }
            if scheme == "http" && !is_loopback_host(parts.host()) {
                return Err(RedirectUriError::InsecureHttp);
            }
            Ok(())
        }
        // Schemes that would run code or read files in the user agent.
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" | "ftp" | "ws" | "wss" => {
            Err(RedirectUriError::Scheme)
        }
        // RFC 8252 §7.1: private-use schemes are reverse domain names, so they contain a dot.
        s if s.contains('.') => Ok(()),
        _ => Err(RedirectUriError::Scheme),
    }
}

/// Whether `requested` matches `registered`: byte-exact, or a loopback `http` URI differing only
/// in its port.
pub fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Some(reg), Some(req)) = (UriParts::split(registered), UriParts::split(requested)) else {
        return false;
    };
    reg.scheme == "http"
        && req.scheme == "http"
        && is_loopback_host(reg.host())
        && reg.host() == req.host()
        && !reg.has_userinfo()
        && !req.has_userinfo()
        && normalise_empty_path(reg.path) == normalise_empty_path(req.path)
        && reg.query == req.query
        && req.fragment.is_none()
        && reg.fragment.is_none()
        && req
            .port()
            .is_none_or(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

fn normalise_empty_path(p: &str) -> &str {
    if p.is_empty() { "/" } else { p }
}

/// Whether any of `registered` matches `requested`.
pub fn matches_any<'a>(registered: impl IntoIterator<Item = &'a str>, requested: &str) -> bool {
    registered.into_iter().any(|r| matches(r, requested))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_match_only_for_https() {
        assert!(matches("https://app.example/cb", "https://app.example/cb"));
        assert!(!matches(
            "https://app.example/cb",
            "https://app.example/cb/"
        ));
        assert!(!matches(
            "https://app.example/cb",
            "https://app.example/cb?x=1"
        ));
        assert!(!matches(
            "https://app.example/cb",
            "https://app.example:8443/cb"
        ));
        assert!(!matches("https://app.example/cb", "https://APP.example/cb"));
    }

    #[test]
    fn loopback_any_port() {
        assert!(matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:51234/callback"
        ));
        assert!(matches(
            "http://127.0.0.1:3000/callback",
            "http://127.0.0.1:4000/callback"
        ));
        assert!(matches("http://[::1]/cb", "http://[::1]:9/cb"));
        assert!(matches("http://localhost:1/cb", "http://localhost:2/cb"));
        // Only the port may differ: not the registered URI's fragment either (the redirect
        // matcher's property test found it).
        assert!(!matches("http://127.0.0.1/cb#f", "http://127.0.0.1:9/cb"));
        // host, path and query must still match
        assert!(!matches(
            "http://127.0.0.1/callback",
            "http://localhost:5/callback"
        ));
        assert!(!matches(
            "http://127.0.0.1/callback",
            "http://127.0.0.1:5/other"
        ));
        assert!(!matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:5/cb#frag"
        ));
        assert!(!matches(
            "http://127.0.0.1/cb",
            "http://evil@127.0.0.1:5/cb"
        ));
        assert!(!matches("https://127.0.0.1/cb", "https://127.0.0.1:5/cb"));
    }

    #[test]
    fn registration_rules() {
        assert_eq!(validate("https://app.example/cb"), Ok(()));
        assert_eq!(validate("http://127.0.0.1:8080/cb"), Ok(()));
        assert_eq!(validate("http://localhost/cb"), Ok(()));
        assert_eq!(validate("com.example.app:/oauth"), Ok(()));
        assert_eq!(
            validate("http://app.example/cb"),
            Err(RedirectUriError::InsecureHttp)
        );
        assert_eq!(
            validate("https://app.example/cb#x"),
            Err(RedirectUriError::Fragment)
        );
        assert_eq!(
            validate("javascript:alert(1)"),
            Err(RedirectUriError::Scheme)
        );
        assert_eq!(validate("myapp:/cb"), Err(RedirectUriError::Scheme));
        assert_eq!(validate("/relative"), Err(RedirectUriError::NotAbsolute));
        assert_eq!(
            validate("https://u:p@app.example/cb"),
            Err(RedirectUriError::UserInfo)
        );
    }
}
