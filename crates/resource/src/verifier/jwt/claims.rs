//! The registered claims of a verified access token, against the injected clock, and the
//! principal built from them.

use crate::error::VerifyError;
use crate::principal::{Principal, PrincipalData, client_id_from_claims, scopes_from_claims};
use mcp_oauth_core::clock::UnixTime;
use mcp_oauth_core::resource::audience_matches;
use mcp_oauth_core::token::Audience;
use serde_json::Value;

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

/// Checks the registered claims of a verified JWT and builds the principal.
pub(super) fn check_claims(
    claims: &Value,
    issuer: &str,
    audience: &str,
    now: UnixTime,
    leeway: i64,
) -> Result<Principal, VerifyError> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(VerifyError::invalid(
            "the access token was not issued by a trusted issuer",
        ));
    }
    let aud: Audience = claims
        .get("aud")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| VerifyError::invalid("the access token has no audience"))?;
    if !aud.iter().any(|a| audience_matches(audience, a)) {
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
    Ok(Principal::new(PrincipalData {
        issuer: issuer.to_owned(),
        subject: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
        client_id: client_id_from_claims(claims),
        scopes: scopes_from_claims(claims),
        audience: aud.iter().map(str::to_owned).collect(),
        expires_at: Some(exp),
        claims: claims.clone(),
    }))
}
