//! `auth0`: `https://{domain}/` (with its trailing slash: Auth0's `iss` has one, and issuers
//! compare byte for byte). Without an `audience` Auth0 issues an opaque access token good only
//! for its `/userinfo`; with one, a JWT for that API: the block's `audience` is sent as the
//! authorization request's `audience` parameter.

use super::{Resolved, own_issuer, plain, required};
use crate::config::UpstreamConfig;

pub(super) fn resolve(cfg: &UpstreamConfig) -> Result<Resolved, String> {
    let issuer = match own_issuer(cfg) {
        Some(i) => i,
        None => {
            let domain = required(&cfg.domain, "domain", "auth0")?;
            plain(domain, "domain")?;
            format!("https://{domain}/")
        }
    };
    let mut r = Resolved::exact(cfg, issuer);
    if let Some(aud) = cfg.audience.as_deref().filter(|a| !a.is_empty()) {
        r.authorize_params.push(("audience".into(), aud.to_owned()));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::super::*;

    #[test]
    fn trailing_slash_issuer_and_the_audience_parameter() {
        let mut b = block(Preset::Auth0);
        assert!(resolve(&b).unwrap_err().contains("domain"));
        b.domain = Some("acme.eu.auth0.com".into());
        let r = resolve(&b).unwrap();
        assert!(r.authorize_params.is_empty());
        let Protocol::Oidc {
            issuer, issuers, ..
        } = r.protocol
        else {
            panic!("oidc")
        };
        assert_eq!(issuer, "https://acme.eu.auth0.com/");
        assert!(issuers.accepts("https://acme.eu.auth0.com/", None, None));
        assert!(!issuers.accepts("https://acme.eu.auth0.com", None, None));
        b.audience = Some("https://api.acme.example".into());
        assert_eq!(
            resolve(&b).unwrap().authorize_params,
            [("audience".to_owned(), "https://api.acme.example".to_owned())]
        );
        b.domain = Some("evil.example/path?".into());
        assert!(resolve(&b).is_err());
    }
}
