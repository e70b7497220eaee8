//! The trust policy for metadata document hosts: allow and deny lists (CIMD §6.8, MCP
//! "Trust Policies").
//!
//! An entry is a host name (`app.example`, matched exactly, case-insensitively) or `*.` and a
//! domain (`*.app.example`, matching its subdomains but not the domain itself). The deny list
//! wins; an empty allow list allows every host the deny list does not name. A protected server
//! lists its partners in the allow list; an open one leaves it empty.

/// Whether `pattern` matches `host` (both lower-case).
fn matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(domain) => host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        None => pattern == host,
    }
}

/// Whether documents from `host` may be used.
pub fn host_allowed(host: &str, allow: &[String], deny: &[String]) -> bool {
    let host = host.to_ascii_lowercase();
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
}
