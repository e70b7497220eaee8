//! Okta (<https://developer.okta.com/docs/concepts/auth-servers/>,
//! <https://developer.okta.com/docs/guides/validate-access-tokens/>).
//!
//! Only a custom authorization server (`https://{yourOktaDomain}/oauth2/{authorizationServerId}`,
//! `default` for the built-in one) issues access tokens a resource server may validate: its
//! `aud` is the server's configured Audience (`api://default` unless changed; set it to the
//! resource URI), scopes are the `scp` array, the client is `cid`, the user `uid` and `sub`. The
//! org authorization server (issuer `https://{yourOktaDomain}`) mints tokens for Okta's own APIs
//! whose format may change; Okta says they must not be validated locally
//! (<https://support.okta.com/help/s/article/Signature-Validation-Failed-on-Access-Token>), so
//! that issuer is refused. Metadata: `{issuer}/.well-known/openid-configuration` (and
//! `{issuer}/.well-known/oauth-authorization-server`), keys `{issuer}/v1/keys`.

use super::{IssuerRule, Profile};

impl Profile {
    /// Okta custom authorization servers: scopes from `scp` (an array), the client in `cid`, the
    /// audience in `aud`; header `typ` absent, `JWT` or `at+jwt`.
    pub fn okta() -> Self {
        let mut p = Self::base("okta", IssuerRule::Okta);
        p.scope_claims = vec!["scp".into()];
        p.client_id_claims = vec!["cid".into(), "client_id".into()];
        p.typ = vec!["at+jwt".into(), "JWT".into()];
        p.typ_optional = true;
        p
    }
}

/// An Okta issuer must be a custom authorization server: a path `/oauth2/{id}`.
pub(super) fn issuer(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|_| "not an absolute URL".to_owned())?;
    let mut segments = url.path().trim_end_matches('/').split('/').skip(1);
    match (segments.next(), segments.next(), segments.next()) {
        (Some("oauth2"), Some(id), None) if !id.is_empty() && id != "v1" => Ok(()),
        _ => Err(
            "this is Okta's org authorization server, whose access tokens are for Okta's own APIs \
             and must not be validated by others; use a custom authorization server \
             (`https://YOUR_OKTA_DOMAIN/oauth2/default` or `/oauth2/AUTH_SERVER_ID`)"
                .into(),
        ),
    }
}
