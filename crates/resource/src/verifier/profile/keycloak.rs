//! Keycloak (<https://www.keycloak.org/docs/latest/server_admin/#audience-support>,
//! <https://www.keycloak.org/docs/latest/securing_apps/#_oidc>).
//!
//! The issuer is the realm: `https://{host}/realms/{realm}` (`/auth/realms/{realm}` before
//! Keycloak 17), discovery `{issuer}/.well-known/openid-configuration`, keys
//! `{issuer}/protocol/openid-connect/certs`. Access tokens have header `typ` `JWT` and the claim
//! `typ` `Bearer` (ID tokens say `ID`), scopes in `scope`, the client in `azp`. The audience is
//! what the realm's mappers put in `aud`: by default only `account` (the "Audience Resolve"
//! mapper); a resource server's own value must be added with an Audience mapper (a client id or
//! a custom string, e.g. the resource URI), so the guard needs it named.

use super::{IssuerRule, Profile};
use serde_json::Value;

impl Profile {
    /// Keycloak realms: header `typ` `JWT` (or `at+jwt`), claim `typ` `Bearer`, scopes from
    /// `scope`, the client in `azp`; the audience must be named (the value of the Audience
    /// mapper), since the default `aud` (`account`) names no resource server.
    pub fn keycloak() -> Self {
        let mut p = Self::base("keycloak", IssuerRule::Keycloak);
        p.typ = vec!["JWT".into(), "at+jwt".into()];
        p.required_claims = vec![("typ".into(), Value::from("Bearer"))];
        p.client_id_claims = vec!["azp".into(), "client_id".into()];
        p.audience_reason = Some(
            "Keycloak puts only `account` in `aud` unless an Audience mapper adds this server: \
             add one (a client id, or the resource URI as included custom audience) and name \
             its value with `--audience`"
                .into(),
        );
        p
    }
}

/// A Keycloak issuer names a realm: `.../realms/{realm}`.
pub(super) fn issuer(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|_| "not an absolute URL".to_owned())?;
    let segments: Vec<&str> = url.path().trim_end_matches('/').split('/').collect();
    match segments.as_slice() {
        [.., "realms", realm] if !realm.is_empty() => Ok(()),
        _ => Err("a Keycloak issuer is a realm: `https://HOST/realms/REALM`".into()),
    }
}
