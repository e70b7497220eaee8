//! `google`: `https://accounts.google.com`. Quirks: Google's ID tokens carry `iss` as
//! `https://accounts.google.com` or as `accounts.google.com` (both documented); a Workspace
//! account carries its domain in `hd`, which is only a claim to check, never a filter Google
//! applies: `required_claims = { hd = ["example.com"] }` both sends `hd` as the account chooser's
//! hint (one domain) and refuses any token without it. Google does not know `offline_access`: a
//! block asking for it gets Google's own `access_type=offline` (with `prompt=consent`, without
//! which Google sends a refresh token only the first time).

use super::{IssuerRule, Resolved, own_issuer};
use crate::config::UpstreamConfig;

/// Google's issuer.
const ISSUER: &str = "https://accounts.google.com";

pub(super) fn resolve(cfg: &UpstreamConfig) -> Result<Resolved, String> {
    let (issuer, issuers) = match own_issuer(cfg) {
        Some(i) => (i.clone(), vec![i]),
        None => (
            ISSUER.to_owned(),
            vec![ISSUER.to_owned(), "accounts.google.com".to_owned()],
        ),
    };
    let mut r = Resolved::oidc(cfg, issuer, IssuerRule::Exact(issuers));
    if let Some([one]) = cfg.required_claims.get("hd").map(Vec::as_slice) {
        r.authorize_params.push(("hd".into(), one.clone()));
    }
    if r.scopes.iter().any(|s| s == "offline_access") {
        r.scopes.retain(|s| s != "offline_access");
        r.authorize_params
            .push(("access_type".into(), "offline".into()));
        r.authorize_params.push(("prompt".into(), "consent".into()));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::super::*;

    #[test]
    fn both_issuer_spellings_and_hd() {
        let mut b = block(Preset::Google);
        let r = resolve(&b).unwrap();
        let Protocol::Oidc { issuers, .. } = &r.protocol else {
            panic!("oidc")
        };
        assert!(issuers.accepts("https://accounts.google.com", None, None));
        assert!(issuers.accepts("accounts.google.com", None, None));
        assert!(!issuers.accepts("https://accounts.google.com.evil", None, None));
        assert!(r.authorize_params.is_empty() && r.required_claims.is_empty());
        b.required_claims
            .insert("hd".into(), vec!["example.com".into()]);
        let r = resolve(&b).unwrap();
        assert_eq!(
            r.authorize_params,
            [("hd".to_owned(), "example.com".to_owned())]
        );
        assert_eq!(r.required_claims["hd"], ["example.com"]);
        b.scopes = Some(
            ["openid", "email", "offline_access"]
                .map(String::from)
                .to_vec(),
        );
        let r = resolve(&b).unwrap();
        assert_eq!(r.scopes, ["openid", "email"]);
        assert!(
            r.authorize_params
                .contains(&("access_type".to_owned(), "offline".to_owned()))
        );
    }
}
