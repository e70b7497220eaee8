//! Resource indicators (RFC 8707) and audience matching.
//!
//! A resource is identified by its canonical URI (MCP §Canonical Server URI): absolute, with a
//! scheme, without a fragment. The string the client sends is what ends up in the token's `aud`,
//! byte for byte. When a resource server compares an audience it accepts an upper-case scheme or
//! host, and for a root resource (`https://h`) also the form with a trailing slash (`https://h/`),
//! the most reported interop failure; nothing looser.

use crate::uri::UriParts;

/// Why a string is not a valid resource indicator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResourceError {
    /// Not an absolute http(s) URI.
    #[error("resource must be an absolute http or https URI")]
    NotAbsolute,
    /// RFC 8707 §2: "MUST NOT include a fragment component".
    #[error("resource must not contain a fragment")]
    Fragment,
    /// user:password in the authority.
    #[error("resource must not contain user information")]
    UserInfo,
}

/// Validates a resource indicator as RFC 8707 §2 and MCP require.
pub fn validate(resource: &str) -> Result<(), ResourceError> {
    if url::Url::parse(resource).is_err() {
        return Err(ResourceError::NotAbsolute);
    }
    validate_shape(resource)
}

/// The checks of [`validate`] without the full URL parse: an http(s) scheme, no fragment, no user
/// information. For a caller that first looks the string up among values already validated and
/// runs [`validate`] only when it is not one of them.
pub fn validate_shape(resource: &str) -> Result<(), ResourceError> {
    let parts = UriParts::split(resource).ok_or(ResourceError::NotAbsolute)?;
    if !parts.scheme.eq_ignore_ascii_case("https") && !parts.scheme.eq_ignore_ascii_case("http") {
        return Err(ResourceError::NotAbsolute);
    }
    if parts.fragment.is_some() {
        return Err(ResourceError::Fragment);
    }
    if parts.has_userinfo() {
        return Err(ResourceError::UserInfo);
    }
    Ok(())
}

/// The comparison form of a resource URI: scheme and host lower-cased, and a root path (`/`)
/// dropped. Path and query stay as written: they are case-sensitive.
pub fn comparison_form(resource: &str) -> Option<String> {
    let p = UriParts::split(resource)?;
    if p.fragment.is_some() {
        return None;
    }
    let mut out = String::with_capacity(resource.len());
    out.push_str(&p.scheme.to_ascii_lowercase());
    out.push_str("://");
    out.push_str(&p.authority.to_ascii_lowercase());
    if p.path != "/" || p.query.is_some() {
        out.push_str(p.path);
    }
    if let Some(q) = p.query {
        out.push('?');
        out.push_str(q);
    }
    Some(out)
}

/// Whether an audience value names the resource `expected`.
pub fn audience_matches(expected: &str, audience: &str) -> bool {
    if expected == audience {
        return true;
    }
    match (comparison_form(expected), comparison_form(audience)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Whether `candidate` (a PRM `resource`) identifies the server at `server_url`: the same after
/// comparison normalisation, or the same origin with a path that is a segment-wise prefix of the
/// server's path (the practice of the TypeScript SDK and draft RFC 9728bis).
pub fn identifies_server(candidate: &str, server_url: &str) -> bool {
    if audience_matches(candidate, server_url) {
        return true;
    }
    let (Some(c), Some(s)) = (UriParts::split(candidate), UriParts::split(server_url)) else {
        return false;
    };
    if !c.scheme.eq_ignore_ascii_case(s.scheme)
        || !c.authority.eq_ignore_ascii_case(s.authority)
        || c.query.is_some()
        || c.fragment.is_some()
    {
        return false;
    }
    let cp = c.path.trim_end_matches('/');
    let sp = s.path;
    cp.is_empty() || sp == cp || sp.starts_with(&format!("{cp}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert_eq!(validate("https://mcp.example.com/mcp"), Ok(()));
        assert_eq!(validate("https://mcp.example.com"), Ok(()));
        assert_eq!(validate("http://127.0.0.1:8080/mcp"), Ok(()));
        assert_eq!(validate("mcp.example.com"), Err(ResourceError::NotAbsolute));
        assert_eq!(validate("urn:x:y"), Err(ResourceError::NotAbsolute));
        assert_eq!(
            validate("https://mcp.example.com#f"),
            Err(ResourceError::Fragment)
        );
    }

    #[test]
    fn root_audience_with_or_without_slash() {
        assert!(audience_matches("https://h.example", "https://h.example/"));
        assert!(audience_matches("https://h.example/", "https://h.example"));
        assert!(audience_matches(
            "https://h.example/mcp",
            "HTTPS://H.EXAMPLE/mcp"
        ));
    }

    #[test]
    fn nothing_looser() {
        assert!(!audience_matches(
            "https://h.example/mcp",
            "https://h.example/mcp/"
        ));
        assert!(!audience_matches(
            "https://h.example/mcp",
            "https://h.example/MCP"
        ));
        assert!(!audience_matches(
            "https://h.example/mcp",
            "https://h.example"
        ));
        assert!(!audience_matches(
            "https://h.example",
            "https://h.example.evil"
        ));
        assert!(!audience_matches("https://h.example", "http://h.example"));
        assert!(!audience_matches(
            "https://h.example:443",
            "https://h.example"
        ));
    }

    #[test]
    fn prm_resource_identifies_server() {
        assert!(identifies_server("https://h/mcp", "https://h/mcp"));
        assert!(identifies_server("https://h", "https://h/mcp"));
        assert!(identifies_server("https://h/", "https://h/mcp"));
        assert!(identifies_server("https://h/api", "https://h/api/mcp"));
        assert!(!identifies_server("https://h/ap", "https://h/api/mcp"));
        assert!(!identifies_server("https://other/mcp", "https://h/mcp"));
        assert!(!identifies_server("https://h/mcp/deeper", "https://h/mcp"));
    }
}
