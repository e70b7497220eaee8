//! Federated login: the identity providers of the `[[upstream]]` blocks, as a service of the
//! state (it never takes the state back). Our server is each provider's OAuth client: the
//! authorization code flow with our own PKCE, `state` and `nonce` (the pages that drive it are
//! `handlers/upstream/`).
//!
//! - `presets/`: what each kind of provider needs (issuer shape, quirks), pure;
//! - `discovery`: OpenID metadata and JWK Sets, cached;
//! - `id_token`: the ID token check;
//! - `token`: the code exchange and refresh at the provider's token endpoint;
//! - `identity`: the claim mapping and who is admitted;
//! - `github`: GitHub's REST API in place of an ID token;
//! - `link`: the local user of an upstream account (found, linked or created);
//! - `kept`: the upstream's tokens sealed at rest.
//!
//! Every URL goes through one [`SafeFetcher`] per block: `https` only, and plain `http` on a
//! loopback host only with the block's `insecure_http`.

mod discovery;
mod github;
pub(crate) mod id_token;
pub(crate) mod identity;
mod kept;
pub(crate) mod link;
pub(crate) mod presets;
mod refresh;
pub(crate) mod revocation;
mod token;

pub(crate) use identity::Identity;
pub(crate) use kept::{KeptError, seal};
pub(crate) use refresh::current;
pub(crate) use token::TokenSet;

use crate::config::UpstreamConfig;
use crate::fetch::{FetchError, SafeFetcher};
use crate::keys::kek::Kek;
use mcp_oauth_core::clock::UnixTime;
use presets::{Protocol, Resolved};
use std::sync::Arc;
use std::time::Duration;

/// Why a sign-in at an upstream failed. The texts go on the failure page: none holds a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// No answer (or a forbidden address, a timeout).
    #[error("the identity provider could not be reached ({0})")]
    Unreachable(FetchError),
    /// An answer that is not what the protocol says.
    #[error("the identity provider's answer is invalid: {0}")]
    Garbage(&'static str),
    /// An OAuth error of the provider.
    #[error("the identity provider refused: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        /// The `error` code.
        error: String,
        /// Its `error_description`.
        description: Option<String>,
    },
    /// The ID token failed a check.
    #[error("the sign-in could not be verified: {0}")]
    IdToken(#[from] id_token::IdTokenError),
}

/// The endpoints of one sign-in.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    pub authorization: String,
    pub token: String,
    pub userinfo: Option<String>,
    pub revocation: Option<String>,
    /// The issuer an RFC 9207 `iss` must equal (OpenID providers), and whether the provider
    /// says it always sends one.
    pub issuer: Option<String>,
    pub iss_required: bool,
}

/// One configured upstream.
#[derive(Debug)]
pub(crate) struct Upstream {
    pub config: UpstreamConfig,
    pub resolved: Resolved,
    pub fetcher: SafeFetcher,
    cache: discovery::Cache,
    jwks_refetch_interval: i64,
}

/// Every configured upstream, and the key-encryption key their secrets at rest are sealed
/// with.
#[derive(Debug)]
pub(crate) struct Upstreams {
    list: Vec<Arc<Upstream>>,
    kek: Arc<Kek>,
    /// Grants whose upstream tokens are being refreshed, one refresh at a time each.
    refreshing: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A block that cannot be used: which block, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("[[upstream]] `{id}`: {message}")]
pub struct UpstreamConfigError {
    /// The block's id.
    pub id: String,
    /// What is wrong.
    pub message: String,
}

impl Upstreams {
    /// Resolves every block's preset and prepares its fetcher.
    pub(crate) fn new(
        blocks: &[UpstreamConfig],
        kek: Arc<Kek>,
        connect_timeout: Duration,
        timeout: Duration,
        jwks_refetch_interval: i64,
    ) -> Result<Self, UpstreamConfigError> {
        let mut list = Vec::new();
        for b in blocks {
            let fail = |message: String| UpstreamConfigError {
                id: b.id.clone(),
                message,
            };
            let resolved = presets::resolve(b).map_err(fail)?;
            let fetcher = SafeFetcher::new(b.insecure_http, connect_timeout, timeout)
                .map_err(|e| fail(e.to_string()))?;
            list.push(Arc::new(Upstream {
                config: b.clone(),
                resolved,
                fetcher,
                cache: discovery::Cache::default(),
                jwks_refetch_interval,
            }));
        }
        Ok(Self {
            list,
            kek,
            refreshing: Default::default(),
        })
    }

    /// The lock of `grant_id`'s refresh.
    pub(crate) fn refresh_gate(&self, grant_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.refreshing.lock() {
            Ok(mut m) => m.entry(grant_id.to_owned()).or_default().clone(),
            // A poisoned map still serves: this refresh just goes alone.
            Err(_) => Arc::default(),
        }
    }

    /// Forgets `grant_id`'s lock once nobody else holds or waits for it.
    pub(crate) fn release_gate(&self, grant_id: &str, gate: Arc<tokio::sync::Mutex<()>>) {
        if let Ok(mut m) = self.refreshing.lock()
            && Arc::strong_count(&gate) <= 2
        {
            m.remove(grant_id);
        }
    }

    /// The upstream with this id.
    pub(crate) fn get(&self, id: &str) -> Option<&Arc<Upstream>> {
        self.list.iter().find(|u| u.config.id == id)
    }

    /// The key-encryption key.
    pub(crate) fn kek(&self) -> &Kek {
        &self.kek
    }
}

impl Upstream {
    /// The endpoints, from discovery for an OpenID provider.
    pub(crate) async fn endpoints(&self, now: UnixTime) -> Result<Endpoints, UpstreamError> {
        match &self.resolved.protocol {
            Protocol::Github { web, .. } => Ok(Endpoints {
                authorization: format!("{web}/login/oauth/authorize"),
                token: format!("{web}/login/oauth/access_token"),
                userinfo: None,
                revocation: None,
                issuer: None,
                iss_required: false,
            }),
            Protocol::Oidc {
                issuer,
                issuers,
                authorization_endpoint,
                token_endpoint,
                revocation_endpoint,
            } => {
                let d = self
                    .cache
                    .discovered(&self.fetcher, issuer, issuers, now)
                    .await?;
                let m = &d.metadata;
                Ok(Endpoints {
                    authorization: authorization_endpoint
                        .clone()
                        .unwrap_or_else(|| m.authorization_endpoint.clone()),
                    token: token_endpoint
                        .clone()
                        .unwrap_or_else(|| m.token_endpoint.clone()),
                    userinfo: m.userinfo_endpoint.clone(),
                    revocation: revocation_endpoint
                        .clone()
                        .or_else(|| m.revocation_endpoint.clone()),
                    issuer: Some(m.issuer.clone()),
                    iss_required: m.authorization_response_iss_parameter_supported,
                })
            }
        }
    }

    /// Whether an RFC 9207 `iss` of an authorization response is this provider's: the
    /// discovered issuer, or, where that is Entra's multi-tenant template, a tenant's issuer.
    pub(crate) fn response_iss_ok(&self, iss: &str, discovered: &str) -> bool {
        iss == discovered
            || match &self.resolved.protocol {
                Protocol::Oidc {
                    issuer,
                    issuers: rule @ presets::IssuerRule::Entra { .. },
                    ..
                } => discovered.contains("{tenantid}") && rule.accepts_discovered(issuer, iss),
                _ => false,
            }
    }

    /// Whether this upstream speaks OpenID Connect (and so gets a `nonce`).
    pub(crate) fn is_oidc(&self) -> bool {
        matches!(self.resolved.protocol, Protocol::Oidc { .. })
    }

    /// The authorization request to send the browser to.
    pub(crate) fn authorization_url(
        &self,
        endpoints: &Endpoints,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        challenge: &str,
    ) -> String {
        let scope = self.resolved.scopes.join(" ");
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("client_id", &self.config.client_id),
            ("redirect_uri", redirect_uri),
            ("scope", &scope),
            ("state", state),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ];
        if self.is_oidc() {
            params.push(("nonce", nonce));
        }
        // OpenID Connect Core §11: `offline_access` (a refresh token) is granted only after a
        // consent prompt, which the provider ignores the scope without.
        if self.resolved.scopes.iter().any(|s| s == "offline_access") {
            params.push(("prompt", "consent"));
        }
        for (k, v) in &self.resolved.authorize_params {
            params.push((k, v));
        }
        // A checked URL (discovery or the block), so it parses; any query it has stays.
        match url::Url::parse(&endpoints.authorization) {
            Ok(mut u) => {
                u.query_pairs_mut().extend_pairs(params);
                u.into()
            }
            Err(_) => endpoints.authorization.clone(),
        }
    }

    /// Who signed in: the ID token (and userinfo for claims it lacks), or GitHub's API.
    pub(crate) async fn identity(
        &self,
        endpoints: &Endpoints,
        tokens: &TokenSet,
        nonce: &str,
        now: UnixTime,
    ) -> Result<Identity, UpstreamError> {
        let (issuer, issuers) = match &self.resolved.protocol {
            Protocol::Github { api, .. } => {
                return self
                    .github_identity(api, tokens.access_token.expose())
                    .await;
            }
            Protocol::Oidc {
                issuer, issuers, ..
            } => (issuer, issuers),
        };
        let raw = tokens
            .id_token
            .as_deref()
            .ok_or(UpstreamError::Garbage("its token response has no ID token"))?;
        let jws = id_token::parse(raw)?;
        let mut d = self
            .cache
            .discovered(&self.fetcher, issuer, issuers, now)
            .await?;
        if !jws.names_a_key_of(&d.keys)
            && let Some(fresh) = self
                .cache
                .refetch_keys(&self.fetcher, &d, self.jwks_refetch_interval, now)
                .await?
        {
            d = fresh;
        }
        let expected = id_token::Expected {
            issuers,
            client_id: &self.config.client_id,
            nonce,
            now,
        };
        let mut claims = id_token::verify(&jws, &d.keys, &expected)?;
        if let Some(url) = &endpoints.userinfo {
            self.merge_userinfo(url, tokens, &mut claims).await?;
        }
        identity::from_claims(claims, &self.config, &self.resolved)
            .ok_or(UpstreamError::Garbage("its ID token has no subject"))
    }

    /// Fills claims the ID token lacks from the userinfo endpoint (providers that follow OIDC
    /// Core §5.4 to the letter put `email` and `profile` claims only there), whose `sub` must
    /// be the ID token's (§5.3.2). Nothing the ID token says is replaced.
    async fn merge_userinfo(
        &self,
        url: &str,
        tokens: &TokenSet,
        claims: &mut serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), UpstreamError> {
        let map = &self.config.claims;
        if [&map.email, &map.username]
            .iter()
            .all(|c| claims.contains_key(c.as_str()))
        {
            return Ok(());
        }
        let answer = self
            .fetcher
            .get_bearer(url, tokens.access_token.expose(), 64 * 1024)
            .await
            .map_err(UpstreamError::Unreachable)?;
        if answer.status != 200 {
            return Err(UpstreamError::Garbage("its userinfo endpoint failed"));
        }
        let info: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&answer.body)
            .map_err(|_| UpstreamError::Garbage("its userinfo is not a JSON object"))?;
        if info.get("sub") != claims.get("sub") {
            return Err(UpstreamError::Garbage(
                "its userinfo is about another subject than the ID token",
            ));
        }
        for (k, v) in info {
            claims.entry(k).or_insert(v);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Preset;

    fn upstream(cfg: UpstreamConfig) -> Arc<Upstream> {
        let kek = Arc::new(Kek::generate().unwrap());
        let d = Duration::from_secs(1);
        let u = Upstreams::new(&[cfg], kek, d, d, 60).unwrap();
        u.list[0].clone()
    }

    #[test]
    fn the_response_iss_is_the_providers() {
        let mut oidc = UpstreamConfig::new("a", Preset::Oidc, "c");
        oidc.issuer = Some("https://idp.example".into());
        let u = upstream(oidc);
        assert!(u.response_iss_ok("https://idp.example", "https://idp.example"));
        assert!(!u.response_iss_ok("https://evil.example", "https://idp.example"));
        let mut entra = UpstreamConfig::new("e", Preset::Entra, "c");
        entra.tenant = Some("common".into());
        let u = upstream(entra);
        let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let tenant = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0";
        assert!(u.response_iss_ok(tenant, template));
        assert!(!u.response_iss_ok("https://evil.example/x/v2.0", template));
        assert!(!u.response_iss_ok(tenant, "https://login.microsoftonline.com/other/v2.0"));
    }

    #[test]
    fn the_authorization_request_carries_pkce_state_nonce_and_the_presets_parameters() {
        let mut auth0 = UpstreamConfig::new("a0", Preset::Auth0, "cid");
        auth0.domain = Some("acme.auth0.com".into());
        auth0.audience = Some("https://api.acme".into());
        auth0.scopes = Some(vec!["openid".into(), "offline_access".into()]);
        let u = upstream(auth0);
        let ep = Endpoints {
            authorization: "https://acme.auth0.com/authorize?x=1".into(),
            token: String::new(),
            userinfo: None,
            revocation: None,
            issuer: None,
            iss_required: false,
        };
        let url =
            url::Url::parse(&u.authorization_url(&ep, "https://as/cb", "st", "no", "ch")).unwrap();
        let q: std::collections::BTreeMap<_, _> = url.query_pairs().into_owned().collect();
        for (k, v) in [
            ("x", "1"),
            ("response_type", "code"),
            ("client_id", "cid"),
            ("redirect_uri", "https://as/cb"),
            ("scope", "openid offline_access"),
            ("state", "st"),
            ("nonce", "no"),
            ("code_challenge", "ch"),
            ("code_challenge_method", "S256"),
            ("audience", "https://api.acme"),
            ("prompt", "consent"),
        ] {
            assert_eq!(q.get(k).map(String::as_str), Some(v), "{k}");
        }
    }
}
