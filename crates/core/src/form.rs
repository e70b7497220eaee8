//! Strict parsing of `application/x-www-form-urlencoded` OAuth requests.
//!
//! RFC 6749 §3.1 and §3.2: "Request and response parameters MUST NOT be included more than once",
//! and parameters sent without a value are treated as omitted. Generic form extractors silently keep
//! the first or last copy of a repeated parameter, which lets an attacker smuggle a second
//! `redirect_uri` or `resource` past a check; this parser refuses such requests instead.

use std::collections::BTreeMap;
use std::fmt;

/// Parameters of one OAuth request, each present at most once and never empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthParams(BTreeMap<String, String>);

/// Why a request's parameters were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormError {
    /// A parameter appeared more than once.
    Duplicate(String),
    /// A parameter that may appear several times by its own spec (`resource`) is still refused here
    /// when the caller asked for a single value.
    TooMany(String),
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Duplicate(p) => write!(f, "parameter `{p}` is included more than once"),
            Self::TooMany(p) => write!(f, "only one `{p}` is supported per request"),
        }
    }
}

impl std::error::Error for FormError {}

impl OAuthParams {
    /// Parses a form body or query string. Empty values count as omitted (RFC 6749 §3.1), but
    /// a name that appears twice is refused whatever its values, in either order (`a=&a=1` as
    /// well as `a=1&a=`): an empty copy is still a copy.
    pub fn parse(input: &[u8]) -> Result<Self, FormError> {
        let mut map = BTreeMap::new();
        let mut empty = std::collections::BTreeSet::new();
        for (k, v) in url::form_urlencoded::parse(input) {
            if map.contains_key(k.as_ref()) || empty.contains(k.as_ref()) {
                return Err(FormError::Duplicate(k.into_owned()));
            }
            if v.is_empty() {
                empty.insert(k.into_owned());
            } else {
                map.insert(k.into_owned(), v.into_owned());
            }
        }
        Ok(Self(map))
    }

    /// The value of `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Removes and returns the value of `name`.
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }

    /// Whether `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// Iterates over all parameters.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Builds parameters from pairs (for tests and clients).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Self(
            pairs
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_decodes() {
        let p = OAuthParams::parse(
            b"grant_type=authorization_code&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&scope=a+b",
        )
        .unwrap();
        assert_eq!(p.get("grant_type"), Some("authorization_code"));
        assert_eq!(p.get("redirect_uri"), Some("http://127.0.0.1/cb"));
        assert_eq!(p.get("scope"), Some("a b"));
    }

    #[test]
    fn refuses_duplicates() {
        assert_eq!(
            OAuthParams::parse(b"code=a&code=b"),
            Err(FormError::Duplicate("code".into()))
        );
        assert_eq!(
            OAuthParams::parse(b"code=a&code="),
            Err(FormError::Duplicate("code".into()))
        );
        // An empty copy first is still a copy (found by the property test in tests/fuzz_*.rs).
        assert_eq!(
            OAuthParams::parse(b"code=&code=b"),
            Err(FormError::Duplicate("code".into()))
        );
        assert_eq!(
            OAuthParams::parse(b"state=&state="),
            Err(FormError::Duplicate("state".into()))
        );
    }

    #[test]
    fn empty_values_are_omitted() {
        let p = OAuthParams::parse(b"state=&scope=x").unwrap();
        assert!(!p.contains("state"));
        assert_eq!(p.get("scope"), Some("x"));
    }
}
