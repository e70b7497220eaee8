//! Amazon Cognito user pools
//! (<https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html>,
//! <https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html>).
//!
//! Access tokens carry no `aud`: the app client is `client_id`, and `token_use` is `access` (ID
//! tokens say `id`, and carry `aud`). The header has `kid` and `alg` (`RS256`), no `typ`. Scopes are
//! the `scope` string. The issuer is `https://cognito-idp.{region}.amazonaws.com/{userPoolId}`
//! (the pool id starts with the region and `_`), the discovery document
//! `{issuer}/.well-known/openid-configuration`, the keys `{issuer}/.well-known/jwks.json`.
//! AWS's own check is the one here: `token_use` is `access`, `client_id` one of the app clients.

use super::{IssuerRule, Profile};
use serde_json::Value;

impl Profile {
    /// Cognito user pools: the audience is `client_id` (the app client ids are the aliases, at
    /// least one required), `token_use` must be `access`, scopes from `scope`, no `typ` header.
    pub fn cognito() -> Self {
        let mut p = Self::base("cognito", IssuerRule::Cognito);
        p.audience_claims = vec!["client_id".into()];
        p.client_id_claims = vec!["client_id".into()];
        p.typ = Vec::new();
        p.typ_optional = true;
        p.required_claims = vec![("token_use".into(), Value::from("access"))];
        p.resource_in_audience = false;
        p.audience_reason = Some(
            "Cognito access tokens carry no `aud`: name the app client ids they are issued to \
             (`--audience CLIENT_ID`, repeatable)"
                .into(),
        );
        p
    }
}

/// A Cognito issuer: `https://cognito-idp.{region}.amazonaws.com/{region}_{id}` (a stand-in on
/// another host is allowed; the path must be the pool id of the host's region when it names one).
pub(super) fn issuer(issuer: &str) -> Result<(), String> {
    let url = url::Url::parse(issuer).map_err(|_| "not an absolute URL".to_owned())?;
    let pool = url.path().trim_start_matches('/');
    let Some((region, id)) = pool.split_once('_') else {
        return Err(
            "a Cognito issuer ends with the user pool id (`REGION_ID`): \
                    `https://cognito-idp.REGION.amazonaws.com/REGION_ID`"
                .into(),
        );
    };
    if id.is_empty() || id.contains('/') || region.is_empty() {
        return Err("the user pool id must be `REGION_ID`, nothing after it".into());
    }
    let host = url.host_str().unwrap_or_default();
    if let Some(host_region) = host
        .strip_prefix("cognito-idp.")
        .and_then(|h| h.strip_suffix(".amazonaws.com"))
        && host_region != region
    {
        return Err(format!(
            "the user pool `{pool}` is not in the region of `{host}`"
        ));
    }
    Ok(())
}
