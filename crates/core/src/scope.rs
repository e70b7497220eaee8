//! Scope sets (RFC 6749 §3.3): space-delimited, case-sensitive, order-insensitive.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;

/// A set of scope tokens, kept sorted so that equal sets print and compare identically.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScopeSet(BTreeSet<String>);

/// A scope token with characters outside `%x21 / %x23-5B / %x5D-7E`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid scope token `{0}`")]
pub struct InvalidScope(pub String);

/// Whether `s` is a valid RFC 6749 `scope-token`.
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

impl ScopeSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a space-delimited scope string. Runs of spaces are tolerated; other characters
    /// outside the `scope-token` grammar are refused.
    pub fn parse(s: &str) -> Result<Self, InvalidScope> {
        let mut set = BTreeSet::new();
        for tok in s.split(' ').filter(|t| !t.is_empty()) {
            if !is_scope_token(tok) {
                return Err(InvalidScope(tok.to_owned()));
            }
            set.insert(tok.to_owned());
        }
        Ok(Self(set))
    }

    /// Builds a set from tokens (which must already be valid).
    pub fn from_tokens<I, S>(tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self(tokens.into_iter().map(Into::into).collect())
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether `scope` is in the set.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    /// Whether every scope of `other` is in this set.
    pub fn is_superset(&self, other: &ScopeSet) -> bool {
        self.0.is_superset(&other.0)
    }

    /// The scopes in both sets.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.intersection(&other.0).cloned().collect())
    }

    /// The scopes in either set.
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.union(&other.0).cloned().collect())
    }

    /// The scopes of `self` missing from `other`.
    pub fn difference(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.difference(&other.0).cloned().collect())
    }

    /// Adds a scope.
    pub fn insert(&mut self, scope: impl Into<String>) {
        self.0.insert(scope.into());
    }

    /// Iterates in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ScopeSet::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl<S: Into<String>> FromIterator<S> for ScopeSet {
    fn from_iter<T: IntoIterator<Item = S>>(iter: T) -> Self {
        Self::from_tokens(iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_sorts_and_dedups() {
        let s = ScopeSet::parse("b a  b").unwrap();
        assert_eq!(s.to_string(), "a b");
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn refuses_bad_characters() {
        assert!(ScopeSet::parse("a\"b").is_err());
        assert!(ScopeSet::parse("a\\b").is_err());
        assert!(ScopeSet::parse("é").is_err());
        assert!(ScopeSet::parse("mcp:tools files:read").is_ok());
    }

    #[test]
    fn set_operations() {
        let a = ScopeSet::parse("x y z").unwrap();
        let b = ScopeSet::parse("y z w").unwrap();
        assert_eq!(a.intersection(&b).to_string(), "y z");
        assert_eq!(a.union(&b).to_string(), "w x y z");
        assert_eq!(a.difference(&b).to_string(), "x");
        assert!(a.is_superset(&ScopeSet::parse("x").unwrap()));
    }

    #[test]
    fn serde_as_string() {
        let s = ScopeSet::parse("b a").unwrap();
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"a b\"");
        let back: ScopeSet = serde_json::from_str("\"a b\"").unwrap();
        assert_eq!(back, s);
    }
}
