//! Well-known URL construction (RFC 8414 §3, OpenID Discovery §4, RFC 9728 §3).
//!
//! The two RFCs differ in one detail that matters: RFC 8414 strips any terminating `/` from the
//! issuer before inserting, while RFC 9728 removes only the slash right after the host and keeps
//! a path's own trailing slash. Both are done on the string as given (see [`crate::uri`]).

use crate::uri::UriParts;

/// RFC 8414 well-known suffix.
pub const OAUTH_AUTHORIZATION_SERVER: &str = "oauth-authorization-server";
/// OpenID Connect Discovery well-known suffix.
pub const OPENID_CONFIGURATION: &str = "openid-configuration";
/// RFC 9728 well-known suffix.
pub const OAUTH_PROTECTED_RESOURCE: &str = "oauth-protected-resource";

/// The authorization-server metadata URLs to try for `issuer`, in the order MCP requires:
/// with a path, OAuth path-insert → OpenID path-insert → OpenID path-append; without a path,
/// OAuth → OpenID at the root.
pub fn authorization_server_metadata_urls(issuer: &str) -> Option<Vec<String>> {
    let p = UriParts::split(issuer)?;
    let origin = p.origin();
    let path = p.path.trim_end_matches('/');
    Some(if path.is_empty() {
        vec![
            format!("{origin}/.well-known/{OAUTH_AUTHORIZATION_SERVER}"),
            format!("{origin}/.well-known/{OPENID_CONFIGURATION}"),
        ]
    } else {
        vec![
            format!("{origin}/.well-known/{OAUTH_AUTHORIZATION_SERVER}{path}"),
            format!("{origin}/.well-known/{OPENID_CONFIGURATION}{path}"),
            format!("{origin}{path}/.well-known/{OPENID_CONFIGURATION}"),
        ]
    })
}

/// The protected-resource metadata URLs to try for an MCP endpoint: path-inserted (when the
/// endpoint has a path other than `/`), then the root.
pub fn protected_resource_metadata_urls(resource: &str) -> Option<Vec<String>> {
    let p = UriParts::split(resource)?;
    let origin = p.origin();
    let root = format!("{origin}/.well-known/{OAUTH_PROTECTED_RESOURCE}");
    let mut out = Vec::with_capacity(2);
    if let Some(inserted) = protected_resource_metadata_url(resource)
        && inserted != root
    {
        out.push(inserted);
    }
    out.push(root);
    Some(out)
}

/// The one RFC 9728 §3.1 URL for `resource`: the well-known segment inserted between host and
/// path, the query kept.
pub fn protected_resource_metadata_url(resource: &str) -> Option<String> {
    let p = UriParts::split(resource)?;
    let path = if p.path == "/" { "" } else { p.path };
    let mut url = format!(
        "{}/.well-known/{OAUTH_PROTECTED_RESOURCE}{path}",
        p.origin()
    );
    if let Some(q) = p.query {
        url.push('?');
        url.push_str(q);
    }
    Some(url)
}

/// The request path at which a server publishes its own metadata under `suffix`, for an issuer or
/// resource with path `path` (`""` or `/tenant`). RFC 8414 style: the path's trailing `/` removed.
pub fn served_path(suffix: &str, path: &str) -> String {
    format!("/.well-known/{suffix}{}", path.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_metadata_with_path() {
        assert_eq!(
            authorization_server_metadata_urls("https://auth.ex.com/tenant1").unwrap(),
            vec![
                "https://auth.ex.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.ex.com/.well-known/openid-configuration/tenant1",
                "https://auth.ex.com/tenant1/.well-known/openid-configuration",
            ]
        );
        // RFC 8414 §3.1: a terminating slash is removed first.
        assert_eq!(
            authorization_server_metadata_urls("https://auth.ex.com/tenant1/").unwrap()[0],
            "https://auth.ex.com/.well-known/oauth-authorization-server/tenant1"
        );
    }

    #[test]
    fn as_metadata_without_path() {
        for issuer in ["https://auth.ex.com", "https://auth.ex.com/"] {
            assert_eq!(
                authorization_server_metadata_urls(issuer).unwrap(),
                vec![
                    "https://auth.ex.com/.well-known/oauth-authorization-server",
                    "https://auth.ex.com/.well-known/openid-configuration",
                ]
            );
        }
    }

    #[test]
    fn prm_urls() {
        assert_eq!(
            protected_resource_metadata_urls("https://ex.com/public/mcp").unwrap(),
            vec![
                "https://ex.com/.well-known/oauth-protected-resource/public/mcp",
                "https://ex.com/.well-known/oauth-protected-resource",
            ]
        );
        for r in ["https://ex.com", "https://ex.com/"] {
            assert_eq!(
                protected_resource_metadata_urls(r).unwrap(),
                vec!["https://ex.com/.well-known/oauth-protected-resource"]
            );
        }
        // RFC 9728 keeps a path's own trailing slash.
        assert_eq!(
            protected_resource_metadata_url("https://h/mcp/").unwrap(),
            "https://h/.well-known/oauth-protected-resource/mcp/"
        );
    }

    #[test]
    fn served_paths() {
        assert_eq!(
            served_path(OAUTH_AUTHORIZATION_SERVER, ""),
            "/.well-known/oauth-authorization-server"
        );
        assert_eq!(
            served_path(OPENID_CONFIGURATION, "/t1/"),
            "/.well-known/openid-configuration/t1"
        );
    }
}
