//! Finding the bearer token: only in the `Authorization` header (RFC 6750 §2.1, OAuth 2.1 §5.2),
//! or, when the guard is configured with one, an API key in its own header (`X-API-Key`).
//!
//! RFC 6750 also defines a form-body parameter and a query parameter; OAuth 2.1 drops the query
//! form and MCP requires the header. A token offered any other way is refused with
//! `invalid_request` rather than ignored, so that a misbehaving client learns it at once and the
//! token (already exposed in a URL or a log) is not silently accepted.

use http::HeaderMap;
use http::header::{AUTHORIZATION, CONTENT_TYPE};

/// The longest token the guard looks at. Real access tokens are a few KiB at most; anything
/// longer is refused before any parsing or hashing work.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Why the `Authorization` header was refused (`400 invalid_request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// More than one `Authorization` header.
    #[error("more than one Authorization header")]
    Duplicate,
    /// `Bearer` without a token, a token outside the `token68` grammar, or non-ASCII bytes.
    #[error("malformed Bearer credentials")]
    Malformed,
    /// A token longer than [`MAX_TOKEN_LEN`].
    #[error("access token too long")]
    TooLong,
    /// `access_token` in the query string.
    #[error("access tokens are not accepted in the query string")]
    InQuery,
    /// `access_token` in a form-encoded body.
    #[error("access tokens are not accepted in the request body")]
    InBody,
    /// A bearer token and an API key header in one request: which one counts is not guessed.
    #[error("send either an Authorization header or the API key header, not both")]
    Both,
}

/// The bearer token of a request, if it sent one.
///
/// Returns `Ok(None)` when there is no `Authorization` header or it uses another scheme
/// (`Basic`, say): for the guard that is a request without a bearer token, answered with a plain
/// challenge. The scheme is compared case-insensitively (RFC 9110 §11.1); the token must match
/// `token68` (`1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`).
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, ExtractError> {
    Ok(match access_token(headers)? {
        Some((Scheme::Bearer, token)) => Some(token),
        _ => None,
    })
}

/// The scheme an access token was sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Bearer` (RFC 6750).
    Bearer,
    /// `DPoP` (RFC 9449 §7.1): the token must be bound to the key of the request's proof.
    Dpop,
}

/// The access token of a request and the scheme it came with, `Bearer` or `DPoP` (case-insensitive),
/// by the rules of [`bearer_token`]; `Ok(None)` for no header or another scheme.
pub fn access_token(headers: &HeaderMap) -> Result<Option<(Scheme, &str)>, ExtractError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ExtractError::Duplicate);
    }
    let value = value.to_str().map_err(|_| ExtractError::Malformed)?;
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let (scheme, rest) = match value.find([' ', '\t']) {
        Some(i) => (&value[..i], &value[i..]),
        None => (value, ""),
    };
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case(mcp_oauth_core::dpop::SCHEME) {
        Scheme::Dpop
    } else {
        return Ok(None);
    };
    let token = rest.trim_start_matches([' ', '\t']);
    if token.is_empty() {
        return Err(ExtractError::Malformed);
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(ExtractError::TooLong);
    }
    if !is_token68(token) {
        return Err(ExtractError::Malformed);
    }
    Ok(Some((scheme, token)))
}

/// The API key of a request in the configured header (`X-API-Key`, say), for clients that cannot
/// set `Authorization`. The same rules as a bearer token: one header, `token68`, at most
/// [`MAX_TOKEN_LEN`]; surrounding blanks are ignored. `Ok(None)` without the header.
pub fn header_token<'h>(
    headers: &'h HeaderMap,
    name: &http::HeaderName,
) -> Result<Option<&'h str>, ExtractError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ExtractError::Duplicate);
    }
    let token = value
        .to_str()
        .map_err(|_| ExtractError::Malformed)?
        .trim_matches(|c| c == ' ' || c == '\t');
    if token.len() > MAX_TOKEN_LEN {
        return Err(ExtractError::TooLong);
    }
    if !is_token68(token) {
        return Err(ExtractError::Malformed);
    }
    Ok(Some(token))
}

/// Whether `s` matches RFC 9110 `token68`.
pub fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=').as_bytes();
    // Branch-free per byte and checked a chunk at a time, so that the compiler vectorizes it:
    // this runs over every request's whole token.
    const CHUNK: usize = 32;
    let mut chunks = body.chunks_exact(CHUNK);
    let all_ok = |bytes: &[u8]| bytes.iter().fold(true, |ok, &b| ok & is_token68_byte(b));
    !body.is_empty() && chunks.all(all_ok) && all_ok(chunks.remainder())
}

/// `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`, without branches.
#[inline(always)]
fn is_token68_byte(b: u8) -> bool {
    let digit = b.wrapping_sub(b'0') < 10;
    let alpha = (b | 0x20).wrapping_sub(b'a') < 26;
    let punct = (b == b'-') | (b == b'.') | (b == b'_') | (b == b'~') | (b == b'+') | (b == b'/');
    digit | alpha | punct
}

/// Refuses a request URI query that carries `access_token` (RFC 6750 §2.3, forbidden by
/// OAuth 2.1 and MCP).
pub fn check_query(query: Option<&str>) -> Result<(), ExtractError> {
    match query {
        Some(q) if has_access_token_param(q.as_bytes()) => Err(ExtractError::InQuery),
        _ => Ok(()),
    }
}

/// Whether the request body is `application/x-www-form-urlencoded`, the only kind that can carry
/// an RFC 6750 §2.2 form token.
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| {
            m.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Refuses a form body that carries `access_token` (RFC 6750 §2.2; not supported here).
pub fn check_form_body(body: &[u8]) -> Result<(), ExtractError> {
    if has_access_token_param(body) {
        Err(ExtractError::InBody)
    } else {
        Ok(())
    }
}

fn has_access_token_param(input: &[u8]) -> bool {
    url::form_urlencoded::parse(input).any(|(k, _)| k == "access_token")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn takes_bearer_token_any_case() {
        for v in [
            "Bearer abc.def-ghi_~+/==",
            "bearer abc.def-ghi_~+/==",
            "BEARER   abc.def-ghi_~+/== ",
        ] {
            assert_eq!(
                bearer_token(&headers(&[v])),
                Ok(Some("abc.def-ghi_~+/==")),
                "{v}"
            );
        }
    }

    #[test]
    fn dpop_scheme_is_read_too() {
        assert_eq!(
            access_token(&headers(&["DPoP abc"])),
            Ok(Some((Scheme::Dpop, "abc")))
        );
        assert_eq!(
            access_token(&headers(&["dpop abc"])),
            Ok(Some((Scheme::Dpop, "abc")))
        );
        assert_eq!(bearer_token(&headers(&["DPoP abc"])), Ok(None));
        assert_eq!(
            access_token(&headers(&["DPoP a b"])),
            Err(ExtractError::Malformed)
        );
    }

    #[test]
    fn no_header_or_other_scheme_is_no_token() {
        assert_eq!(bearer_token(&HeaderMap::new()), Ok(None));
        assert_eq!(bearer_token(&headers(&["Basic dXNlcjpwYXNz"])), Ok(None));
        assert_eq!(bearer_token(&headers(&["Bearerabc"])), Ok(None));
    }

    #[test]
    fn malformed_and_duplicated() {
        assert_eq!(
            bearer_token(&headers(&["Bearer a", "Bearer b"])),
            Err(ExtractError::Duplicate)
        );
        for v in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a,b",
            "Bearer =abc",
            "Bearer a=b",
            "Bearer \"a\"",
        ] {
            assert_eq!(
                bearer_token(&headers(&[v])),
                Err(ExtractError::Malformed),
                "{v}"
            );
        }
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        );
        assert_eq!(bearer_token(&h), Err(ExtractError::Malformed));
        let long = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
        assert_eq!(bearer_token(&headers(&[&long])), Err(ExtractError::TooLong));
    }

    #[test]
    fn api_key_header() {
        let name = http::HeaderName::from_static("x-api-key");
        let mut h = HeaderMap::new();
        assert_eq!(header_token(&h, &name), Ok(None));
        h.insert(&name, HeaderValue::from_static(" mcpk_abc-DEF_1 "));
        assert_eq!(header_token(&h, &name), Ok(Some("mcpk_abc-DEF_1")));
        h.append(&name, HeaderValue::from_static("other"));
        assert_eq!(header_token(&h, &name), Err(ExtractError::Duplicate));
        for bad in ["", "a b", "Bearer x"] {
            h.insert(&name, HeaderValue::from_str(bad).unwrap());
            assert_eq!(
                header_token(&h, &name),
                Err(ExtractError::Malformed),
                "{bad:?}"
            );
        }
        h.insert(
            &name,
            HeaderValue::from_str(&"a".repeat(MAX_TOKEN_LEN + 1)).unwrap(),
        );
        assert_eq!(header_token(&h, &name), Err(ExtractError::TooLong));
    }

    #[test]
    fn token68_bytes() {
        for b in 0..=255u8 {
            let expected =
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
            assert_eq!(is_token68_byte(b), expected, "{b}");
        }
        let long = "aZ09-._~+/".repeat(40);
        assert!(is_token68(&long));
        assert!(is_token68(&format!("{long}==")));
        for i in [0, 31, 32, 33, 150, long.len() - 1] {
            let mut bad = long.clone().into_bytes();
            bad[i] = b'=';
            // Trailing `=` is padding.
            let padding = i == long.len() - 1;
            assert_eq!(
                is_token68(std::str::from_utf8(&bad).unwrap()),
                padding,
                "{i}"
            );
            bad[i] = b' ';
            assert!(!is_token68(std::str::from_utf8(&bad).unwrap()), "{i}");
        }
        assert!(!is_token68(""));
        assert!(!is_token68("=="));
    }

    #[test]
    fn query_and_form_tokens_are_refused() {
        assert_eq!(check_query(None), Ok(()));
        assert_eq!(check_query(Some("a=1&b=2")), Ok(()));
        assert_eq!(
            check_query(Some("a=1&access_token=x")),
            Err(ExtractError::InQuery)
        );
        assert_eq!(
            check_query(Some("access%5Ftoken=x")),
            Err(ExtractError::InQuery)
        );
        assert_eq!(check_form_body(b"grant=1"), Ok(()));
        assert_eq!(
            check_form_body(b"access_token=abc"),
            Err(ExtractError::InBody)
        );
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
        );
        assert!(is_form(&h));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(!is_form(&h));
    }
}
