//! Which client ids are metadata document URLs, and what a fetched document must say.
//!
//! A document URL is `https` with a path (not just `/`), and without user information, query,
//! fragment, or `.`/`..` segments (CIMD §3). The document is RFC 7591 client metadata whose
//! `client_id` equals the URL exactly (a plain string comparison), with `redirect_uris`, and with
//! no secret of any kind: it is public, so a secret in it is no secret. The method is `none` or
//! `private_key_jwt`; with the latter the client must then authenticate with its key on every
//! token request. `client_name` is optional: the consent page falls back to the URL's host, which
//! it shows as the verified identity in any case.

use crate::client_metadata::{self as metadata, Registration, Rules};
use crate::fetch::{host, ip};
use mcp_oauth_core::uri::UriParts;
use serde_json::Value;

/// The largest document accepted, in bytes (CIMD §6.6 recommends 5 KB).
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024;

/// Whether `client_id` is meant as a document URL: it starts with `https://` (or, with the
/// development switch, `http://` on a loopback host). Such ids are never issued by this server.
pub fn looks_like_url(client_id: &str, allow_loopback_http: bool) -> bool {
    if client_id.starts_with("https://") {
        return true;
    }
    allow_loopback_http
        && client_id.starts_with("http://")
        && url::Url::parse(client_id)
            .ok()
            .and_then(|u| host::of_url(&u))
            .is_some_and(|h| {
                h == "localhost"
                    || h.parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip::classify(ip) == ip::AddressClass::Loopback)
            })
}

/// A document URL, parsed once: the WHATWG URL the fetcher connects to, and its canonical host
/// (see [`host`]), which the trust lists match and the pages show.
#[derive(Debug, Clone)]
pub struct DocumentUrl {
    /// The parsed URL, handed to the fetcher as is.
    pub url: url::Url,
    /// The canonical ASCII host, without port.
    pub host: String,
}

/// Checks the shape of a document URL; the error says what is wrong with it.
///
/// A `\`, whitespace or a control character anywhere is refused before parsing: WHATWG reads
/// `\` as `/` and silently drops tabs and newlines, so such a string means something other
/// than what it shows.
pub fn check_url(client_id: &str) -> Result<DocumentUrl, &'static str> {
    if client_id.contains('\\') {
        return Err("the client id URL must not contain a backslash");
    }
    if client_id
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("the client id URL must not contain spaces or control characters");
    }
    let p = UriParts::split(client_id).ok_or("the client id is not an absolute URL")?;
    let url = url::Url::parse(client_id).map_err(|_| "the client id is not a valid URL")?;
    if p.has_userinfo() || !url.username().is_empty() || url.password().is_some() {
        return Err("the client id URL must not contain user information");
    }
    if p.query.is_some() || url.query().is_some() {
        return Err("the client id URL must not contain a query");
    }
    if p.fragment.is_some() || url.fragment().is_some() {
        return Err("the client id URL must not contain a fragment");
    }
    if p.path.is_empty() || p.path == "/" {
        return Err("the client id URL must have a path");
    }
    let dot = |seg: &str| {
        let s = seg.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    };
    if p.path.split('/').any(dot) {
        return Err("the client id URL must not contain . or .. segments");
    }
    let host = host::of_url(&url).ok_or("the client id URL has no host")?;
    Ok(DocumentUrl { url, host })
}

/// The canonical host of a document URL, without port: what the trust lists match and what the
/// pages show as the verified identity (ASCII, so a homograph shows as its `xn--` name).
pub fn host_of(client_id: &str) -> String {
    url::Url::parse(client_id)
        .ok()
        .and_then(|u| host::of_url(&u))
        .unwrap_or_default()
}

/// Validates a fetched document for `client_id`. `check_jwks_uri` applies the fetcher's URL
/// rules to a `jwks_uri`; `redirect_schemes` are the server's extra redirect URI schemes.
pub fn validate(
    client_id: &str,
    body: &[u8],
    check_jwks_uri: &(dyn Fn(&str) -> Result<(), String> + Sync),
    redirect_schemes: &[String],
) -> Result<Registration, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|_| "the document is not valid JSON".to_owned())?;
    if !doc.is_object() {
        return Err("the document is not a JSON object".into());
    }
    match doc.get("client_id").and_then(Value::as_str) {
        Some(id) if id == client_id => {}
        Some(_) => {
            return Err("the document's client_id is not the URL it was fetched from".into());
        }
        None => return Err("the document has no client_id".into()),
    }
    let mut reg = metadata::validate(
        &doc,
        &Rules {
            allow_client_credentials: false,
            document: true,
            check_jwks_uri,
            redirect_schemes,
        },
    )
    .map_err(|e| e.description)?;
    if reg.metadata.client_name.is_none() {
        reg.client_name = host_of(client_id);
    }
    reg.metadata.client_id = Some(client_id.to_owned());
    Ok(reg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "https://app.example/oauth/client.json";

    fn ok(_: &str) -> Result<(), String> {
        Ok(())
    }

    fn check(doc: Value) -> Result<Registration, String> {
        validate(URL, doc.to_string().as_bytes(), &ok, &[])
    }

    #[test]
    fn url_shapes() {
        assert!(looks_like_url(URL, false));
        assert!(!looks_like_url("http://127.0.0.1:8/c.json", false));
        assert!(looks_like_url("http://127.0.0.1:8/c.json", true));
        assert!(!looks_like_url("http://app.example/c.json", true));
        assert!(!looks_like_url("my-client", true));
        assert!(check_url(URL).is_ok());
        assert!(check_url("https://app.example:8443/c").is_ok());
        for bad in [
            "https://app.example",
            "https://app.example/",
            "https://app.example/c?x=1",
            "https://app.example/c#f",
            "https://u@app.example/c",
            "https://app.example/a/../c",
            "https://app.example/./c",
            "https://app.example/a/%2E%2e/c",
            "https://",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert_eq!(host_of("https://App.Example:8443/c"), "app.example");
    }

    #[test]
    fn a_good_document() {
        let r = check(json!({
            "client_id": URL, "client_name": "App", "redirect_uris": ["http://127.0.0.1/cb"],
            "grant_types": ["authorization_code", "refresh_token"], "logo_uri": "https://app.example/l.png"
        }))
        .unwrap();
        assert_eq!(r.auth_method, "none");
        assert_eq!(r.client_name, "App");
        assert_eq!(r.metadata.client_id.as_deref(), Some(URL));
        let unnamed =
            check(json!({"client_id": URL, "redirect_uris": ["https://app.example/cb"]})).unwrap();
        assert_eq!(
            unnamed.client_name, "app.example",
            "the host when there is no name"
        );
    }

    #[test]
    fn bad_documents() {
        let cb = json!(["https://app.example/cb"]);
        assert!(validate(URL, b"<html>", &ok, &[]).is_err());
        assert!(validate(URL, b"[1]", &ok, &[]).is_err());
        for doc in [
            json!({"redirect_uris": cb}),
            json!({"client_id": "https://evil.example/client.json", "redirect_uris": cb}),
            json!({"client_id": format!("{URL}/"), "redirect_uris": cb}),
            json!({"client_id": URL}),
            json!({"client_id": URL, "redirect_uris": cb, "client_secret": "s3cret"}),
            json!({"client_id": URL, "redirect_uris": cb, "token_endpoint_auth_method": "client_secret_basic"}),
            json!({"client_id": URL, "redirect_uris": cb, "token_endpoint_auth_method": "private_key_jwt"}),
            json!({"client_id": URL, "redirect_uris": cb, "grant_types": ["client_credentials"]}),
        ] {
            assert!(check(doc.clone()).is_err(), "{doc}");
        }
    }
}
