//! A byte-exact split of an absolute URI (RFC 3986 §3) into its parts.
//!
//! URL libraries normalise: `url::Url` turns `https://h` into `https://h/`, which breaks resource
//! indicators and issuer comparison (the trailing-slash bug of several MCP clients). The rules of
//! this crate work on the string as given, and use `url` only to check that it parses at all.

/// The five components of an absolute URI, as slices of the original string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UriParts<'a> {
    /// The scheme, as written.
    pub scheme: &'a str,
    /// `userinfo@host:port`, as written.
    pub authority: &'a str,
    /// The path, possibly empty.
    pub path: &'a str,
    /// The query without `?`, if present.
    pub query: Option<&'a str>,
    /// The fragment without `#`, if present.
    pub fragment: Option<&'a str>,
}

impl<'a> UriParts<'a> {
    /// Splits `s` if it is an absolute hierarchical URI (`scheme://authority...`).
    pub fn split(s: &'a str) -> Option<Self> {
        let colon = s.find(':')?;
        let scheme = &s[..colon];
        if scheme.is_empty()
            || !scheme.as_bytes()[0].is_ascii_alphabetic()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        {
            return None;
        }
        let rest = s[colon + 1..].strip_prefix("//")?;
        let (rest, fragment) = match rest.find('#') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (rest, query) = match rest.find('?') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return None;
        }
        Some(Self {
            scheme,
            authority,
            path,
            query,
            fragment,
        })
    }

    /// The host of the authority (brackets kept for IPv6), without userinfo and port.
    pub fn host(&self) -> &'a str {
        let hostport = match self.authority.rfind('@') {
            Some(i) => &self.authority[i + 1..],
            None => self.authority,
        };
        if hostport.starts_with('[') {
            match hostport.find(']') {
                Some(i) => &hostport[..=i],
                None => hostport,
            }
        } else {
            match hostport.rfind(':') {
                Some(i) => &hostport[..i],
                None => hostport,
            }
        }
    }

    /// The port as written, if any.
    pub fn port(&self) -> Option<&'a str> {
        let host = self.host();
        let after = self.authority.rsplit_once(host).map(|(_, a)| a)?;
        after.strip_prefix(':').filter(|p| !p.is_empty())
    }

    /// Whether the authority carries `user:password@`.
    pub fn has_userinfo(&self) -> bool {
        self.authority.contains('@')
    }

    /// `scheme://authority`, as written.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }
}

/// Whether `host` (as returned by [`UriParts::host`]) names the loopback interface:
/// `localhost`, `127.0.0.0/8` or `[::1]`.
pub fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6
            .parse::<std::net::Ipv6Addr>()
            .map(|a| a.is_loopback())
            .unwrap_or(false);
    }
    host.parse::<std::net::Ipv4Addr>()
        .map(|a| a.is_loopback())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_without_normalising() {
        let p = UriParts::split("https://h.example:8443/a/b/?q=1#f").unwrap();
        assert_eq!(p.scheme, "https");
        assert_eq!(p.authority, "h.example:8443");
        assert_eq!(p.host(), "h.example");
        assert_eq!(p.port(), Some("8443"));
        assert_eq!(p.path, "/a/b/");
        assert_eq!(p.query, Some("q=1"));
        assert_eq!(p.fragment, Some("f"));
        let root = UriParts::split("https://h").unwrap();
        assert_eq!(root.path, "");
        assert_eq!(root.port(), None);
    }

    #[test]
    fn ipv6_hosts() {
        let p = UriParts::split("http://[::1]:3000/cb").unwrap();
        assert_eq!(p.host(), "[::1]");
        assert_eq!(p.port(), Some("3000"));
        assert!(is_loopback_host(p.host()));
    }

    #[test]
    fn refuses_relative_and_opaque() {
        assert!(UriParts::split("/relative").is_none());
        assert!(UriParts::split("mailto:a@b").is_none());
        assert!(UriParts::split("https:///nohost").is_none());
        assert!(UriParts::split("1http://h").is_none());
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback_host("127.0.0.1"));
        assert!(is_loopback_host("127.1.2.3"));
        assert!(is_loopback_host("LOCALHOST"));
        assert!(!is_loopback_host("127.0.0.1.nip.io"));
        assert!(!is_loopback_host("[::2]"));
    }
}
