//! Who signed in at the upstream, read through the block's claim mapping, and whether the block
//! lets them in (verified e-mail domains, required claim values, GitHub organisations).

use super::presets::Resolved;
use crate::config::UpstreamConfig;
use serde_json::{Map, Value};

/// An upstream account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The stable subject at this upstream.
    pub subject: String,
    /// The name to base a local username on.
    pub username: String,
    /// The e-mail, if any.
    pub email: Option<String>,
    /// Whether the upstream says it verified that e-mail.
    pub email_verified: bool,
    /// A display name.
    pub display_name: Option<String>,
    /// Every claim (or GitHub user field), for the required-claims check.
    pub claims: Map<String, Value>,
    /// GitHub: the organisations (logins) the user belongs to.
    pub organizations: Vec<String>,
}

/// A claim as text: a string, or a number (GitHub's numeric ids).
fn text(claims: &Map<String, Value>, name: &str) -> Option<String> {
    match claims.get(name)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `email_verified`: `true`, or the string `"true"` (Cognito sends strings).
fn verified(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true))) || matches!(v, Some(Value::String(s)) if s == "true")
}

/// Reads an identity from claims; `None` without a subject.
pub(crate) fn from_claims(
    claims: Map<String, Value>,
    cfg: &UpstreamConfig,
    resolved: &Resolved,
) -> Option<Identity> {
    let map = &cfg.claims;
    let subject = text(&claims, &map.subject)?;
    let email = text(&claims, &map.email).map(|e| e.to_ascii_lowercase());
    let username = text(&claims, &map.username)
        .or_else(|| resolved.username_claim.and_then(|c| text(&claims, c)))
        .or_else(|| email.clone())
        .unwrap_or_else(|| subject.clone());
    Some(Identity {
        subject,
        username,
        email_verified: email.is_some() && verified(claims.get("email_verified")),
        email,
        display_name: text(&claims, &map.display_name),
        claims,
        organizations: Vec::new(),
    })
}

/// Whether the block lets this account in; the refusal says why, for the failure page.
pub(crate) fn admit(
    cfg: &UpstreamConfig,
    resolved: &Resolved,
    id: &Identity,
) -> Result<(), String> {
    if !cfg.allowed_email_domains.is_empty() {
        let domain = id
            .email
            .as_deref()
            .filter(|_| id.email_verified)
            .and_then(|e| e.rsplit_once('@'))
            .map(|(_, d)| d);
        if !domain.is_some_and(|d| cfg.allowed_email_domains.iter().any(|a| a == d)) {
            return Err(
                "this server admits only accounts with a verified e-mail address of an allowed domain"
                    .into(),
            );
        }
    }
    for (claim, allowed) in &resolved.required_claims {
        let value = text(&id.claims, claim);
        if !value.is_some_and(|v| allowed.contains(&v)) {
            return Err(format!(
                "this server admits only accounts whose `{claim}` is one of the allowed values"
            ));
        }
    }
    if !cfg.allowed_organizations.is_empty()
        && !id.organizations.iter().any(|o| {
            cfg.allowed_organizations
                .iter()
                .any(|a| a.eq_ignore_ascii_case(o))
        })
    {
        return Err("this server admits only members of an allowed GitHub organisation".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Preset;
    use crate::upstream::presets::resolve;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn mapping_and_admission() {
        let mut cfg = UpstreamConfig::new("c", Preset::Oidc, "x");
        cfg.issuer = Some("https://idp.example".into());
        let r = resolve(&cfg).unwrap();
        let id = from_claims(
            claims(json!({"sub": "u1", "email": "Ann@Corp.Example", "email_verified": "true"})),
            &cfg,
            &r,
        )
        .unwrap();
        assert_eq!(id.username, "ann@corp.example");
        assert!(id.email_verified);
        assert!(from_claims(claims(json!({"email": "a@b"})), &cfg, &r).is_none());
        cfg.allowed_email_domains = vec!["corp.example".into()];
        assert!(admit(&cfg, &r, &id).is_ok());
        let unverified = from_claims(
            claims(json!({"sub": "u2", "email": "eve@corp.example", "email_verified": false})),
            &cfg,
            &r,
        )
        .unwrap();
        assert!(admit(&cfg, &r, &unverified).is_err());
        cfg.allowed_email_domains.clear();
        cfg.required_claims.insert("tid".into(), vec!["t1".into()]);
        let r = resolve(&cfg).unwrap();
        assert!(admit(&cfg, &r, &id).unwrap_err().contains("tid"));
        cfg.required_claims.clear();
        cfg.allowed_organizations = vec!["Acme".into()];
        let r = resolve(&cfg).unwrap();
        let mut member = id.clone();
        member.organizations = vec!["acme".into()];
        assert!(admit(&cfg, &r, &id).is_err());
        assert!(admit(&cfg, &r, &member).is_ok());
    }
}
