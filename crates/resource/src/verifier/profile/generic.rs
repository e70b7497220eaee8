//! The `generic` profile: any other provider, described by configuration (`scope_claims`,
//! `audience_claims`, `typ`, `required_claims`). It starts as RFC 9068 with the issuer compared
//! exactly; the audience is still always checked.

use super::{IssuerRule, Profile};

impl Profile {
    /// A provider described by its knobs: starts as [`Profile::rfc9068`] (named `generic`), to be
    /// changed with [`Profile::scope_claims`], [`Profile::audience_claims`], [`Profile::typ`] and
    /// [`Profile::required_claim`].
    pub fn generic() -> Self {
        let mut p = Self::rfc9068();
        p.name = "generic".into();
        p.issuer_rule = IssuerRule::Exact;
        p
    }
}
