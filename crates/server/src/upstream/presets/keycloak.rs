//! `keycloak`: `{base_url}/realms/{realm}` (Keycloak 17 and later; older servers add `/auth`
//! to the base URL, which the block then names).

use super::{Resolved, own_issuer, plain, required};
use crate::config::UpstreamConfig;

pub(super) fn resolve(cfg: &UpstreamConfig) -> Result<Resolved, String> {
    let issuer = match own_issuer(cfg) {
        Some(i) => i,
        None => {
            let base = required(&cfg.base_url, "base_url", "keycloak")?;
            let realm = required(&cfg.realm, "realm", "keycloak")?;
            plain(realm, "realm")?;
            format!("{}/realms/{realm}", base.trim_end_matches('/'))
        }
    };
    Ok(Resolved::exact(cfg, issuer))
}

#[cfg(test)]
mod tests {
    use super::super::*;

    #[test]
    fn issuer_from_base_and_realm() {
        let mut b = block(Preset::Keycloak);
        assert!(resolve(&b).unwrap_err().contains("base_url"));
        b.base_url = Some("https://sso.example.com/".into());
        b.realm = Some("staff".into());
        let Protocol::Oidc { issuer, .. } = resolve(&b).unwrap().protocol else {
            panic!("oidc")
        };
        assert_eq!(issuer, "https://sso.example.com/realms/staff");
        b.realm = Some("../admin".into());
        assert!(resolve(&b).is_err());
    }
}
