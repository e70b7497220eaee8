//! `[[upstream]]`: an identity provider people sign in with (federated login). One block per
//! provider; the callback of block `id` is `{issuer}/upstream/{id}/callback`, so every upstream
//! has its own redirect URI (a response can only come back to the block that asked: mix-up
//! defence, RFC 9700 §4.4).
//!
//! Secrets are never values of this file: `client_secret_env` names a variable and
//! `client_secret_file` a file, which the program reads ([`UpstreamConfig::client_secret`] is
//! set by it, never by a key). The library reads neither.

use mcp_oauth_core::secret::Secret;
use mcp_oauth_core::uri::{UriParts, is_loopback_host};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Which kind of provider a block names; each preset knows its issuer's shape and quirks
/// (`crate::upstream::presets`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Any OpenID provider, by `issuer` (OIDC Discovery).
    Oidc,
    /// GitHub: OAuth 2.0 and its REST API, no OpenID Connect.
    Github,
    /// Google (`https://accounts.google.com`); `hd` restricts to Workspace domains.
    Google,
    /// Microsoft Entra ID, by `tenant` (a tenant id, a domain, `organizations` or `common`).
    Entra,
    /// Okta, by `issuer` (the org or a custom authorization server).
    Okta,
    /// Auth0, by `domain`; `audience` asks for an access token for that API.
    Auth0,
    /// Keycloak, by `base_url` and `realm`.
    Keycloak,
    /// AWS Cognito user pools, by `region` and `user_pool_id` (and the hosted UI `domain`).
    Cognito,
}

impl Preset {
    /// The name people know the provider by, for "Continue with …".
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Oidc => "single sign-on",
            Self::Github => "GitHub",
            Self::Google => "Google",
            Self::Entra => "Microsoft",
            Self::Okta => "Okta",
            Self::Auth0 => "Auth0",
            Self::Keycloak => "Keycloak",
            Self::Cognito => "AWS Cognito",
        }
    }
}

/// How our server authenticates at the upstream's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamAuth {
    /// HTTP Basic (RFC 6749 §2.3.1), the default every provider here accepts.
    #[default]
    ClientSecretBasic,
    /// The secret in the form body.
    ClientSecretPost,
}

/// Which claims (or GitHub user fields) hold what. Defaults: the OIDC standard claims.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClaimMap {
    /// The stable subject; default `sub`. Never an e-mail: e-mails change hands.
    pub subject: String,
    /// The local username's base; default `preferred_username` (then `email`, then the subject).
    pub username: String,
    /// Default `email`.
    pub email: String,
    /// Default `name`.
    pub display_name: String,
}

impl Default for ClaimMap {
    fn default() -> Self {
        Self {
            subject: "sub".into(),
            username: "preferred_username".into(),
            email: "email".into(),
            display_name: "name".into(),
        }
    }
}

/// One `[[upstream]]` block.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// In URLs: `{issuer}/upstream/{id}/start` and `/callback`. Letters, digits, `-`, `_`.
    pub id: String,
    /// The kind of provider.
    pub preset: Preset,
    /// The button text is "Continue with {name}"; default the preset's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The OpenID issuer (`oidc`, `okta`; any preset may set it to point elsewhere, tests do).
    #[serde(default)]
    pub issuer: Option<String>,
    /// Entra: the tenant id or domain, `organizations` or `common`.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Auth0: the tenant domain (`example.eu.auth0.com`); Cognito: the hosted UI domain.
    #[serde(default)]
    pub domain: Option<String>,
    /// Keycloak: the server's base URL (`https://sso.example.com`).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Keycloak: the realm.
    #[serde(default)]
    pub realm: Option<String>,
    /// Cognito: the AWS region (`eu-west-1`).
    #[serde(default)]
    pub region: Option<String>,
    /// Cognito: the user pool id (`eu-west-1_AbCdEf123`).
    #[serde(default)]
    pub user_pool_id: Option<String>,
    /// Auth0: the API identifier sent as `audience`.
    #[serde(default)]
    pub audience: Option<String>,
    /// GitHub (Enterprise Server): the web base, default `https://github.com`.
    #[serde(default)]
    pub github_url: Option<String>,
    /// GitHub (Enterprise Server): the REST API base, default `https://api.github.com`.
    #[serde(default)]
    pub github_api_url: Option<String>,
    /// Our client id at the upstream.
    pub client_id: String,
    /// The variable holding our client secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// The file holding our client secret (its first line).
    #[serde(default)]
    pub client_secret_file: Option<String>,
    /// The secret itself, set by the program from the variable or the file; never a key.
    #[serde(skip)]
    pub client_secret: Option<Secret>,
    /// How we authenticate at the token endpoint.
    #[serde(default)]
    pub token_auth: UpstreamAuth,
    /// Scopes asked of the upstream; default the preset's (`openid email profile`).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Claim mapping.
    #[serde(default)]
    pub claims: ClaimMap,
    /// Sign-in only with a verified e-mail of these domains (empty: any account).
    #[serde(default)]
    pub allowed_email_domains: Vec<String>,
    /// Sign-in only when each claim has one of the listed values (Entra `tid`, Google `hd`).
    #[serde(default)]
    pub required_claims: BTreeMap<String, Vec<String>>,
    /// GitHub: sign-in only for members of one of these organisations (logins).
    #[serde(default)]
    pub allowed_organizations: Vec<String>,
    /// Link a new upstream account to an existing user with the same e-mail, only when the
    /// upstream says `email_verified`. Off by default: an upstream that does not verify e-mails
    /// could otherwise take over accounts.
    #[serde(default)]
    pub link_by_email: bool,
    /// Accept an `http://` issuer on a loopback host (tests and development only).
    #[serde(default)]
    pub insecure_http: bool,
}

/// Ids are path segments: short, and without anything that needs escaping.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Checks an upstream URL setting: `https`, or `http` on loopback with `insecure_http`; no
/// query, fragment or user information. Returned as given: an issuer is compared byte for byte
/// (OpenID Connect Discovery §4.3), and some keep a trailing slash (Auth0).
pub fn check_url(url: &str, insecure_http: bool) -> Result<String, String> {
    let parts = UriParts::split(url).ok_or("must be an absolute https URL")?;
    if url::Url::parse(url).is_err() {
        return Err("must be an absolute https URL".into());
    }
    if parts.query.is_some() || parts.fragment.is_some() || parts.has_userinfo() {
        return Err("must not contain a query, a fragment or user information".into());
    }
    match parts.scheme {
        "https" => {}
        "http" if insecure_http && is_loopback_host(parts.host()) => {}
        "http" if insecure_http => {
            return Err(
                "http:// is allowed only on a loopback host, even with insecure_http".into(),
            );
        }
        "http" => {
            return Err(
                "must use https (http:// only on a loopback host with insecure_http = true)".into(),
            );
        }
        _ => return Err("must use https".into()),
    }
    Ok(url.to_owned())
}

impl UpstreamConfig {
    /// A block of `preset` named `id` for `client_id`, every other field at its default.
    pub fn new(id: impl Into<String>, preset: Preset, client_id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            preset,
            name: None,
            issuer: None,
            tenant: None,
            domain: None,
            base_url: None,
            realm: None,
            region: None,
            user_pool_id: None,
            audience: None,
            github_url: None,
            github_api_url: None,
            client_id: client_id.into(),
            client_secret_env: None,
            client_secret_file: None,
            client_secret: None,
            token_auth: UpstreamAuth::default(),
            scopes: None,
            claims: ClaimMap::default(),
            allowed_email_domains: Vec::new(),
            required_claims: BTreeMap::new(),
            allowed_organizations: Vec::new(),
            link_by_email: false,
            insecure_http: false,
        }
    }

    /// The button text's provider name.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .unwrap_or_else(|| self.preset.display_name())
    }

    /// The rules that need no preset knowledge: the id, the secret's source, the URLs' schemes,
    /// the domain lists. A preset's own fields are checked when the server starts.
    pub(crate) fn validate(&mut self) -> Result<(), String> {
        if !valid_id(&self.id) {
            return Err("`id` must be 1 to 32 letters, digits, `-` or `_`".into());
        }
        if self.client_id.is_empty() {
            return Err("`client_id` is required".into());
        }
        if self.client_secret_env.is_some() && self.client_secret_file.is_some() {
            return Err("give `client_secret_env` or `client_secret_file`, not both".into());
        }
        for (key, value) in [
            ("issuer", &mut self.issuer),
            ("base_url", &mut self.base_url),
            ("github_url", &mut self.github_url),
            ("github_api_url", &mut self.github_api_url),
        ] {
            if let Some(v) = value {
                *v = check_url(v, self.insecure_http).map_err(|m| format!("`{key}` {m}"))?;
            }
        }
        for d in &mut self.allowed_email_domains {
            *d = d.trim().trim_start_matches('@').to_ascii_lowercase();
            if d.is_empty() || d.contains(['@', ' ', '/']) {
                return Err("`allowed_email_domains` entries are domain names".into());
            }
        }
        Ok(())
    }
}

/// Checks every block and that ids are unique.
pub(crate) fn validate_all(blocks: &mut [UpstreamConfig]) -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for b in blocks.iter_mut() {
        b.validate()
            .map_err(|m| format!("[[upstream]] `{}`: {m}", b.id))?;
        if !seen.insert(b.id.clone()) {
            return Err(format!("[[upstream]] `{}`: the id is used twice", b.id));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_parse_and_validate() {
        let text = r#"
            id = "corp"
            preset = "oidc"
            issuer = "https://idp.example.com/"
            client_id = "abc"
            client_secret_env = "CORP_SECRET"
            scopes = ["openid", "email"]
            allowed_email_domains = ["@Corp.Example"]
            claims = { username = "upn" }
        "#;
        let mut b: UpstreamConfig = toml::from_str(text).unwrap();
        b.validate().unwrap();
        assert_eq!(b.issuer.as_deref(), Some("https://idp.example.com/"));
        assert_eq!(b.allowed_email_domains, vec!["corp.example"]);
        assert_eq!(b.claims.username, "upn");
        assert_eq!(b.claims.subject, "sub");
        assert_eq!(b.display_name(), "single sign-on");
        assert!(
            toml::from_str::<UpstreamConfig>(
                "id='x'\npreset='oidc'\nclient_id='a'\nclient_secret='inline'"
            )
            .is_err(),
            "a secret is never a key"
        );
    }

    #[test]
    fn variables_override_a_blocks_keys() {
        use crate::config::{LayerError, Layers, ServerConfig};
        let file = "[[upstream]]\nid = \"corp-sso\"\npreset = \"oidc\"\nissuer = \"https://idp.example\"\nclient_id = \"from-file\"\n\n[[upstream]]\nid = \"gh\"\npreset = \"github\"\nclient_id = \"gh-file\"\n";
        let layers = |vars: &[(&str, &str)]| {
            Layers::from_toml(file)
                .unwrap()
                .with_env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        };
        let c = ServerConfig::from_layers(&layers(&[
            ("MCP_OAUTH_UPSTREAM_CORP_SSO_CLIENT_ID", "from-env"),
            ("MCP_OAUTH_UPSTREAM_CORP_SSO_INSECURE_HTTP", "true"),
            ("MCP_OAUTH_UPSTREAM_CORP_SSO_SCOPES", "openid, email"),
            ("MCP_OAUTH_UPSTREAM_CORP_SSO_PRESET", "okta"),
        ]))
        .unwrap();
        let corp = &c.upstream[0];
        assert_eq!(corp.client_id, "from-env");
        assert!(corp.insecure_http);
        assert_eq!(corp.preset, Preset::Okta);
        assert_eq!(
            corp.scopes.as_deref(),
            Some(&["openid".to_owned(), "email".to_owned()][..])
        );
        assert_eq!(
            c.upstream[1].client_id, "gh-file",
            "each block its own variables"
        );
        let e =
            ServerConfig::from_layers(&layers(&[("MCP_OAUTH_UPSTREAM_GH_LINK_BY_EMAIL", "maybe")]))
                .unwrap_err();
        assert!(
            matches!(&e, LayerError::Env { variable, .. } if variable == "MCP_OAUTH_UPSTREAM_GH_LINK_BY_EMAIL"),
            "{e}"
        );
        assert!(
            ServerConfig::from_layers(
                &Layers::from_toml(
                    "[[upstream]]\nid = \"x\"\npreset = \"oidc\"\nclient_id = \"a\"\nnope = 1"
                )
                .unwrap()
            )
            .is_err(),
            "unknown keys in a block are refused"
        );
    }

    #[test]
    fn http_only_on_loopback_with_the_switch() {
        assert!(check_url("http://127.0.0.1:9000", false).is_err());
        assert!(check_url("http://127.0.0.1:9000", true).is_ok());
        assert!(check_url("http://idp.example", true).is_err());
        assert!(check_url("https://idp.example?x=1", false).is_err());
        assert!(check_url("https://u:p@idp.example", false).is_err());
        let mut b = UpstreamConfig::new("a b", Preset::Oidc, "c");
        assert!(b.validate().is_err());
        let mut twice = vec![
            UpstreamConfig::new("a", Preset::Oidc, "c"),
            UpstreamConfig::new("a", Preset::Github, "c"),
        ];
        assert!(validate_all(&mut twice).unwrap_err().contains("twice"));
    }
}
