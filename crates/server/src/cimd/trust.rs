//! The trust policy for metadata document hosts: allow and deny lists (CIMD §6.8, MCP
//! "Trust Policies").
//!
//! An entry is a host name (`app.example`, matched exactly, case-insensitively) or `*.` and a
//! domain (`*.app.example`, matching its subdomains but not the domain itself). The deny list
//! wins; an empty allow list allows every host the deny list does not name. A protected server
//! lists its partners in the allow list; an open one leaves it empty.

use crate::fetch::host::canonical_text;

/// Whether `pattern` matches `host` (canonical, see [`crate::fetch::host`]). The pattern is made
/// canonical the same way, so an entry `127.0.0.1` matches every spelling of that address and
/// `bücher.example` its punycode form.
fn matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(domain) => {
            let domain = canonical_text(domain);
            host.strip_suffix(domain.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.'))
        }
        None => canonical_text(pattern) == host,
    }
}

/// Whether documents from `host` may be used. `host` is canonical: the `host` of a
/// [`super::document::DocumentUrl`], never text split out of the client id by hand.
pub fn host_allowed(host: &str, allow: &[String], deny: &[String]) -> bool {
    let host = canonical_text(host);
    if deny.iter().any(|p| matches(p, &host)) {
        return false;
    }
    allow.is_empty() || allow.iter().any(|p| matches(p, &host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn deny_wins_and_empty_allow_means_any() {
        assert!(host_allowed("app.example", &[], &[]));
        assert!(!host_allowed("app.example", &[], &v(&["app.example"])));
        assert!(!host_allowed(
            "a.evil.example",
            &v(&["*.evil.example"]),
            &v(&["*.evil.example"])
        ));
        let allow = v(&["partner.example", "*.corp.example"]);
        assert!(host_allowed("Partner.Example", &allow, &[]));
        assert!(host_allowed("tools.corp.example", &allow, &[]));
        assert!(
            !host_allowed("corp.example", &allow, &[]),
            "a wildcard is subdomains only"
        );
        assert!(!host_allowed("evilcorp.example", &allow, &[]));
        assert!(!host_allowed("other.example", &allow, &[]));
    }

    #[test]
    fn entries_and_hosts_compare_canonically() {
        let deny = v(&["127.0.0.1", "[::1]", "Bücher.Example", "*.Straße.example"]);
        for host in [
            "127.0.0.1",
            "::1",
            "xn--bcher-kva.example",
            "a.xn--strae-oqa.example",
        ] {
            assert!(!host_allowed(host, &[], &deny), "{host}");
        }
        assert!(!host_allowed("::ffff:127.0.0.1", &[], &deny));
        assert!(host_allowed("127.0.0.2", &[], &deny));
    }
}
