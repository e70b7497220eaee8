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

/// The non-conforming schemes admitted by default: those of known native MCP clients whose
/// scheme is not a reverse domain name. `cursor`: Cursor registers
/// `cursor://anysphere.cursor-mcp/oauth/callback`.
pub const DEFAULT_EXTRA_SCHEMES: &[&str] = &["cursor"];

/// Schemes never admitted as redirect targets, whatever a configuration lists: they would run
/// code or read local data in the user agent, or are not an application's callback at all.
const FORBIDDEN_SCHEMES: &[&str] = &[
    "javascript",
    "data",
    "file",
    "vbscript",
    "blob",
    "about",
    "ftp",
    "ws",
    "wss",
    "filesystem",
    "view-source",
];

/// Why a scheme cannot be put on the allow-list of extra redirect URI schemes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtraSchemeError {
    /// Not RFC 3986 scheme syntax (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`).
    #[error("`{0}` is not a URI scheme (letters, digits, `+`, `-`, `.`, starting with a letter)")]
    Syntax(String),
    /// A scheme that runs code or reads files, or http/https (whose own rules always apply).
    #[error("`{0}` can never be allowed as a redirect URI scheme")]
    Forbidden(String),
}

/// Checks one entry of an allow-list of extra redirect URI schemes and returns it in lower case.
pub fn normalise_extra_scheme(scheme: &str) -> Result<String, ExtraSchemeError> {
    let s = scheme.trim().to_ascii_lowercase();
    let mut bytes = s.bytes();
    let syntax_ok = bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !syntax_ok {
        return Err(ExtraSchemeError::Syntax(scheme.to_owned()));
    }
    if FORBIDDEN_SCHEMES.contains(&s.as_str()) || s == "http" || s == "https" {
        return Err(ExtraSchemeError::Forbidden(s));
    }
    Ok(s)
}

/// Checks that `uri` may be registered as a redirect URI, strictly: https; http only on
/// loopback; or a private-use scheme with a dot in it (reverse domain name, RFC 8252 §7.1).
/// Never a fragment. The same as [`validate_with`] and no extra schemes.
pub fn validate(uri: &str) -> Result<(), RedirectUriError> {
    validate_with(uri, &[] as &[&str])
}

/// Checks that `uri` may be registered as a redirect URI: https; http only on loopback; a
/// private-use scheme with a dot in it (reverse domain name, RFC 8252 §7.1); or one of
/// `extra_schemes`, the non-conforming schemes of known clients (compared case-insensitively).
/// Never a fragment, and never a scheme that runs code or reads files, even when listed.
pub fn validate_with<S: AsRef<str>>(
    uri: &str,
    extra_schemes: &[S],
) -> Result<(), RedirectUriError> {
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
        // Schemes that would run code or read files in the user agent: never, whatever is listed.
        s if FORBIDDEN_SCHEMES.contains(&s) => Err(RedirectUriError::Scheme),
        // RFC 8252 §7.1: private-use schemes are reverse domain names, so they contain a dot.
        s if s.contains('.') => Ok(()),
        s if extra_schemes
            .iter()
            .any(|e| e.as_ref().eq_ignore_ascii_case(s)) =>
        {
            Ok(())
        }
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

    #[test]
    fn known_clients_non_conforming_schemes_by_allow_list() {
        let cursor = "cursor://anysphere.cursor-mcp/oauth/callback";
        assert_eq!(validate(cursor), Err(RedirectUriError::Scheme), "strict");
        assert_eq!(validate_with(cursor, DEFAULT_EXTRA_SCHEMES), Ok(()));
        assert_eq!(validate_with("CURSOR://x/cb", &["cursor"]), Ok(()));
        assert_eq!(
            validate_with("myapp:/cb", DEFAULT_EXTRA_SCHEMES),
            Err(RedirectUriError::Scheme)
        );
        // Reverse-domain schemes need no list.
        assert_eq!(
            validate_with("com.example.app:/oauth", &[] as &[&str]),
            Ok(())
        );
        // Never code, files or plain http off loopback, whatever the list says.
        let reckless = [
            "javascript",
            "data",
            "file",
            "vbscript",
            "blob",
            "http",
            "JavaScript",
        ];
        for uri in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "file:///etc/passwd",
            "vbscript:msgbox(1)",
            "blob:https://a.example/x",
        ] {
            assert_eq!(
                validate_with(uri, &reckless),
                Err(RedirectUriError::Scheme),
                "{uri}"
            );
        }
        assert_eq!(
            validate_with("http://app.example/cb", &reckless),
            Err(RedirectUriError::InsecureHttp)
        );
    }

    #[test]
    fn allow_list_entries_are_checked() {
        assert_eq!(normalise_extra_scheme(" Cursor ").as_deref(), Ok("cursor"));
        assert_eq!(normalise_extra_scheme("vscode").as_deref(), Ok("vscode"));
        for bad in ["", "1app", "my app", "app:", "a/b"] {
            assert!(
                matches!(
                    normalise_extra_scheme(bad),
                    Err(ExtraSchemeError::Syntax(_))
                ),
                "{bad}"
            );
        }
        for bad in [
            "javascript",
            "DATA",
            "file",
            "vbscript",
            "http",
            "https",
            "blob",
        ] {
            assert!(
                matches!(
                    normalise_extra_scheme(bad),
                    Err(ExtraSchemeError::Forbidden(_))
                ),
                "{bad}"
            );
        }
    }
}
