//! Auth0 (<https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles>).
//!
//! An API's access tokens are JWTs in one of two profiles ("token dialects"): the Auth0 profile
//! (`access_token`, `access_token_authz`; header `typ` `JWT`; the client in `azp`) and the RFC 9068
//! profile (`rfc9068_profile`, `rfc9068_profile_authz`; header `typ` `at+jwt`; the client in
//! `client_id`). Both put the API identifier in `aud` (an array that also holds
//! `https://{tenant}/userinfo` when `openid` was asked for), the granted scopes in `scope`, and,
//! with RBAC and "Add Permissions in the Access Token" on (the `_authz` dialects), the user's
//! permissions in the `permissions` array
//! (<https://auth0.com/docs/get-started/apis/enable-role-based-access-control-for-apis>).
//! The issuer is the tenant's domain with a trailing slash: `https://{tenant}.auth0.com/` (or a
//! custom domain), and the discovery document is `{issuer}.well-known/openid-configuration`.

use super::{IssuerRule, Profile};

impl Profile {
    /// Auth0 APIs, in either access token profile: `typ` `at+jwt` or `JWT`; scopes from `scope`
    /// and RBAC `permissions`; the client in `client_id` or `azp`; the audience is the API
    /// identifier (set it to the resource URI, or name it with an alias); the issuer is
    /// `https://{tenant}/`, trailing slash included.
    pub fn auth0() -> Self {
        let mut p = Self::base("auth0", IssuerRule::Auth0);
        p.scope_claims = vec!["scope".into(), "permissions".into()];
        p.typ = vec!["at+jwt".into(), "JWT".into()];
        p
    }
}

/// The Auth0 issuer for a configured one: Auth0 writes `iss` with a trailing slash, so a domain
/// given without it gets it (and its path must be empty otherwise).
pub(super) fn issuer(issuer: &str) -> Result<String, String> {
    let url = url::Url::parse(issuer).map_err(|_| "not an absolute URL".to_owned())?;
    if url.path() != "/" || url.query().is_some() {
        return Err(
            "an Auth0 issuer is the tenant's domain and nothing else (`https://TENANT.auth0.com/`)"
                .into(),
        );
    }
    Ok(if issuer.ends_with('/') {
        issuer.to_owned()
    } else {
        format!("{issuer}/")
    })
}
