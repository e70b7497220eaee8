//! `entra`: Microsoft Entra ID, `https://login.microsoftonline.com/{tenant}/v2.0`.
//!
//! Quirks:
//! - the multi-tenant endpoints (`common`, `organizations`) publish the issuer template
//!   `https://login.microsoftonline.com/{tenantid}/v2.0`, and a domain tenant publishes its tenant
//!   id; so an ID token's `iss` is checked against its own `tid` claim, and a block that names a
//!   tenant id accepts that tenant only (`tid` is also a required claim then);
//! - v1.0 tokens (`ver: "1.0"`) carry `https://sts.windows.net/{tid}/`, v2.0 tokens the
//!   `login.microsoftonline.com` form; each is accepted only with its own version;
//! - `organizations` refuses personal Microsoft accounts (the consumer tenant
//!   `9188040d-6c67-4c5b-b112-36a304b66dad`);
//! - Entra's `email` is not verified (no `email_verified` claim): `link_by_email` and
//!   `allowed_email_domains` then never match, by design.

use super::{IssuerRule, Resolved, own_issuer, plain, required};
use crate::config::UpstreamConfig;

/// The tenant of personal Microsoft accounts.
const CONSUMERS: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
const LOGIN: &str = "https://login.microsoftonline.com/";

/// A tenant id: a GUID, lower case.
fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

pub(super) fn resolve(cfg: &UpstreamConfig) -> Result<Resolved, String> {
    let tenant = match own_issuer(cfg) {
        Some(_) => cfg.tenant.as_deref().unwrap_or("common"),
        None => required(&cfg.tenant, "tenant", "entra")?,
    }
    .to_ascii_lowercase();
    plain(&tenant, "tenant")?;
    let pinned = is_guid(&tenant).then(|| tenant.clone());
    let mut r = match own_issuer(cfg) {
        Some(i) => Resolved::exact(cfg, i),
        None => Resolved::oidc(
            cfg,
            format!("{LOGIN}{tenant}/v2.0"),
            IssuerRule::Entra {
                tenant: pinned.clone(),
                no_consumers: tenant == "organizations",
            },
        ),
    };
    if let Some(t) = pinned {
        r.required_claims.insert("tid".into(), vec![t]);
    }
    Ok(r)
}

/// See the module docs.
pub(super) fn accepts_issuer(
    iss: &str,
    tid: Option<&str>,
    ver: Option<&str>,
    tenant: Option<&str>,
    no_consumers: bool,
) -> bool {
    let Some(tid) = tid.filter(|t| is_guid(t)) else {
        return false;
    };
    if tenant.is_some_and(|t| t != tid) || (no_consumers && tid == CONSUMERS) {
        return false;
    }
    if ver == Some("1.0") {
        iss == format!("https://sts.windows.net/{tid}/")
    } else {
        iss == format!("{LOGIN}{tid}/v2.0")
    }
}

/// The discovery document's `issuer`: the configured one, the multi-tenant template, or a
/// tenant id's.
pub(super) fn accepts_discovered(configured: &str, discovered: &str) -> bool {
    if configured == discovered {
        return true;
    }
    discovered
        .strip_prefix(LOGIN)
        .and_then(|rest| rest.strip_suffix("/v2.0"))
        .is_some_and(|t| t == "{tenantid}" || is_guid(t))
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::CONSUMERS;

    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn rule(tenant: &str) -> (String, IssuerRule, Resolved) {
        let mut b = block(Preset::Entra);
        b.tenant = Some(tenant.into());
        let r = resolve(&b).unwrap();
        let Protocol::Oidc {
            issuer, issuers, ..
        } = r.protocol.clone()
        else {
            panic!("oidc")
        };
        (issuer, issuers, r)
    }

    #[test]
    fn a_pinned_tenant_accepts_its_own_v1_and_v2_issuers_only() {
        let (issuer, rule, r) = rule(TID);
        assert_eq!(
            issuer,
            format!("https://login.microsoftonline.com/{TID}/v2.0")
        );
        assert_eq!(r.required_claims["tid"], [TID]);
        let v2 = format!("https://login.microsoftonline.com/{TID}/v2.0");
        let v1 = format!("https://sts.windows.net/{TID}/");
        assert!(rule.accepts(&v2, Some(TID), Some("2.0")));
        assert!(rule.accepts(&v2, Some(TID), None));
        assert!(rule.accepts(&v1, Some(TID), Some("1.0")));
        assert!(
            !rule.accepts(&v1, Some(TID), Some("2.0")),
            "a v1 issuer on a v2 token"
        );
        assert!(!rule.accepts(&v2, Some(TID), Some("1.0")));
        let other = "00000000-0000-0000-0000-000000000001";
        let v2_other = format!("https://login.microsoftonline.com/{other}/v2.0");
        assert!(
            !rule.accepts(&v2_other, Some(other), None),
            "another tenant"
        );
        assert!(!rule.accepts(&v2, None, None), "no tid");
        assert!(
            !rule.accepts(&v2, Some(other), None),
            "iss and tid disagree"
        );
    }

    #[test]
    fn multi_tenant_endpoints_check_iss_against_tid() {
        let (issuer, rule, r) = rule("organizations");
        assert_eq!(
            issuer,
            "https://login.microsoftonline.com/organizations/v2.0"
        );
        assert!(!r.required_claims.contains_key("tid"));
        let v2 = format!("https://login.microsoftonline.com/{TID}/v2.0");
        assert!(rule.accepts(&v2, Some(TID), None));
        let consumer = format!("https://login.microsoftonline.com/{CONSUMERS}/v2.0");
        assert!(
            !rule.accepts(&consumer, Some(CONSUMERS), None),
            "personal accounts refused"
        );
        let (_, common, _) = self::rule("common");
        assert!(common.accepts(&consumer, Some(CONSUMERS), None));
        assert!(!common.accepts(&v2, Some("not-a-guid"), None));
        assert!(
            common.accepts_discovered(&issuer, "https://login.microsoftonline.com/{tenantid}/v2.0")
        );
        assert!(common.accepts_discovered(&issuer, &v2));
        assert!(!common.accepts_discovered(&issuer, "https://evil.example/{tenantid}/v2.0"));
    }

    #[test]
    fn needs_a_tenant_and_pointing_elsewhere_keeps_the_tid_pin() {
        assert!(
            resolve(&block(Preset::Entra))
                .unwrap_err()
                .contains("tenant")
        );
        let mut b = block(Preset::Entra);
        b.tenant = Some("a/b".into());
        assert!(resolve(&b).is_err());
        b.tenant = Some(TID.to_uppercase());
        b.issuer = Some("http://127.0.0.1:9/".into());
        let r = resolve(&b).unwrap();
        assert_eq!(r.required_claims["tid"], [TID]);
        let Protocol::Oidc { issuers, .. } = r.protocol else {
            panic!("oidc")
        };
        assert!(issuers.accepts("http://127.0.0.1:9/", None, None));
    }
}
