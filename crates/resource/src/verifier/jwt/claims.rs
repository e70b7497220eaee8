//! The claims of a verified access token, against the injected clock and the provider's
//! profile, and the principal built from them.

use crate::error::VerifyError;
use crate::principal::{Principal, PrincipalData};
use crate::verifier::profile::{Audiences, Profile};
use mcp_oauth_core::clock::UnixTime;
use serde_json::Value;

/// What a token's claims are checked against: built once per verifier.
#[derive(Debug)]
pub(super) struct ClaimRules {
    /// Every accepted `iss` value (exact comparison).
    pub(super) issuers: Vec<String>,
    pub(super) audiences: Audiences,
    pub(super) profile: Profile,
    /// Claims the issuer form implies (Entra ID `tid`), besides the profile's.
    pub(super) required: Vec<(String, Value)>,
    pub(super) leeway: i64,
}

/// A NumericDate claim: absent, or a number (fractions truncated).
fn numeric_date(claims: &Value, name: &str) -> Result<Option<i64>, VerifyError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| VerifyError::invalid(format!("the `{name}` claim is malformed"))),
    }
}

impl ClaimRules {
    /// Checks the claims of a verified JWT and builds the principal: `iss`, the audience, `exp`
    /// (required), `nbf`, `iat`, the required claims, the scope claims.
    pub(super) fn check(&self, claims: &Value, now: UnixTime) -> Result<Principal, VerifyError> {
        let leeway = self.leeway;
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .filter(|iss| self.issuers.iter().any(|i| i == iss))
            .ok_or_else(|| {
                VerifyError::invalid("the access token was not issued by a trusted issuer")
            })?;
        let audience = self.profile.audience_values(claims);
        if audience.is_empty() {
            return Err(VerifyError::invalid("the access token has no audience"));
        }
        if !audience.iter().any(|a| self.audiences.accepts(a)) {
            return Err(VerifyError::invalid(
                "the access token is not meant for this resource (audience mismatch)",
            ));
        }
        let exp = numeric_date(claims, "exp")?
            .ok_or_else(|| VerifyError::invalid("the access token has no expiry"))?;
        if now > exp.saturating_add(leeway) {
            return Err(VerifyError::invalid("the access token expired"));
        }
        if let Some(nbf) = numeric_date(claims, "nbf")?
            && now.saturating_add(leeway) < nbf
        {
            return Err(VerifyError::invalid("the access token is not valid yet"));
        }
        if let Some(iat) = numeric_date(claims, "iat")?
            && iat > now.saturating_add(leeway)
        {
            return Err(VerifyError::invalid(
                "the access token was issued in the future",
            ));
        }
        self.profile
            .check_required(claims, &self.required)
            .map_err(VerifyError::invalid)?;
        let scopes = self.profile.scopes(claims).map_err(VerifyError::invalid)?;
        Ok(Principal::new(PrincipalData {
            issuer: iss.to_owned(),
            subject: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
            client_id: self.profile.client_id(claims),
            scopes,
            audience,
            expires_at: Some(exp),
            claims: claims.clone(),
        }))
    }
}

/// The rules of the default profile for one issuer and resource (the unit tests' shorthand).
#[cfg(test)]
pub(super) fn check_claims(
    claims: &Value,
    issuer: &str,
    audience: &str,
    now: UnixTime,
    leeway: i64,
) -> Result<Principal, VerifyError> {
    ClaimRules {
        issuers: vec![issuer.to_owned()],
        audiences: Audiences::resource(audience),
        profile: Profile::rfc9068(),
        required: Vec::new(),
        leeway,
    }
    .check(claims, now)
}
