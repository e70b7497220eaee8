//! RFC 9068 JWT access tokens, verified against the issuer's published keys.
//!
//! Keys come from the issuer's JWKS, whose URL is discovered from its metadata (RFC 8414, then
//! OpenID Discovery; the document's `issuer` must equal the configured one) unless given. The
//! key set is cached; it is reloaded after `jwks_max_age`, and at most once per
//! `refetch_interval` when a token names an unknown `kid` (so an issuer's key rotation is picked
//! up at once, while a flood of junk `kid`s cannot make us hammer the issuer).
//!
//! Checks, in order: JWS header (`alg` on the allow-list, never `none` or HMAC; `typ` one of the
//! profile's, `at+jwt` by default; no `crit`), a key with the `kid` that fits the `alg`, the
//! signature, then `iss` (one of the issuer's forms, exact), the audience (the profile's claim
//! names this resource or an alias), `exp` (required), `nbf` and `iat`, with a small leeway,
//! against the injected clock, then the profile's required claims.
//!
//! Claims are read by the provider's [`Profile`] (scope, audience and client claims) rather than
//! as the strict [`mcp_oauth_core::token::AccessTokenClaims`], because common IdPs (Keycloak,
//! Auth0, Entra ID, Okta, Cognito) do not send every RFC 9068 claim; `sub` may be absent.
//!
//! `mod.rs` holds the verifier, its builder and the check of one token; `keys.rs` the issuer's
//! key set (discovery, JWKS fetch, refetch on an unknown `kid`); `claims.rs` the claim checks.

mod claims;
mod keys;
#[cfg(test)]
mod tests;

use super::TokenVerifier;
use super::fetch::{Http, HttpOptions};
use super::profile::Profile;
use crate::error::{ConfigError, VerifyError};
use crate::principal::Principal;
use async_trait::async_trait;
use claims::ClaimRules;
#[cfg(test)]
use claims::check_claims;
use keys::{KeyState, Remote, key_entries};
use mcp_oauth_core::clock::{SharedClock, SystemClock};
use mcp_oauth_core::jose::{Algorithm, JwkSet, VERIFY_ALGORITHMS, algorithm_name};
use mcp_oauth_core::jws::{Jws, JwsError, KidRule};
use serde_json::Value;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Verifies JWT access tokens of one issuer. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The issuer whose metadata is discovered.
    issuer: String,
    rules: ClaimRules,
    algorithms: Vec<Algorithm>,
    refetch_interval: i64,
    jwks_max_age: i64,
    clock: SharedClock,
    /// `None` for a static key set.
    remote: Option<Remote>,
    state: RwLock<KeyState>,
    fetch_lock: tokio::sync::Mutex<()>,
}

/// Builds a [`JwtVerifier`]. Every setting names its default.
#[derive(Debug)]
pub struct JwtVerifierBuilder {
    issuer: String,
    audience: String,
    profile: Profile,
    aliases: Vec<String>,
    jwks_uri: Option<String>,
    static_jwks: Option<JwkSet>,
    leeway: Duration,
    require_typ: bool,
    algorithms: Vec<Algorithm>,
    refetch_interval: Duration,
    jwks_max_age: Duration,
    clock: SharedClock,
    http: HttpOptions,
}

impl JwtVerifierBuilder {
    /// Use this JWKS URL instead of discovering it from the issuer's metadata.
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.jwks_uri = Some(url.into());
        self
    }

    /// Use a fixed key set and never fetch anything (tests, offline, air-gapped deployments).
    pub fn static_jwks(mut self, jwks: JwkSet) -> Self {
        self.static_jwks = Some(jwks);
        self
    }

    /// Clock skew tolerated on `exp`, `nbf` and `iat`. Default 60 s.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Whether the header `typ` must be one of the profile's (for the default profile `at+jwt`
    /// or `application/at+jwt`, as RFC 9068 §2.1 requires; this stops an ID token being replayed
    /// as an access token). Default true; `false` accepts any `typ` or none, for an IdP that sets
    /// none (prefer [`Self::profile`] with that provider's rule).
    pub fn require_typ(mut self, require: bool) -> Self {
        self.require_typ = require;
        self
    }

    /// How this provider's tokens are read and checked: scope, audience and client claims,
    /// `typ` values, issuer forms, required claims. Default [`Profile::rfc9068`].
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// An audience value accepted besides the resource URI, compared exactly (Entra ID's
    /// `api://...` Application ID URI or client id, an Auth0 API identifier, a Keycloak Audience
    /// mapper's value, a Cognito app client id). Repeatable. The audience is always checked: a
    /// profile whose tokens cannot carry the resource URI refuses to build without one.
    pub fn audience(mut self, alias: impl Into<String>) -> Self {
        self.aliases.push(alias.into());
        self
    }

    /// Several audience aliases at once (see [`Self::audience`]).
    pub fn audiences<I: IntoIterator<Item = S>, S: Into<String>>(mut self, aliases: I) -> Self {
        self.aliases.extend(aliases.into_iter().map(Into::into));
        self
    }

    /// Restrict the accepted algorithms further. Default: all of
    /// [`mcp_oauth_core::jose::VERIFY_ALGORITHMS`]; anything outside it is refused at build.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// The least time between two JWKS refetches caused by an unknown `kid`. Default 30 s.
    pub fn refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// How long a fetched key set is used before it is fetched again (so that withdrawn keys
    /// stop working). Default 10 min. A failed refresh keeps the old keys.
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.jwks_max_age = max_age;
        self
    }

    /// The clock for all time checks. Default: the system clock.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = clock;
        self
    }

    /// HTTP settings for discovery and JWKS. Default: [`HttpOptions::default`].
    pub fn http(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }

    /// Allow an `http://` issuer and JWKS (local development and tests only). Default false.
    pub fn insecure_allow_http(mut self, allow: bool) -> Self {
        self.http.insecure_allow_http = allow;
        self
    }

    /// Checks the settings and builds the verifier. Nothing is fetched yet: keys are loaded by
    /// the first token (or by [`JwtVerifier::refresh`]).
    pub fn build(mut self) -> Result<JwtVerifier, ConfigError> {
        mcp_oauth_core::resource::validate(&self.audience)
            .map_err(|_| ConfigError::InvalidResource(self.audience.clone()))?;
        let audiences = self.profile.audiences(&self.audience, &self.aliases)?;
        let forms = self.profile.issuer_forms(&self.issuer)?;
        self.issuer = forms.discovery;
        if !self.require_typ {
            self.profile = self.profile.any_typ();
        }
        if self.algorithms.is_empty() {
            return Err(ConfigError::Algorithm("(none)".into()));
        }
        if let Some(bad) = self
            .algorithms
            .iter()
            .find(|a| !VERIFY_ALGORITHMS.contains(a))
        {
            return Err(ConfigError::Algorithm(algorithm_name(*bad)));
        }
        let (remote, state) = match self.static_jwks {
            Some(jwks) => (
                None,
                KeyState {
                    keys: Arc::new(key_entries(&jwks.keys)),
                    loaded: true,
                    ..KeyState::default()
                },
            ),
            None => {
                let http = Http::new(&self.http)?;
                http.check_url(&self.issuer).map_err(|e| match e {
                    ConfigError::InsecureUrl(u) => ConfigError::InsecureUrl(u),
                    _ => ConfigError::InvalidIssuer(self.issuer.clone()),
                })?;
                if let Some(u) = &self.jwks_uri {
                    http.check_url(u)?;
                }
                (
                    Some(Remote {
                        http,
                        jwks_uri: self.jwks_uri,
                    }),
                    KeyState::default(),
                )
            }
        };
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        Ok(JwtVerifier {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                rules: ClaimRules {
                    issuers: forms.accepted,
                    audiences,
                    profile: self.profile,
                    required: forms.required_claims,
                    leeway: secs(self.leeway),
                },
                algorithms: self.algorithms,
                refetch_interval: secs(self.refetch_interval),
                jwks_max_age: secs(self.jwks_max_age),
                clock: self.clock,
                remote,
                state: RwLock::new(state),
                fetch_lock: tokio::sync::Mutex::new(()),
            }),
        })
    }
}

impl JwtVerifier {
    /// Starts a builder for tokens of `issuer` meant for `audience`, this server's canonical
    /// resource URI (the PRM `resource`).
    pub fn builder(issuer: impl Into<String>, audience: impl Into<String>) -> JwtVerifierBuilder {
        JwtVerifierBuilder {
            issuer: issuer.into(),
            audience: audience.into(),
            profile: Profile::rfc9068(),
            aliases: Vec::new(),
            jwks_uri: None,
            static_jwks: None,
            leeway: Duration::from_secs(60),
            require_typ: true,
            algorithms: VERIFY_ALGORITHMS.to_vec(),
            refetch_interval: Duration::from_secs(30),
            jwks_max_age: Duration::from_secs(600),
            clock: Arc::new(SystemClock),
            http: HttpOptions::default(),
        }
    }

    /// A verifier over a fixed key set with the default settings and the system clock.
    pub fn from_jwks(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        jwks: JwkSet,
    ) -> Result<Self, ConfigError> {
        Self::builder(issuer, audience).static_jwks(jwks).build()
    }

    /// The issuer whose tokens this verifier accepts (the one whose metadata is discovered).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// Every `iss` value accepted: the issuer, and the other forms its profile knows (Entra ID's
    /// v1.0 form of a tenant's issuer).
    pub fn accepted_issuers(&self) -> &[String] {
        &self.inner.rules.issuers
    }

    /// The profile its tokens are checked by.
    pub fn profile(&self) -> &Profile {
        &self.inner.rules.profile
    }

    /// Loads the issuer's keys now (discovery and JWKS), so that a misconfigured issuer is seen
    /// at start-up rather than on the first request. A no-op for a static key set.
    pub async fn refresh(&self) -> Result<(), VerifyError> {
        self.inner.load(true).await.map(|_| ())
    }
}

#[async_trait]
impl TokenVerifier for JwtVerifier {
    async fn verify(&self, token: &str) -> Result<Principal, VerifyError> {
        self.inner.verify(token).await
    }
}

impl Inner {
    async fn verify(&self, token: &str) -> Result<Principal, VerifyError> {
        let jws = Jws::parse(token, &self.algorithms).map_err(|e| {
            VerifyError::invalid(match e {
                JwsError::Algorithm(_) => "the access token's signing algorithm is not accepted",
                JwsError::Critical => {
                    "the access token uses unsupported critical header parameters"
                }
                _ => "the access token is not a well-formed JWS with an accepted alg",
            })
        })?;
        if !self.rules.profile.accepts_typ(jws.typ()) {
            return Err(VerifyError::invalid(self.rules.profile.typ_refusal()));
        }
        let keys = self.keys_for(jws.kid()).await?;
        // The keys with the token's `kid`; failing that, keys published without a `kid` (some
        // issuers omit it). Without a `kid` in the token, every key is a candidate.
        let claims: Value = jws.verify(&keys, KidRule::OrUnnamed).map_err(|e| {
            if e != JwsError::Signature {
                tracing::debug!(target: "mcp_oauth::resource", error = %e, "JWT rejected");
            }
            VerifyError::invalid(match e {
                JwsError::UnknownKey => "the access token is signed with an unknown key",
                _ => "the access token signature could not be verified",
            })
        })?;
        self.rules.check(&claims, self.clock.now())
    }
}
