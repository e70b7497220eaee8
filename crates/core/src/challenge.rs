//! `WWW-Authenticate` challenges: building them (RFC 6750 §3, RFC 9728 §5.1) and parsing them
//! (RFC 9110 §11.6.1), in one module so that what we send is what we read.
//!
//! The grammar: `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`,
//! `auth-param = token BWS "=" BWS ( token / quoted-string )`; one header may carry several
//! challenges separated by commas, and parameters may come in any order, quoted or not.

use crate::error::ErrorCode;
use std::fmt::{self, Write};

/// One challenge: a scheme with either a token68 or parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Challenge {
    /// The auth scheme as sent (compare case-insensitively).
    pub scheme: String,
    /// A token68 credential hint, if the challenge used that form.
    pub token68: Option<String>,
    /// Parameters in order; names lower-cased.
    pub params: Vec<(String, String)>,
}

impl Challenge {
    /// The value of parameter `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether this is a `Bearer` challenge.
    pub fn is_bearer(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("bearer")
    }
}

/// A malformed header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed WWW-Authenticate header at byte {0}")]
pub struct ParseError(pub usize);

/// Parses every challenge in one `WWW-Authenticate` header value.
pub fn parse(header: &str) -> Result<Vec<Challenge>, ParseError> {
    let mut p = Parser {
        s: header.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        p.skip_while(|b| b == b',' || is_ows(b));
        if p.eof() {
            break;
        }
        let at = p.i;
        let scheme = p.token().map(str::to_owned).ok_or(ParseError(at))?;
        let mut ch = Challenge {
            scheme,
            ..Default::default()
        };
        let had_space = p.skip_while(|b| b == b' ') > 0;
        if had_space && !p.eof() && p.peek() != Some(b',') {
            if let Some(t68) = p.try_token68() {
                ch.token68 = Some(t68);
            } else {
                p.params(&mut ch.params)?;
            }
        }
        out.push(ch);
    }
    Ok(out)
}

/// Finds the first `Bearer` challenge in one or more header values.
pub fn find_bearer<'a>(headers: impl IntoIterator<Item = &'a str>) -> Option<BearerChallenge> {
    headers
        .into_iter()
        .filter_map(|h| parse(h).ok())
        .flatten()
        .find(Challenge::is_bearer)
        .map(|c| BearerChallenge::from_challenge(&c))
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

impl Parser<'_> {
    fn eof(&self) -> bool {
        self.i >= self.s.len()
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_while(&mut self, f: impl Fn(u8) -> bool) -> usize {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        self.i - start
    }
    fn token(&mut self) -> Option<&str> {
        let start = self.i;
        self.skip_while(is_tchar);
        if self.i == start {
            return None;
        }
        std::str::from_utf8(&self.s[start..self.i]).ok()
    }
    /// A token68 is only taken when it is followed by OWS and then a comma or the end, and is not
    /// the start of `name=value`.
    fn try_token68(&mut self) -> Option<String> {
        let start = self.i;
        if self.skip_while(is_token68_char) == 0 {
            return None;
        }
        self.skip_while(|b| b == b'=');
        let end = self.i;
        self.skip_while(is_ows);
        if self.eof() || self.peek() == Some(b',') {
            let t = std::str::from_utf8(&self.s[start..end]).ok()?;
            // `name=` followed by nothing is a parameter with an empty value in practice.
            if t.ends_with('=') && t.trim_end_matches('=').bytes().all(is_tchar) && {
                let eqs = t.len() - t.trim_end_matches('=').len();
                eqs == 1
            } {
                self.i = start;
                return None;
            }
            return Some(t.to_owned());
        }
        self.i = start;
        None
    }
    fn quoted(&mut self) -> Result<String, ParseError> {
        // at '"'
        self.i += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None => return Err(ParseError(self.i)),
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = self.peek().ok_or(ParseError(self.i))?;
                    out.push(c);
                    self.i += 1;
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| ParseError(self.i))
    }
    fn params(&mut self, params: &mut Vec<(String, String)>) -> Result<(), ParseError> {
        loop {
            let save = self.i;
            let Some(name) = self.token().map(str::to_ascii_lowercase) else {
                self.i = save;
                return Ok(());
            };
            self.skip_while(is_ows);
            if self.peek() != Some(b'=') {
                // Not a parameter: the start of the next challenge.
                self.i = save;
                return Ok(());
            }
            self.i += 1;
            self.skip_while(is_ows);
            let value = if self.peek() == Some(b'"') {
                self.quoted()?
            } else {
                // RFC 9110 allows only a token here, but servers send `scope=files:read`
                // unquoted; read up to the next comma or space, as browsers and SDKs do.
                let start = self.i;
                self.skip_while(|b| b != b',' && !is_ows(b) && b != b'"');
                String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
            };
            params.push((name, value));
            self.skip_while(is_ows);
            match self.peek() {
                None => return Ok(()),
                Some(b',') => {
                    self.skip_while(|b| b == b',' || is_ows(b));
                }
                Some(_) => return Err(ParseError(self.i)),
            }
        }
    }
}

/// A `Bearer` challenge with the parameters RFC 6750 and RFC 9728 define.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BearerChallenge {
    /// `realm`.
    pub realm: Option<String>,
    /// `error` (absent when the request carried no token, RFC 6750 §3.1).
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
    /// `scope`: the scopes this request needs (space-delimited).
    pub scope: Option<String>,
    /// `resource_metadata` (RFC 9728 §5.1).
    pub resource_metadata: Option<String>,
}

impl BearerChallenge {
    /// The parameters of a parsed `Bearer` challenge.
    pub fn from_challenge(c: &Challenge) -> Self {
        let get = |n: &str| c.param(n).map(str::to_owned);
        Self {
            realm: get("realm"),
            error: get("error"),
            error_description: get("error_description"),
            scope: get("scope"),
            resource_metadata: get("resource_metadata"),
        }
    }

    /// A challenge with an error code.
    pub fn with_error(mut self, code: ErrorCode, description: impl Into<String>) -> Self {
        self.error = Some(code.as_str().to_owned());
        self.error_description = Some(description.into());
        self
    }
}

/// Writes `v` as an RFC 9110 quoted-string. Control characters are dropped: they cannot be sent
/// in a header and only arrive through a bug or an attack.
fn write_quoted(out: &mut String, v: &str) {
    out.push('"');
    for c in v.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `scheme name="value", …` for the parameters that are set.
fn write_challenge(scheme: &str, params: &[(&str, &Option<String>)]) -> String {
    let mut out = String::from(scheme);
    let mut first = true;
    for (name, value) in params {
        if let Some(v) = value {
            out.push_str(if first { " " } else { ", " });
            first = false;
            out.push_str(name);
            out.push('=');
            write_quoted(&mut out, v);
        }
    }
    out
}

impl fmt::Display for BearerChallenge {
    /// `Bearer error="…", error_description="…", scope="…", resource_metadata="…"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&write_challenge(
            "Bearer",
            &[
                ("realm", &self.realm),
                ("error", &self.error),
                ("error_description", &self.error_description),
                ("scope", &self.scope),
                ("resource_metadata", &self.resource_metadata),
            ],
        ))
    }
}

/// A `DPoP` challenge (RFC 9449 §7.1): the proof algorithms accepted, and the error.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DpopChallenge {
    /// `algs`: space-delimited proof algorithms.
    pub algs: Option<String>,
    /// `error`: `invalid_token`, `invalid_dpop_proof` or `use_dpop_nonce`.
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `resource_metadata` (RFC 9728 §5.1).
    pub resource_metadata: Option<String>,
}

impl fmt::Display for DpopChallenge {
    /// `DPoP algs="…", error="…", error_description="…", scope="…", resource_metadata="…"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&write_challenge(
            "DPoP",
            &[
                ("algs", &self.algs),
                ("error", &self.error),
                ("error_description", &self.error_description),
                ("scope", &self.scope),
                ("resource_metadata", &self.resource_metadata),
            ],
        ))
    }
}

/// `Basic realm="…"`, sent with a 401 after a failed HTTP Basic client authentication
/// (RFC 6749 §5.2).
pub fn basic(realm: &str) -> String {
    let mut out = String::from("Basic realm=");
    write_quoted(&mut out, realm);
    let _ = write!(out, ", charset=\"UTF-8\"");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc6750_example() {
        let h = r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#;
        let c = parse(h).unwrap();
        assert_eq!(c.len(), 1);
        let b = BearerChallenge::from_challenge(&c[0]);
        assert_eq!(b.realm.as_deref(), Some("example"));
        assert_eq!(b.error.as_deref(), Some("invalid_token"));
        assert_eq!(
            b.error_description.as_deref(),
            Some("The access token expired")
        );
    }

    #[test]
    fn parses_several_challenges_and_token_forms() {
        let h = r#"Basic realm="x", bearer scope=files:read, resource_metadata="https://h/.well-known/oauth-protected-resource/mcp", Negotiate abc123=="#;
        let c = parse(h).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].scheme, "Basic");
        assert!(c[1].is_bearer());
        assert_eq!(c[1].param("SCOPE"), Some("files:read"));
        assert_eq!(
            c[1].param("resource_metadata"),
            Some("https://h/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(c[2].token68.as_deref(), Some("abc123=="));
    }

    #[test]
    fn bare_scheme_and_escapes() {
        let c = parse("Bearer").unwrap();
        assert_eq!(c[0].scheme, "Bearer");
        assert!(c[0].params.is_empty());
        let c = parse(r#"Bearer error_description="a \"quoted\" \\ word""#).unwrap();
        assert_eq!(
            c[0].param("error_description"),
            Some(r#"a "quoted" \ word"#)
        );
    }

    #[test]
    fn malformed_is_an_error_not_a_panic() {
        assert!(parse(r#"Bearer error="unterminated"#).is_err());
        assert!(parse(r#"Bearer a="b" junk"#).is_err());
        for s in [
            "",
            ",",
            "=",
            "Bearer =",
            "Bearer a=",
            "\"",
            "Bearer ,,, a=b",
        ] {
            let _ = parse(s);
        }
    }

    #[test]
    fn build_then_parse_round_trips() {
        let cases = [
            BearerChallenge {
                resource_metadata: Some("https://h/.well-known/oauth-protected-resource".into()),
                scope: Some("mcp:tools files:read".into()),
                ..Default::default()
            },
            BearerChallenge {
                resource_metadata: Some("https://h/x".into()),
                ..Default::default()
            }
            .with_error(ErrorCode::InvalidToken, "token \"expired\" \\ old"),
            BearerChallenge {
                realm: Some("r".into()),
                scope: Some("a".into()),
                ..Default::default()
            }
            .with_error(ErrorCode::InsufficientScope, "needs a"),
        ];
        for c in cases {
            let header = c.to_string();
            let parsed = find_bearer([header.as_str()]).unwrap();
            assert_eq!(parsed, c, "{header}");
        }
    }

    #[test]
    fn round_trip_property_over_generated_values() {
        // A small deterministic generator over awkward characters.
        let alphabet: Vec<char> = "aZ09 \"\\,=;:/._~+-!#'é".chars().collect();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..2000 {
            let mut v = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 12) as usize;
            for k in 0..len {
                v.push(alphabet[((seed >> (k * 5)) as usize) % alphabet.len()]);
            }
            let c = BearerChallenge {
                error_description: Some(v.clone()),
                scope: Some(v.clone()),
                ..Default::default()
            };
            let parsed = find_bearer([c.to_string().as_str()]).unwrap();
            assert_eq!(parsed, c);
        }
    }

    #[test]
    fn basic_challenge() {
        assert_eq!(
            basic("mcp-oauth"),
            r#"Basic realm="mcp-oauth", charset="UTF-8""#
        );
    }
}

/// Property-based fuzz targets (proptest, stable Rust). A short seeded run is part of
/// `cargo test`; a long run: `MCP_OAUTH_FUZZ_CASES=1000000 nice -n 19 cargo test --release -p
/// mcp-oauth-core --lib challenge::fuzz` (`MCP_OAUTH_FUZZ_SEED` for other inputs).
///
/// Invariants: parsing any string never panics, and a parse error points inside the input;
/// building a `Bearer` challenge from any values and parsing it back gives the same values,
/// with control characters dropped (they cannot travel in a header); and whatever parses as
/// `Bearer`, rebuilt and parsed again, is stable.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};

    fn config() -> Config {
        let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        Config {
            cases: env("MCP_OAUTH_FUZZ_CASES").map_or(512, |n| n.min(u32::MAX as u64) as u32),
            rng_seed: RngSeed::Fixed(env("MCP_OAUTH_FUZZ_SEED").unwrap_or(0x6d63_705f_6f61)),
            failure_persistence: None,
            ..Config::default()
        }
    }

    /// Values with the characters that matter here: quotes, backslashes, commas, `=`, spaces,
    /// controls, non-ASCII.
    fn value() -> impl Strategy<Value = Option<String>> {
        prop::option::of(prop_oneof![
            "[ -~]{0,24}",
            "[a-z:\"\\\\, =\t\u{0}\u{7f}\u{1b}é€😀]{0,16}",
            ".{0,12}",
        ])
    }

    fn header_text() -> impl Strategy<Value = String> {
        prop_oneof![
            ".{0,64}",
            "[A-Za-z=\", \t\\\\a-z0-9_~+/.-]{0,64}",
            prop::collection::vec(
                prop_oneof![
                    Just("Bearer ".to_owned()),
                    Just("Basic ".to_owned()),
                    Just("DPoP ".to_owned()),
                    Just(", ".to_owned()),
                    Just("realm=\"x\"".to_owned()),
                    Just("scope=files:read".to_owned()),
                    Just("error=\"a\\\"b\"".to_owned()),
                    Just("abc==".to_owned()),
                    Just("=".to_owned()),
                    Just("\"".to_owned()),
                    Just("\\".to_owned()),
                ],
                0..8
            )
            .prop_map(|parts| parts.concat()),
        ]
    }

    fn without_controls(v: &Option<String>) -> Option<String> {
        v.as_ref()
            .map(|s| s.chars().filter(|c| !c.is_control()).collect())
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn fuzz_parse_never_panics(h in header_text()) {
            if let Err(ParseError(at)) = parse(&h) {
                prop_assert!(at <= h.len());
            }
            let _ = find_bearer([h.as_str()]);
        }

        #[test]
        fn fuzz_build_parse_round_trip(realm in value(), error in value(), error_description in value(), scope in value(), resource_metadata in value()) {
            let c = BearerChallenge { realm, error, error_description, scope, resource_metadata };
            let header = c.to_string();
            let back = find_bearer([header.as_str()]);
            let expected = BearerChallenge {
                realm: without_controls(&c.realm),
                error: without_controls(&c.error),
                error_description: without_controls(&c.error_description),
                scope: without_controls(&c.scope),
                resource_metadata: without_controls(&c.resource_metadata),
            };
            prop_assert_eq!(back, Some(expected), "{}", header);
        }

        #[test]
        fn fuzz_parsed_bearer_rebuilds_stably(h in header_text()) {
            if let Some(c) = find_bearer([h.as_str()]) {
                let once = c.to_string();
                let again = find_bearer([once.as_str()]);
                prop_assert_eq!(again.as_ref().map(ToString::to_string), Some(once));
            }
        }
    }
}
