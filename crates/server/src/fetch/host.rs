//! The one canonical form of a host, for trust lists, the special-use check and display.
//!
//! A client id URL is parsed once, as a WHATWG URL (the `url` crate, which is also what the
//! fetcher connects with), and everything downstream works on that parse. Splitting the host out
//! of the string by hand disagrees with the fetcher on hostile spellings: `https://localhost\x/c`
//! (a `\` ends the authority for WHATWG, not for RFC 3986), full-width `ｌｏｃａｌｈｏｓｔ` (IDNA maps
//! it to `localhost`), and the IPv4 shorthands `127.1`, `2130706433`, `0x7f000001`, `0177.0.0.1`
//! (all `127.0.0.1` to WHATWG). The canonical host is:
//! - a domain: its ASCII (punycode) form, lower-case, without a trailing dot, so a homograph is
//!   shown as the `xn--` name it really is;
//! - an IPv4 address: dotted decimal;
//! - an IPv6 address: RFC 5952 text without brackets, or dotted decimal when it is IPv4-mapped.
//!
//! Trust-list entries go through the same canonicalisation, so `127.0.0.1`, `[::ffff:7f00:1]`
//! and `0x7f000001` on a list all mean the same address.

use std::net::{IpAddr, Ipv6Addr};
use url::{Host, Url};

/// The canonical text of an IP address: IPv4-mapped IPv6 addresses become their IPv4 address.
pub fn canonical_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => canonical_v6(v6),
    }
}

fn canonical_v6(v6: Ipv6Addr) -> String {
    match v6.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => v6.to_string(),
    }
}

/// The canonical text of a parsed host.
pub fn canonical(host: &Host<&str>) -> String {
    match host {
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            // Without its dots a name may read as an address (`0..` is `0`, that is 0.0.0.0):
            // compare it as that address, so no spelling slips past a list (found by the
            // property test of tests/fuzz.rs).
            match Host::parse(&d) {
                Ok(Host::Ipv4(a)) => a.to_string(),
                Ok(Host::Ipv6(a)) => canonical_v6(a),
                _ => d,
            }
        }
        Host::Ipv4(a) => a.to_string(),
        Host::Ipv6(a) => canonical_v6(*a),
    }
}

/// The canonical host of `url`, if it has one.
pub fn of_url(url: &Url) -> Option<String> {
    url.host().map(|h| canonical(&h))
}

/// The canonical form of a trust-list entry or any host text: an IP address in any spelling
/// (with or without brackets for IPv6) or a domain name (IDNA-mapped to ASCII). Text that is no
/// valid host is kept lower-cased, so it can never match a canonical host by accident.
pub fn canonical_text(text: &str) -> String {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return canonical_ip(ip);
    }
    // `url::Host::parse` applies the WHATWG host parser of special schemes: IDNA, IPv4 forms.
    match Host::parse(text) {
        Ok(Host::Domain(d)) => canonical(&Host::Domain(d.as_str())),
        Ok(Host::Ipv4(a)) => a.to_string(),
        Ok(Host::Ipv6(a)) => canonical_v6(a),
        Err(_) => text.to_ascii_lowercase(),
    }
}

/// What a page shows for the authority of `uri` (a redirect URI, say): the canonical ASCII host
/// and the port, when the URI parses as a URL with a host; the raw text otherwise.
pub fn display_authority(uri: &str) -> Option<String> {
    let url = Url::parse(uri).ok()?;
    let host = match url.host()? {
        Host::Ipv6(a) if a.to_ipv4_mapped().is_none() => format!("[{a}]"),
        h => canonical(&h),
    };
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(u: &str) -> String {
        of_url(&Url::parse(u).unwrap()).unwrap()
    }

    #[test]
    fn every_spelling_of_loopback_is_one_host() {
        for u in [
            "https://127.0.0.1/c",
            "https://127.1/c",
            "https://2130706433/c",
            "https://0x7f000001/c",
            "https://0177.0.0.1/c",
            "https://0x7f.0.0.1/c",
            "https://[::ffff:127.0.0.1]/c",
            "https://[::ffff:7f00:1]/c",
        ] {
            assert_eq!(host(u), "127.0.0.1", "{u}");
        }
        assert_eq!(host("https://[0:0:0:0:0:0:0:1]/c"), "::1");
        assert_eq!(host("https://[::0001]/c"), "::1");
    }

    #[test]
    fn domains_are_ascii_lower_case_without_trailing_dot() {
        assert_eq!(host("https://ＬＯＣＡＬＨＯＳＴ/c"), "localhost");
        assert_eq!(host("https://ｌｏｃａｌｈｏｓｔ/c"), "localhost");
        assert_eq!(host("https://localhost./c"), "localhost");
        assert_eq!(host("https://App.Example:8443/c"), "app.example");
        // A Cyrillic "а" in place of the Latin one: shown as what it is.
        assert_eq!(
            host("https://\u{430}pple.example/c"),
            "xn--pple-43d.example"
        );
        assert_eq!(host("https://localhost\\x/c"), "localhost");
    }

    #[test]
    fn list_entries_are_canonical_too() {
        assert_eq!(canonical_text("127.0.0.1"), "127.0.0.1");
        assert_eq!(canonical_text("0x7f000001"), "127.0.0.1");
        assert_eq!(canonical_text("[::1]"), "::1");
        assert_eq!(canonical_text("::1"), "::1");
        assert_eq!(canonical_text("::ffff:10.0.0.1"), "10.0.0.1");
        assert_eq!(canonical_text("LocalHost."), "localhost");
        assert_eq!(canonical_text("0.."), "0.0.0.0");
        assert_eq!(canonical_text(&canonical_text("0..")), "0.0.0.0");
        assert_eq!(canonical_text("bücher.example"), "xn--bcher-kva.example");
    }

    #[test]
    fn display_is_ascii() {
        assert_eq!(
            display_authority("https://\u{430}pple.example:8443/cb").as_deref(),
            Some("xn--pple-43d.example:8443")
        );
        assert_eq!(
            display_authority("http://127.0.0.1:6200/cb").as_deref(),
            Some("127.0.0.1:6200")
        );
        assert_eq!(
            display_authority("http://[::1]:6200/cb").as_deref(),
            Some("[::1]:6200")
        );
    }
}
