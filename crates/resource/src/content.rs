//! What a request must look like for the scope policy to read its body with certainty.
//!
//! The policy decides from the JSON-RPC body (`tools/call delete_file` needs more than
//! `tools/list`), so the guard and the MCP server behind it must read the same bytes the same
//! way. Servers are lenient (express-style body parsers inflate `gzip` and `deflate`, strip a byte
//! order mark, transcode `charset=utf-16`, parse forms; some parse any body as JSON whatever its
//! type): a body the guard reads as "not JSON, so `default`" could be a `tools/call` to them. So
//! when the policy needs the body, the guard **fails closed**: it reads only `POST` with
//! `Content-Type: application/json` (charset UTF-8 if any), no `Content-Encoding` other than
//! `identity`, no byte order mark, JSON that parses; everything else is refused and never
//! forwarded:
//!
//! | request | answer |
//! |---|---|
//! | `Content-Encoding` other than `identity`, a `Transfer-Encoding` other than `chunked` | `415` |
//! | media type other than `application/json` (form, `text/plain`, none), charset other than UTF-8 | `415` |
//! | a byte order mark, JSON that does not parse, an ambiguous member ([`crate::policy`]) | `400` |
//! | a body on `PUT`, `PATCH` or any other method but `POST` | `405` with `Allow` |
//! | a body on `GET`, `DELETE`, `HEAD`, `OPTIONS` | `400` |

use crate::error::AuthError;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, TRANSFER_ENCODING};
use http::{HeaderMap, Method};

/// The UTF-8 byte order mark.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The methods of the MCP Streamable HTTP transport, for `Allow`.
pub const ALLOWED_METHODS: &str = "GET, POST, DELETE";

/// Checks the headers of a `POST` whose body the policy will read.
pub(crate) fn check_json_post(headers: &HeaderMap) -> Result<(), AuthError> {
    let unsupported = |d: String| Err(AuthError::UnsupportedMediaType(d));
    for value in headers.get_all(CONTENT_ENCODING) {
        let Ok(value) = value.to_str() else {
            return unsupported("the Content-Encoding header is not readable".into());
        };
        for coding in value.split(',').map(str::trim) {
            if !coding.eq_ignore_ascii_case("identity") {
                return unsupported(format!(
                    "Content-Encoding `{}` is not accepted: send the JSON-RPC body unencoded",
                    printable(coding)
                ));
            }
        }
    }
    for value in headers.get_all(TRANSFER_ENCODING) {
        let Ok(value) = value.to_str() else {
            return unsupported("the Transfer-Encoding header is not readable".into());
        };
        for coding in value.split(',').map(str::trim) {
            if !coding.eq_ignore_ascii_case("chunked") {
                return unsupported(format!(
                    "Transfer-Encoding `{}` is not accepted",
                    printable(coding)
                ));
            }
        }
    }
    let mut types = headers.get_all(CONTENT_TYPE).iter();
    let (Some(value), None) = (types.next(), types.next()) else {
        return unsupported("a JSON-RPC body needs exactly one Content-Type: application/json".into());
    };
    let Ok(value) = value.to_str() else {
        return unsupported("the Content-Type header is not readable".into());
    };
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return unsupported(format!(
            "Content-Type `{}` is not accepted: a JSON-RPC body is application/json",
            printable(essence)
        ));
    }
    let mut charsets = 0;
    for param in parts {
        let (name, v) = param.split_once('=').unwrap_or((param, ""));
        if name.trim().eq_ignore_ascii_case("charset") {
            charsets += 1;
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            if charsets > 1 || !v.eq_ignore_ascii_case("utf-8") {
                return unsupported(format!(
                    "charset `{}` is not accepted: a JSON-RPC body is UTF-8",
                    printable(v)
                ));
            }
        }
    }
    Ok(())
}

/// Checks the bytes of a body the policy will read, before JSON parsing.
pub(crate) fn check_json_bytes(body: &[u8]) -> Result<(), AuthError> {
    if body.starts_with(UTF8_BOM) {
        return Err(AuthError::MalformedBody(
            "the request body starts with a byte order mark: send plain UTF-8 JSON".into(),
        ));
    }
    Ok(())
}

/// The refusal of a body sent with `method` (anything but `POST`).
pub(crate) fn body_not_allowed(method: &Method) -> AuthError {
    if [Method::GET, Method::DELETE, Method::HEAD, Method::OPTIONS].contains(method) {
        AuthError::MalformedBody(format!("a {method} request carries no body"))
    } else {
        AuthError::MethodNotAllowed(format!(
            "{} is not an MCP method: use POST for JSON-RPC",
            printable(method.as_str())
        ))
    }
}

/// `s` cut to 40 characters of printable ASCII, for an error description.
fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(40)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn h(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn json_posts() {
        let ok = |p: &[(&str, &str)]| check_json_post(&h(p)).is_ok();
        assert!(ok(&[("content-type", "application/json")]));
        assert!(ok(&[("content-type", "Application/JSON; charset=UTF-8")]));
        assert!(ok(&[("content-type", "application/json; charset=\"utf-8\"")]));
        assert!(ok(&[
            ("content-type", "application/json"),
            ("content-encoding", "identity")
        ]));
        assert!(ok(&[
            ("content-type", "application/json"),
            ("transfer-encoding", "chunked")
        ]));
        for bad in [
            vec![],
            vec![("content-type", "application/x-www-form-urlencoded")],
            vec![("content-type", "text/plain")],
            vec![("content-type", "application/json-seq")],
            vec![("content-type", "application/json; charset=utf-16")],
            vec![("content-type", "application/json; charset=utf-8; charset=utf-16")],
            vec![("content-type", "application/json"), ("content-type", "application/json")],
            vec![("content-type", "application/json"), ("content-encoding", "gzip")],
            vec![("content-type", "application/json"), ("content-encoding", "deflate")],
            vec![("content-type", "application/json"), ("content-encoding", "identity, br")],
            vec![("content-type", "application/json"), ("content-encoding", "")],
            vec![("content-type", "application/json"), ("transfer-encoding", "gzip, chunked")],
        ] {
            let r = check_json_post(&h(&bad));
            assert!(
                matches!(r, Err(AuthError::UnsupportedMediaType(_))),
                "{bad:?}: {r:?}"
            );
        }
    }

    #[test]
    fn bodies_and_methods() {
        assert!(check_json_bytes(b"{}").is_ok());
        assert!(matches!(
            check_json_bytes(b"\xEF\xBB\xBF{}"),
            Err(AuthError::MalformedBody(_))
        ));
        assert!(matches!(
            body_not_allowed(&Method::PUT),
            AuthError::MethodNotAllowed(_)
        ));
        assert!(matches!(
            body_not_allowed(&Method::PATCH),
            AuthError::MethodNotAllowed(_)
        ));
        assert!(matches!(
            body_not_allowed(&Method::GET),
            AuthError::MalformedBody(_)
        ));
        assert!(matches!(
            body_not_allowed(&Method::DELETE),
            AuthError::MalformedBody(_)
        ));
    }
}
