//! Opaque (or any) tokens verified by asking the issuer: RFC 7662 token introspection.
//!
//! The resource server authenticates to the introspection endpoint with `client_secret_basic`.
//! Answers are cached by token hash: an active token no longer than its `exp` and `max_ttl`
//! (default 60 s, the bound on how late a revocation is noticed), an inactive one for
//! `inactive_ttl` (default 10 s, so a client retrying a dead token does not hammer the issuer).
//! Failures to reach the endpoint are not cached and become `503`.
//!
//! An active answer is still checked: `token_type` must not name a refresh or non-bearer token,
//! `exp`/`nbf` against the clock, `iss` equal to the configured issuer when sent, and `aud` must
//! name this resource (RFC 8707). An answer without `aud` is refused unless
//! [`IntrospectionVerifierBuilder::insecure_accept_missing_audience`] is set, since nothing
//! then shows the token was meant for this server.

use super::cache::{DEFAULT_CACHE_CAPACITY, TokenCache};
use super::fetch::{FetchError, Http, HttpOptions};
use super::profile::Audiences;
use super::{TokenVerifier, cache_lifetime};
use crate::error::{ConfigError, VerifyError};
use crate::principal::{Principal, PrincipalData, scopes_from_claims};
use async_trait::async_trait;
use mcp_oauth_core::clock::{SharedClock, SystemClock, UnixTime};
use mcp_oauth_core::secret::Secret;
use mcp_oauth_core::token::IntrospectionResponse;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Verifies tokens through an RFC 7662 introspection endpoint. Cheap to clone.
#[derive(Debug, Clone)]
pub struct IntrospectionVerifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    issuer: String,
    audiences: Audiences,
    endpoint: RwLock<Option<String>>,
    client_id: String,
    client_secret: Secret,
    http: Http,
    leeway: i64,
    max_ttl: u64,
    inactive_ttl: i64,
    accept_missing_audience: bool,
    cache: TokenCache<Result<Principal, String>>,
}

/// Builds an [`IntrospectionVerifier`]. Every setting names its default.
#[derive(Debug)]
pub struct IntrospectionVerifierBuilder {
    issuer: String,
    audience: String,
    aliases: Vec<String>,
    endpoint: Option<String>,
    client_id: String,
    client_secret: Secret,
    http: HttpOptions,
    leeway: Duration,
    max_ttl: Duration,
    inactive_ttl: Duration,
    capacity: usize,
    clock: SharedClock,
    accept_missing_audience: bool,
}

impl IntrospectionVerifier {
    /// Starts a builder: tokens of `issuer` meant for `audience` (this server's canonical
    /// resource URI), introspected with the resource server's own client credentials.
    pub fn builder(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
    ) -> IntrospectionVerifierBuilder {
        IntrospectionVerifierBuilder {
            issuer: issuer.into(),
            audience: audience.into(),
            aliases: Vec::new(),
            endpoint: None,
            client_id: client_id.into(),
            client_secret,
            http: HttpOptions::default(),
            leeway: Duration::from_secs(60),
            max_ttl: Duration::from_secs(60),
            inactive_ttl: Duration::from_secs(10),
            capacity: DEFAULT_CACHE_CAPACITY,
            clock: Arc::new(SystemClock),
            accept_missing_audience: false,
        }
    }

    /// The issuer whose tokens this verifier accepts.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }
}

impl IntrospectionVerifierBuilder {
    /// The introspection endpoint. Default: `introspection_endpoint` from the issuer's metadata,
    /// discovered on first use.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// An audience value accepted besides the resource URI, compared exactly (as for
    /// [`super::JwtVerifierBuilder::audience`]). Repeatable.
    pub fn audience(mut self, alias: impl Into<String>) -> Self {
        self.aliases.push(alias.into());
        self
    }

    /// HTTP settings. Default: [`HttpOptions::default`].
    pub fn http(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }

    /// Allow `http://` endpoints (local development and tests only). Default false.
    pub fn insecure_allow_http(mut self, allow: bool) -> Self {
        self.http.insecure_allow_http = allow;
        self
    }

    /// Clock skew tolerated on `exp` and `nbf`. Default 60 s.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The longest an active answer is cached (never past the token's `exp`). Default 60 s.
    pub fn max_ttl(mut self, ttl: Duration) -> Self {
        self.max_ttl = ttl;
        self
    }

    /// How long an inactive answer is cached. Default 10 s; zero disables.
    pub fn inactive_ttl(mut self, ttl: Duration) -> Self {
        self.inactive_ttl = ttl;
        self
    }

    /// The number of answers cached. Default [`DEFAULT_CACHE_CAPACITY`].
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// The clock for expiry and caching. Default: the system clock.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// Accept active answers without `aud`. Default false: RFC 8707 audience binding cannot be
    /// checked then, and a token minted for another resource of the same issuer would pass.
    /// Only for an issuer that binds each token to one resource some other way.
    pub fn insecure_accept_missing_audience(mut self, accept: bool) -> Self {
        self.accept_missing_audience = accept;
        self
    }

    /// Checks the settings and builds the verifier.
    pub fn build(self) -> Result<IntrospectionVerifier, ConfigError> {
        mcp_oauth_core::resource::validate(&self.audience)
            .map_err(|_| ConfigError::InvalidResource(self.audience.clone()))?;
        let http = Http::new(&self.http)?;
        http.check_url(&self.issuer).map_err(|e| match e {
            ConfigError::InsecureUrl(u) => ConfigError::InsecureUrl(u),
            _ => ConfigError::InvalidIssuer(self.issuer.clone()),
        })?;
        if let Some(e) = &self.endpoint {
            http.check_url(e)?;
        }
        let audiences = super::Profile::rfc9068().audiences(&self.audience, &self.aliases)?;
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        Ok(IntrospectionVerifier {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                audiences,
                endpoint: RwLock::new(self.endpoint),
                client_id: self.client_id,
                client_secret: self.client_secret,
                http,
                leeway: secs(self.leeway),
                max_ttl: self.max_ttl.as_secs(),
                inactive_ttl: secs(self.inactive_ttl),
                accept_missing_audience: self.accept_missing_audience,
                cache: TokenCache::new(self.capacity, self.clock),
            }),
        })
    }
}

#[async_trait]
impl TokenVerifier for IntrospectionVerifier {
    async fn verify(&self, token: &str) -> Result<Principal, VerifyError> {
        if let Some(cached) = self.cached(token) {
            return cached;
        }
        let inner = &self.inner;
        let endpoint = inner.endpoint().await?;
        let answer: IntrospectionResponse = inner
            .http
            .post_form_json(
                &endpoint,
                &[("token", token), ("token_type_hint", "access_token")],
                Some((&inner.client_id, inner.client_secret.expose())),
            )
            .await
            .map_err(|e| {
                if matches!(e, FetchError::Status(401 | 403)) {
                    tracing::error!(target: "mcp_oauth::resource", issuer = %inner.issuer, "the introspection endpoint refused our client credentials");
                } else {
                    tracing::warn!(target: "mcp_oauth::resource", issuer = %inner.issuer, error = %e, "token introspection failed");
                }
                VerifyError::unavailable(format!("introspection at {endpoint}: {e}"))
            })?;
        let now = inner.cache.now();
        match check_answer(
            answer,
            &inner.issuer,
            &inner.audiences,
            now,
            inner.leeway,
            inner.accept_missing_audience,
        ) {
            Ok(p) => {
                let lifetime = cache_lifetime(now, p.expires_at, inner.max_ttl);
                inner.cache.insert(token, Ok(p.clone()), lifetime);
                Ok(p)
            }
            Err(description) => {
                inner
                    .cache
                    .insert(token, Err(description.clone()), inner.inactive_ttl);
                Err(VerifyError::InvalidToken(description))
            }
        }
    }

    fn cached(&self, token: &str) -> Option<Result<Principal, VerifyError>> {
        self.inner
            .cache
            .get(token)
            .map(|cached| cached.map_err(VerifyError::InvalidToken))
    }
}

impl Inner {
    async fn endpoint(&self) -> Result<String, VerifyError> {
        if let Some(e) = self
            .endpoint
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        {
            return Ok(e);
        }
        let meta = self.http.discover(&self.issuer).await.map_err(|e| {
            tracing::warn!(target: "mcp_oauth::resource", issuer = %self.issuer, error = %e, "issuer discovery failed");
            VerifyError::unavailable(e.to_string())
        })?;
        let endpoint = meta.introspection_endpoint.ok_or_else(|| {
            tracing::error!(target: "mcp_oauth::resource", issuer = %self.issuer, "issuer metadata has no introspection_endpoint");
            VerifyError::unavailable("issuer metadata has no introspection_endpoint")
        })?;
        self.http
            .check_url(&endpoint)
            .map_err(|e| VerifyError::unavailable(e.to_string()))?;
        *self.endpoint.write().unwrap_or_else(|e| e.into_inner()) = Some(endpoint.clone());
        Ok(endpoint)
    }
}

/// Judges an introspection answer; the error is the `error_description` for the client.
fn check_answer(
    answer: IntrospectionResponse,
    issuer: &str,
    audiences: &Audiences,
    now: UnixTime,
    leeway: i64,
    accept_missing_audience: bool,
) -> Result<Principal, String> {
    if !answer.active {
        return Err("the access token is not active".into());
    }
    if let Some(tt) = &answer.token_type {
        let ok = tt.eq_ignore_ascii_case("bearer")
            || tt.eq_ignore_ascii_case("access_token")
            || tt == "urn:ietf:params:oauth:token-type:access_token";
        if !ok {
            return Err("the token is not a bearer access token".into());
        }
    }
    if answer
        .exp
        .is_some_and(|exp| now > exp.saturating_add(leeway))
    {
        return Err("the access token expired".into());
    }
    if answer
        .nbf
        .is_some_and(|nbf| now.saturating_add(leeway) < nbf)
    {
        return Err("the access token is not valid yet".into());
    }
    if answer.iss.as_deref().is_some_and(|iss| iss != issuer) {
        return Err("the access token was not issued by a trusted issuer".into());
    }
    let audience_values: Vec<String> = match &answer.aud {
        Some(aud) => {
            if !aud.iter().any(|a| audiences.accepts(a)) {
                return Err(
                    "the access token is not meant for this resource (audience mismatch)".into(),
                );
            }
            aud.iter().map(str::to_owned).collect()
        }
        None if accept_missing_audience => Vec::new(),
        None => return Err("the access token's audience is unknown".into()),
    };
    let claims = serde_json::to_value(&answer).unwrap_or_default();
    Ok(Principal::new(PrincipalData {
        issuer: issuer.to_owned(),
        subject: answer.sub.clone(),
        client_id: answer.client_id.clone(),
        scopes: scopes_from_claims(&claims),
        audience: audience_values,
        expires_at: answer.exp,
        claims,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_oauth_core::token::Audience;

    const ISS: &str = "https://as.example";
    const AUD: &str = "https://mcp.example/mcp";

    fn active() -> IntrospectionResponse {
        IntrospectionResponse {
            active: true,
            scope: Some("mcp files:read".into()),
            client_id: Some("c1".into()),
            sub: Some("alice".into()),
            exp: Some(1300),
            iss: Some(ISS.into()),
            aud: Some(Audience::One(AUD.into())),
            token_type: Some("Bearer".into()),
            ..Default::default()
        }
    }

    #[test]
    fn active_answer_becomes_principal() {
        let p = check_answer(active(), ISS, &Audiences::resource(AUD), 1000, 60, false).unwrap();
        assert_eq!(p.subject.as_deref(), Some("alice"));
        assert_eq!(p.scopes.to_string(), "files:read mcp");
        assert_eq!(p.expires_at, Some(1300));
        assert_eq!(p.claims["client_id"], "c1");
    }

    #[test]
    fn refusals() {
        let aud = Audiences::resource(AUD);
        let check = |a: IntrospectionResponse| check_answer(a, ISS, &aud, 1000, 60, false);
        assert!(check(IntrospectionResponse::inactive()).is_err());
        assert!(
            check(IntrospectionResponse {
                aud: Some(Audience::One("https://other".into())),
                ..active()
            })
            .is_err()
        );
        assert!(
            check(IntrospectionResponse {
                aud: None,
                ..active()
            })
            .is_err()
        );
        assert!(
            check_answer(
                IntrospectionResponse {
                    aud: None,
                    ..active()
                },
                ISS,
                &aud,
                1000,
                60,
                true
            )
            .is_ok()
        );
        assert!(
            check(IntrospectionResponse {
                iss: Some("https://evil".into()),
                ..active()
            })
            .is_err()
        );
        assert!(
            check(IntrospectionResponse {
                iss: None,
                ..active()
            })
            .is_ok()
        );
        assert!(
            check(IntrospectionResponse {
                exp: Some(900),
                ..active()
            })
            .is_err()
        );
        assert!(
            check(IntrospectionResponse {
                nbf: Some(1100),
                ..active()
            })
            .is_err()
        );
        assert!(
            check(IntrospectionResponse {
                token_type: Some("refresh_token".into()),
                ..active()
            })
            .is_err()
        );
        assert!(
            check(IntrospectionResponse {
                token_type: Some("DPoP".into()),
                ..active()
            })
            .is_err()
        );
    }

    #[test]
    fn audience_aliases_are_exact() {
        let aud = Audiences::resource(AUD);
        let alias = crate::Profile::rfc9068()
            .audiences(AUD, &["urn:mcp".to_owned()])
            .unwrap();
        let with = |a: &str| IntrospectionResponse {
            aud: Some(Audience::One(a.into())),
            ..active()
        };
        assert!(check_answer(with("urn:mcp"), ISS, &aud, 1000, 60, false).is_err());
        assert!(check_answer(with("urn:mcp"), ISS, &alias, 1000, 60, false).is_ok());
        assert!(check_answer(with("URN:MCP"), ISS, &alias, 1000, 60, false).is_err());
        assert!(check_answer(with(AUD), ISS, &alias, 1000, 60, false).is_ok());
    }

    #[test]
    fn build_refuses_plain_http() {
        let b = || IntrospectionVerifier::builder("http://as.example", AUD, "rs", Secret::new("s"));
        assert!(matches!(b().build(), Err(ConfigError::InsecureUrl(_))));
        assert!(b().insecure_allow_http(true).build().is_ok());
    }
}
