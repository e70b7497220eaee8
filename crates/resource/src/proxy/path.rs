//! The request path, normalised before the guard matches and forwards it (issue 12).
//!
//! The guard routes by path (the resource path and below it) and forwards the path to the
//! upstream, which may resolve it differently: `/x/../mcp` or `/mcp/%2e%2e/admin` could match
//! one thing here and reach another there. So, before anything else:
//!
//! - plain dot segments (`.`, `..`) are resolved (RFC 3986 §5.2.4), and the result is what is
//!   matched and forwarded: `/x/../mcp` is `/mcp`, and needs a token like it;
//! - what servers resolve differently is refused with `400` rather than guessed at: an encoded
//!   slash or backslash (`%2F`, `%5C`), a backslash, an encoded dot segment (`%2e%2e`, `.%2E`), a
//!   dot segment with a parameter (`..;x`, resolved by some Java servers), a double-encoded one
//!   (`%252e`), an empty segment (`//`, merged by some servers), and `..` above the root.

use std::borrow::Cow;

/// The normalised path, or why it is refused.
pub fn normalize(path: &str) -> Result<Cow<'_, str>, &'static str> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err("the request path must start with /");
    };
    if path.contains('\\') {
        return Err("the request path contains a backslash");
    }
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") {
        return Err("the request path contains an encoded slash or backslash");
    }
    if lower.contains("%25") {
        return Err("the request path contains a double-encoded character");
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let last = segments.len() - 1;
    let mut out: Vec<&str> = Vec::with_capacity(segments.len());
    let mut changed = false;
    let mut trailing_slash = false;
    for (i, seg) in segments.iter().enumerate() {
        let decoded = seg.to_ascii_lowercase().replace("%2e", ".");
        let base = decoded.split(';').next().unwrap_or_default();
        let dotty = base == "." || base == "..";
        if dotty && *seg != "." && *seg != ".." {
            return Err("the request path contains an encoded or parameterised dot segment");
        }
        match *seg {
            "" if i != last => return Err("the request path contains an empty segment (//)"),
            "" => trailing_slash = true,
            "." => {
                changed = true;
                trailing_slash = i == last;
            }
            ".." => {
                if out.pop().is_none() {
                    return Err("the request path climbs above the root");
                }
                changed = true;
                trailing_slash = i == last;
            }
            s => out.push(s),
        }
    }
    if !changed {
        return Ok(Cow::Borrowed(path));
    }
    let mut p = String::with_capacity(path.len());
    for s in &out {
        p.push('/');
        p.push_str(s);
    }
    if trailing_slash || p.is_empty() {
        p.push('/');
    }
    Ok(Cow::Owned(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_plain_dot_segments() {
        for (path, want) in [
            ("/mcp", "/mcp"),
            ("/mcp/", "/mcp/"),
            ("/", "/"),
            ("/x/../mcp", "/mcp"),
            ("/./mcp", "/mcp"),
            ("/mcp/./x", "/mcp/x"),
            ("/mcp/x/..", "/mcp/"),
            ("/mcp/..", "/"),
            ("/mcp/../admin", "/admin"),
            ("/mcp/file%2etxt", "/mcp/file%2etxt"),
            ("/mcp/a%20b", "/mcp/a%20b"),
        ] {
            assert_eq!(normalize(path).as_deref(), Ok(want), "{path}");
        }
    }

    #[test]
    fn refuses_what_servers_read_differently() {
        for path in [
            "mcp",
            "*",
            "/mcp/%2e%2e/admin",
            "/mcp/%2E%2E/admin",
            "/mcp/.%2e/admin",
            "/mcp/%2e/x",
            "/mcp%2fadmin",
            "/mcp%2F..%2Fadmin",
            "/mcp%5cadmin",
            "/mcp\\..\\admin",
            "/mcp/..;/admin",
            "/mcp/.;x/admin",
            "/mcp/%252e%252e/admin",
            "/mcp//admin",
            "//mcp",
            "/..",
            "/../mcp",
            "/x/../../mcp",
        ] {
            assert!(normalize(path).is_err(), "{path}");
        }
    }
}
