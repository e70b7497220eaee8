//! `okta`: the org authorization server (`https://{org}.okta.com`) or a custom one
//! (`https://{org}.okta.com/oauth2/default`): the issuer is the block's, exactly; the two are
//! different issuers with different keys, so a token of one never passes as the other's.

use super::{Resolved, own_issuer};
use crate::config::UpstreamConfig;

pub(super) fn resolve(cfg: &UpstreamConfig) -> Result<Resolved, String> {
    let issuer = own_issuer(cfg).ok_or(
        "the okta preset needs `issuer` (https://ORG.okta.com or https://ORG.okta.com/oauth2/default)",
    )?;
    Ok(Resolved::exact(cfg, issuer))
}

#[cfg(test)]
mod tests {
    use super::super::*;

    #[test]
    fn org_and_custom_servers_are_different_issuers() {
        let mut b = block(Preset::Okta);
        assert!(resolve(&b).is_err());
        b.issuer = Some("https://acme.okta.com/oauth2/default".into());
        let Protocol::Oidc { issuers, .. } = resolve(&b).unwrap().protocol else {
            panic!("oidc")
        };
        assert!(issuers.accepts("https://acme.okta.com/oauth2/default", None, None));
        assert!(!issuers.accepts("https://acme.okta.com", None, None));
    }
}
