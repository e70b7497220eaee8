//! `github`: OAuth 2.0 apps (or GitHub Apps' user tokens) and the REST API; GitHub has no
//! OpenID Connect for users. The subject is the numeric user `id` (a `login` can be renamed and
//! then taken by someone else). `github_url` points at GitHub Enterprise Server, whose API is at
//! `{github_url}/api/v3` unless `github_api_url` says otherwise.

use super::{Protocol, Resolved};
use crate::config::UpstreamConfig;

pub(super) fn resolve(cfg: &UpstreamConfig) -> Result<Resolved, String> {
    let web = cfg
        .github_url
        .clone()
        .unwrap_or_else(|| "https://github.com".into());
    let web = web.trim_end_matches('/').to_owned();
    let api = match (&cfg.github_api_url, &cfg.github_url) {
        (Some(api), _) => api.trim_end_matches('/').to_owned(),
        (None, Some(_)) => format!("{web}/api/v3"),
        (None, None) => "https://api.github.com".into(),
    };
    let scopes = cfg.scopes.clone().unwrap_or_else(|| {
        let mut s = vec!["read:user".to_owned(), "user:email".to_owned()];
        if !cfg.allowed_organizations.is_empty() {
            s.push("read:org".into());
        }
        s
    });
    Ok(Resolved {
        protocol: Protocol::Github { web, api },
        scopes,
        authorize_params: Vec::new(),
        required_claims: cfg.required_claims.clone(),
        username_claim: Some("login"),
    })
}

#[cfg(test)]
mod tests {
    use super::super::*;

    #[test]
    fn github_com_and_enterprise_server() {
        let mut b = block(Preset::Github);
        let r = resolve(&b).unwrap();
        assert_eq!(
            r.protocol,
            Protocol::Github {
                web: "https://github.com".into(),
                api: "https://api.github.com".into()
            }
        );
        assert_eq!(r.scopes, ["read:user", "user:email"]);
        b.allowed_organizations = vec!["acme".into()];
        b.github_url = Some("https://git.acme.example/".into());
        let r = resolve(&b).unwrap();
        assert_eq!(r.scopes, ["read:user", "user:email", "read:org"]);
        assert_eq!(
            r.protocol,
            Protocol::Github {
                web: "https://git.acme.example".into(),
                api: "https://git.acme.example/api/v3".into()
            }
        );
    }
}
