//! Microsoft Entra ID (<https://learn.microsoft.com/entra/identity-platform/access-tokens>,
//! <https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference>).
//!
//! Access tokens for an app's own API are JWTs with header `typ` `JWT`. Their version follows the
//! API's manifest (`accessTokenAcceptedVersion`: `null`/`1` v1.0, `2` v2.0), not the endpoint the
//! client used: v1.0 tokens have `iss` `https://sts.windows.net/{tid}/` and `aud` the Application
//! ID URI (`api://...`), v2.0 tokens `iss` `https://login.microsoftonline.com/{tid}/v2.0` and `aud`
//! the API's client id. Delegated permissions are the `scp` string (space-delimited), application
//! permissions the `roles` array; an access token carries at least one of them (an ID token
//! neither). The tenant is `tid`; the client `azp` (v2.0) or `appid` (v1.0). Both versions are
//! signed by the keys at `https://login.microsoftonline.com/{tid}/discovery/v2.0/keys`, the
//! `jwks_uri` of the tenant's v2.0 metadata
//! (`https://login.microsoftonline.com/{tid}/v2.0/.well-known/openid-configuration`).
//!
//! A multi-tenant app's tokens come from every tenant that consented; Microsoft's guidance is to
//! accept only the tenants you serve. So an issuer here names one tenant, and a multi-tenant
//! configuration names the allow-list ([`tenant_issuers`]): one issuer (and one verifier, with
//! that tenant's own metadata) per tenant, `iss` in either version's form and `tid` equal to it.

use super::{IssuerForms, IssuerRule, Profile};
use serde_json::Value;

/// The v1.0 issuer host of the global Azure cloud.
const V1_ISSUER_HOST: &str = "https://sts.windows.net";
/// The v2.0 authority of the global Azure cloud.
pub const AUTHORITY: &str = "https://login.microsoftonline.com";

impl Profile {
    /// Entra ID APIs: header `typ` `JWT`; scopes from `scp` and `roles`, one of which must be
    /// present; the client in `azp` or `appid`; `aud` the Application ID URI or client id (an
    /// alias, unless the Application ID URI is the resource URI); `iss` the v1.0 or v2.0 form of
    /// the issuer's tenant and `tid` that tenant.
    pub fn entra() -> Self {
        let mut p = Self::base("entra", IssuerRule::Entra);
        p.scope_claims = vec!["scp".into(), "roles".into()];
        p.client_id_claims = vec!["azp".into(), "appid".into()];
        p.typ = vec!["JWT".into()];
        p.needs_scope_claim = true;
        p
    }
}

/// Whether `t` is a tenant id as `tid` carries it (a GUID).
fn is_tenant_id(t: &str) -> bool {
    let parts: Vec<&str> = t.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The authority and tenant of an Entra issuer in either form.
fn split(issuer: &str) -> Result<(String, String), String> {
    let url = url::Url::parse(issuer).map_err(|_| "not an absolute URL".to_owned())?;
    let origin = url.origin().ascii_serialization();
    let segments: Vec<&str> = url.path().split('/').skip(1).collect();
    match segments.as_slice() {
        [tenant, "v2.0"] => Ok((origin, (*tenant).to_owned())),
        [tenant, ""] if origin == V1_ISSUER_HOST => {
            Ok((AUTHORITY.to_owned(), (*tenant).to_owned()))
        }
        _ => Err(format!(
            "an Entra ID issuer is `{AUTHORITY}/TENANT_ID/v2.0` (or the v1.0 form \
             `{V1_ISSUER_HOST}/TENANT_ID/`)"
        )),
    }
}

/// The forms of one tenant's issuer: discovered as v2.0, `iss` in the v2.0 or v1.0 form, `tid`
/// the tenant.
pub(super) fn issuer_forms(issuer: &str) -> Result<IssuerForms, String> {
    let (authority, tenant) = split(issuer)?;
    if !is_tenant_id(&tenant) {
        return Err(format!(
            "`{tenant}` is not a tenant id; a multi-tenant app names the tenants it trusts \
             (`--tenant TENANT_ID`, repeatable)"
        ));
    }
    let v2 = format!("{authority}/{tenant}/v2.0");
    Ok(IssuerForms {
        accepted: vec![v2.clone(), format!("{V1_ISSUER_HOST}/{tenant}/")],
        discovery: v2,
        required_claims: vec![("tid".into(), Value::from(tenant))],
    })
}

/// One issuer per allowed tenant, on the authority of `issuer` (a tenant's issuer, or the
/// multi-tenant `.../common/v2.0` or `.../organizations/v2.0`). Refused: no tenant, a tenant that
/// is not a tenant id.
pub fn tenant_issuers(issuer: &str, tenants: &[String]) -> Result<Vec<String>, String> {
    let (authority, _) = split(issuer)?;
    if tenants.is_empty() {
        return Err("name the tenants whose tokens are accepted (`--tenant TENANT_ID`)".into());
    }
    tenants
        .iter()
        .map(|t| {
            if is_tenant_id(t) {
                Ok(format!("{authority}/{t}/v2.0"))
            } else {
                Err(format!("`{t}` is not a tenant id (a GUID, as in `tid`)"))
            }
        })
        .collect()
}
