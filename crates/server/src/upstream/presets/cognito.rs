//! `cognito`: AWS Cognito user pools. Quirks:
//! - the issuer is `https://cognito-idp.{region}.amazonaws.com/{user_pool_id}` (and the pool id
//!   starts with its region), but the authorization and token endpoints live on the pool's
//!   hosted UI domain: a prefix (`myapp` → `https://myapp.auth.{region}.amazoncognito.com`) or a
//!   custom domain (`auth.example.com`), at `/oauth2/authorize`, `/oauth2/token` and
//!   `/oauth2/revoke` (RFC 7009, for refresh tokens);
//! - users are named by `cognito:username`;
//! - ID and access tokens share keys and issuer; only `token_use: "id"` marks an ID token, so
//!   it is a required claim.

use super::{Protocol, Resolved, own_issuer, plain, required};
use crate::config::UpstreamConfig;

pub(super) fn resolve(cfg: &UpstreamConfig) -> Result<Resolved, String> {
    let region = required(&cfg.region, "region", "cognito")?;
    plain(region, "region")?;
    let pool = required(&cfg.user_pool_id, "user_pool_id", "cognito")?;
    plain(pool, "user_pool_id")?;
    if !pool.starts_with(&format!("{region}_")) {
        return Err(format!(
            "`user_pool_id` {pool} is not a pool of the region {region} (pool ids start with their region)"
        ));
    }
    let domain = required(&cfg.domain, "domain", "cognito")?;
    plain(domain, "domain")?;
    let ui = if domain.contains('.') {
        format!("https://{domain}")
    } else {
        format!("https://{domain}.auth.{region}.amazoncognito.com")
    };
    let issuer = own_issuer(cfg)
        .unwrap_or_else(|| format!("https://cognito-idp.{region}.amazonaws.com/{pool}"));
    let mut r = Resolved::exact(cfg, issuer);
    if own_issuer(cfg).is_none() {
        r.protocol = match r.protocol {
            Protocol::Oidc {
                issuer, issuers, ..
            } => Protocol::Oidc {
                issuer,
                issuers,
                authorization_endpoint: Some(format!("{ui}/oauth2/authorize")),
                token_endpoint: Some(format!("{ui}/oauth2/token")),
                revocation_endpoint: Some(format!("{ui}/oauth2/revoke")),
            },
            other => other,
        };
    }
    r.required_claims
        .entry("token_use".into())
        .or_insert_with(|| vec!["id".into()]);
    r.username_claim = Some("cognito:username");
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::super::*;

    fn cognito(domain: &str) -> Resolved {
        let mut b = block(Preset::Cognito);
        b.region = Some("eu-west-1".into());
        b.user_pool_id = Some("eu-west-1_AbC123".into());
        b.domain = Some(domain.into());
        resolve(&b).unwrap()
    }

    #[test]
    fn issuer_from_the_pool_endpoints_on_the_domain() {
        let r = cognito("myapp");
        let Protocol::Oidc {
            issuer,
            authorization_endpoint,
            token_endpoint,
            ..
        } = &r.protocol
        else {
            panic!("oidc")
        };
        assert_eq!(
            issuer,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
        );
        assert_eq!(
            authorization_endpoint.as_deref(),
            Some("https://myapp.auth.eu-west-1.amazoncognito.com/oauth2/authorize")
        );
        assert_eq!(
            token_endpoint.as_deref(),
            Some("https://myapp.auth.eu-west-1.amazoncognito.com/oauth2/token")
        );
        assert_eq!(r.required_claims["token_use"], ["id"]);
        assert_eq!(r.username_claim, Some("cognito:username"));
        let Protocol::Oidc {
            authorization_endpoint,
            ..
        } = cognito("auth.example.com").protocol
        else {
            panic!("oidc")
        };
        assert_eq!(
            authorization_endpoint.as_deref(),
            Some("https://auth.example.com/oauth2/authorize")
        );
    }

    #[test]
    fn refuses_a_pool_of_another_region_and_a_missing_domain() {
        let mut b = block(Preset::Cognito);
        b.region = Some("us-east-1".into());
        b.user_pool_id = Some("eu-west-1_AbC123".into());
        b.domain = Some("x".into());
        assert!(resolve(&b).unwrap_err().contains("region"));
        b.user_pool_id = Some("us-east-1_AbC123".into());
        b.domain = None;
        assert!(resolve(&b).unwrap_err().contains("domain"));
    }
}
