//! `oidc`: any OpenID provider, by its `issuer`.

use super::{Resolved, own_issuer};
use crate::config::UpstreamConfig;

pub(super) fn resolve(cfg: &UpstreamConfig) -> Result<Resolved, String> {
    let issuer = own_issuer(cfg).ok_or("the oidc preset needs `issuer`")?;
    Ok(Resolved::exact(cfg, issuer))
}

#[cfg(test)]
mod tests {
    use super::super::*;

    #[test]
    fn needs_an_issuer_and_compares_it_exactly() {
        let mut b = block(Preset::Oidc);
        assert!(resolve(&b).unwrap_err().contains("issuer"));
        b.issuer = Some("https://idp.example/".into());
        let r = resolve(&b).unwrap();
        assert_eq!(r.scopes, ["openid", "email", "profile"]);
        let Protocol::Oidc { issuers, .. } = r.protocol else {
            panic!("oidc")
        };
        assert!(issuers.accepts("https://idp.example/", None, None));
        assert!(!issuers.accepts("https://idp.example", None, None));
    }
}
