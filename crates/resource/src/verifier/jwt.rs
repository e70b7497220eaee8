//! RFC 9068 JWT access tokens, verified against the issuer's published keys.
//!
//! Keys come from the issuer's JWKS, whose URL is discovered from its metadata (RFC 8414, then
//! OpenID Discovery; the document's `issuer` must equal the configured one) unless given. The
//! key set is cached; it is reloaded after `jwks_max_age`, and at most once per
//! `refetch_interval` when a token names an unknown `kid` (so an issuer's key rotation is picked
//! up at once, while a flood of junk `kid`s cannot make us hammer the issuer).
//!
//! Checks, in order: JWS header (`alg` on the allow-list, never `none` or HMAC; `typ` `at+jwt`
//! unless disabled; no `crit`), a key with the `kid` that fits the `alg`, the signature, then
//! `iss` (exact), `aud` (names this resource), `exp` (required), `nbf` and `iat`, with a small
//! leeway, against the injected clock.
//!
//! Claims are read leniently beyond that (`sub` may be absent, `client_id` falls back to `azp`,
//! scopes may come as `scp`) rather than as the strict [`mcp_oauth_core::token::AccessTokenClaims`],
//! because common IdPs (Keycloak, Auth0, Entra ID, Okta) do not send every RFC 9068 claim.

use super::TokenVerifier;
use super::fetch::{Http, HttpOptions};
use crate::error::{ConfigError, VerifyError};
use crate::principal::{Principal, PrincipalData, client_id_from_claims, scopes_from_claims};
use async_trait::async_trait;
use mcp_oauth_core::clock::{SharedClock, SystemClock, UnixTime};
use mcp_oauth_core::jose::{Algorithm, Jwk, JwkSet, VERIFY_ALGORITHMS, algorithm_name};
use mcp_oauth_core::jws::{JwkKey, Jws, JwsError, KidRule, VerifyingKey};
use mcp_oauth_core::resource::audience_matches;
use mcp_oauth_core::token::Audience;
use serde::Deserialize;
use serde_json::Value;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Seconds after a failed key fetch before another is tried for requests that have no keys at
/// all; they get `503` meanwhile instead of each waiting for a timeout.
const FAILURE_BACKOFF: i64 = 5;

/// Keys beyond this many in one JWKS are ignored: real sets hold a handful.
const MAX_KEYS: usize = 64;

/// Verifies JWT access tokens of one issuer. Cheap to clone (shared state).
#[derive(Debug, Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    issuer: String,
    audience: String,
    leeway: i64,
    require_typ: bool,
    algorithms: Vec<Algorithm>,
    refetch_interval: i64,
    jwks_max_age: i64,
    clock: SharedClock,
    /// `None` for a static key set.
    remote: Option<Remote>,
    state: RwLock<KeyState>,
    fetch_lock: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct Remote {
    http: Http,
    /// Configured, skipping discovery.
    jwks_uri: Option<String>,
}

#[derive(Debug, Default)]
struct KeyState {
    keys: Arc<Vec<JwkKey>>,
    loaded: bool,
    fetched_at: Option<UnixTime>,
    last_kid_refetch: Option<UnixTime>,
    last_failure: Option<UnixTime>,
    discovered_jwks_uri: Option<String>,
}

/// Builds a [`JwtVerifier`]. Every setting names its default.
#[derive(Debug)]
pub struct JwtVerifierBuilder {
    issuer: String,
    audience: String,
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

    /// Whether the header `typ` must be `at+jwt` (or `application/at+jwt`), as RFC 9068 §2.1
    /// requires; this stops an ID token being replayed as an access token. Default true; turn
    /// off only for an IdP that does not set it.
    pub fn require_typ(mut self, require: bool) -> Self {
        self.require_typ = require;
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
    pub fn build(self) -> Result<JwtVerifier, ConfigError> {
        mcp_oauth_core::resource::validate(&self.audience)
            .map_err(|_| ConfigError::InvalidResource(self.audience.clone()))?;
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
                audience: self.audience,
                leeway: secs(self.leeway),
                require_typ: self.require_typ,
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

    /// The issuer whose tokens this verifier accepts.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
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

fn typ_is_access_token(typ: &str) -> bool {
    typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
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
        if self.require_typ && !jws.typ().is_some_and(typ_is_access_token) {
            return Err(VerifyError::invalid(
                "the token is not a JWT access token (typ must be at+jwt)",
            ));
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
        check_claims(
            &claims,
            &self.issuer,
            &self.audience,
            self.clock.now(),
            self.leeway,
        )
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, KeyState> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, KeyState> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The keys to try for a token with `kid`: loads them if needed, and refetches once (rate
    /// limited) when the `kid` is unknown.
    async fn keys_for(&self, kid: Option<&str>) -> Result<Arc<Vec<JwkKey>>, VerifyError> {
        let now = self.clock.now();
        let (keys, loaded, stale) = {
            let s = self.read_state();
            let stale = self.remote.is_some()
                && s.fetched_at
                    .is_some_and(|t| now.saturating_sub(t) >= self.jwks_max_age);
            (s.keys.clone(), s.loaded, stale)
        };
        let (keys, just_loaded) = if !loaded {
            (self.load(false).await?, true)
        } else if stale {
            (self.refresh_stale(keys).await, false)
        } else {
            (keys, false)
        };
        match kid {
            Some(kid) if !just_loaded && !keys.iter().any(|k| k.kid() == Some(kid)) => {
                Ok(self.refetch_for_unknown_kid(kid).await)
            }
            _ => Ok(keys),
        }
    }

    /// Loads keys when there are none (or when `force`d), waiting for a fetch in progress.
    async fn load(&self, force: bool) -> Result<Arc<Vec<JwkKey>>, VerifyError> {
        let Some(remote) = &self.remote else {
            return Ok(self.read_state().keys.clone());
        };
        let _guard = self.fetch_lock.lock().await;
        let now = self.clock.now();
        {
            let s = self.read_state();
            if s.loaded && !force {
                return Ok(s.keys.clone());
            }
            if !force
                && s.last_failure
                    .is_some_and(|t| now.saturating_sub(t) < FAILURE_BACKOFF)
            {
                return Err(VerifyError::unavailable(format!(
                    "keys of issuer `{}` could not be loaded recently",
                    self.issuer
                )));
            }
        }
        match self.fetch(remote).await {
            Ok(entries) => Ok(self.store(entries, now)),
            Err(e) => {
                tracing::warn!(target: "mcp_oauth::resource", issuer = %self.issuer, error = %e, "loading the issuer's keys failed");
                let mut s = self.write_state();
                s.last_failure = Some(now);
                if s.loaded && !force {
                    Ok(s.keys.clone())
                } else {
                    Err(VerifyError::unavailable(e))
                }
            }
        }
    }

    /// Refreshes an expired key set without making requests wait: if another request is already
    /// fetching, the current keys are used. A failed refresh keeps the old keys.
    async fn refresh_stale(&self, current: Arc<Vec<JwkKey>>) -> Arc<Vec<JwkKey>> {
        let Some(remote) = &self.remote else {
            return current;
        };
        let Ok(_guard) = self.fetch_lock.try_lock() else {
            return current;
        };
        let now = self.clock.now();
        {
            let s = self.read_state();
            let fresh = s
                .fetched_at
                .is_some_and(|t| now.saturating_sub(t) < self.jwks_max_age);
            let backing_off = s
                .last_failure
                .is_some_and(|t| now.saturating_sub(t) < FAILURE_BACKOFF);
            if fresh || backing_off {
                return s.keys.clone();
            }
        }
        match self.fetch(remote).await {
            Ok(entries) => self.store(entries, now),
            Err(e) => {
                tracing::warn!(target: "mcp_oauth::resource", issuer = %self.issuer, error = %e, "refreshing the issuer's keys failed; keeping the old ones");
                let mut s = self.write_state();
                s.last_failure = Some(now);
                s.keys.clone()
            }
        }
    }

    /// One refetch for an unknown `kid`, at most once per `refetch_interval`. Requests that
    /// arrive during the fetch wait for it and then see the new keys.
    async fn refetch_for_unknown_kid(&self, kid: &str) -> Arc<Vec<JwkKey>> {
        let Some(remote) = &self.remote else {
            return self.read_state().keys.clone();
        };
        let _guard = self.fetch_lock.lock().await;
        let now = self.clock.now();
        {
            let mut s = self.write_state();
            if s.keys.iter().any(|k| k.kid() == Some(kid)) {
                return s.keys.clone();
            }
            if s.last_kid_refetch
                .is_some_and(|t| now.saturating_sub(t) < self.refetch_interval)
            {
                tracing::debug!(target: "mcp_oauth::resource", issuer = %self.issuer, "unknown kid; JWKS refetch rate-limited");
                return s.keys.clone();
            }
            s.last_kid_refetch = Some(now);
        }
        match self.fetch(remote).await {
            Ok(entries) => self.store(entries, now),
            Err(e) => {
                tracing::warn!(target: "mcp_oauth::resource", issuer = %self.issuer, error = %e, "refetching the issuer's keys failed");
                self.read_state().keys.clone()
            }
        }
    }

    fn store(&self, entries: Vec<JwkKey>, now: UnixTime) -> Arc<Vec<JwkKey>> {
        let keys = Arc::new(entries);
        let mut s = self.write_state();
        s.keys = keys.clone();
        s.loaded = true;
        s.fetched_at = Some(now);
        s.last_failure = None;
        keys
    }

    async fn fetch(&self, remote: &Remote) -> Result<Vec<JwkKey>, String> {
        let discovered = self.read_state().discovered_jwks_uri.clone();
        let uri = match remote.jwks_uri.clone().or(discovered) {
            Some(u) => u,
            None => {
                let meta = remote.http.discover(&self.issuer).await?;
                let uri = meta
                    .jwks_uri
                    .ok_or_else(|| format!("metadata of `{}` has no jwks_uri", self.issuer))?;
                remote
                    .http
                    .check_url(&uri)
                    .map_err(|e| format!("jwks_uri refused: {e}"))?;
                self.write_state().discovered_jwks_uri = Some(uri.clone());
                uri
            }
        };
        #[derive(Deserialize)]
        struct RawSet {
            keys: Vec<Value>,
        }
        match remote.http.get_json::<RawSet>(&uri).await {
            Ok(set) => {
                let jwks: Vec<Jwk> = set
                    .keys
                    .into_iter()
                    .take(MAX_KEYS)
                    .filter_map(|k| serde_json::from_value(k).ok())
                    .collect();
                Ok(key_entries(&jwks))
            }
            Err(e) => {
                // Discover again next time: the issuer may have moved its JWKS.
                if remote.jwks_uri.is_none() {
                    self.write_state().discovered_jwks_uri = None;
                }
                Err(format!("{uri}: {e}"))
            }
        }
    }
}

/// Usable verification keys of a set (at most [`MAX_KEYS`]): signature keys (no `use`, or
/// `use: sig`) that are not symmetric. Keys of unknown type were already dropped when the set
/// was read.
fn key_entries(jwks: &[Jwk]) -> Vec<JwkKey> {
    JwkKey::set(jwks, MAX_KEYS)
}

/// A NumericDate claim: absent, or a number (fractions truncated).
fn numeric_date(claims: &Value, name: &str) -> Result<Option<i64>, VerifyError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| VerifyError::invalid(format!("the `{name}` claim is malformed"))),
    }
}

/// Checks the registered claims of a verified JWT and builds the principal.
fn check_claims(
    claims: &Value,
    issuer: &str,
    audience: &str,
    now: UnixTime,
    leeway: i64,
) -> Result<Principal, VerifyError> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(VerifyError::invalid(
            "the access token was not issued by a trusted issuer",
        ));
    }
    let aud: Audience = claims
        .get("aud")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| VerifyError::invalid("the access token has no audience"))?;
    if !aud.iter().any(|a| audience_matches(audience, a)) {
        return Err(VerifyError::invalid(
            "the access token is not meant for this resource (audience mismatch)",
        ));
    }
    let exp = numeric_date(claims, "exp")?
        .ok_or_else(|| VerifyError::invalid("the access token has no expiry"))?;
    if now > exp.saturating_add(leeway) {
        return Err(VerifyError::invalid("the access token expired"));
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && now.saturating_add(leeway) < nbf
    {
        return Err(VerifyError::invalid("the access token is not valid yet"));
    }
    if let Some(iat) = numeric_date(claims, "iat")?
        && iat > now.saturating_add(leeway)
    {
        return Err(VerifyError::invalid(
            "the access token was issued in the future",
        ));
    }
    Ok(Principal::new(PrincipalData {
        issuer: issuer.to_owned(),
        subject: claims.get("sub").and_then(Value::as_str).map(str::to_owned),
        client_id: client_id_from_claims(claims),
        scopes: scopes_from_claims(claims),
        audience: aud.iter().map(str::to_owned).collect(),
        expires_at: Some(exp),
        claims: claims.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_oauth_core::clock::TestClock;
    use mcp_oauth_core::jose::SigningKey;
    use serde_json::json;

    const ISS: &str = "https://as.example";
    const AUD: &str = "https://mcp.example/mcp";
    const NOW: i64 = 1_800_000_000;

    fn claims() -> Value {
        json!({
            "iss": ISS, "sub": "alice", "aud": AUD, "exp": NOW + 300, "iat": NOW,
            "jti": "j1", "client_id": "c1", "scope": "mcp files:read"
        })
    }

    fn verifier(key: &SigningKey, clock: &TestClock) -> JwtVerifier {
        JwtVerifier::builder(ISS, AUD)
            .static_jwks(JwkSet {
                keys: vec![key.public_jwk().clone()],
            })
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap()
    }

    #[test]
    fn claim_checks() {
        let ok = check_claims(&claims(), ISS, AUD, NOW, 60).unwrap();
        assert_eq!(ok.subject.as_deref(), Some("alice"));
        assert_eq!(ok.client_id.as_deref(), Some("c1"));
        assert_eq!(ok.scopes.to_string(), "files:read mcp");
        assert_eq!(ok.expires_at, Some(NOW + 300));

        let with = |k: &str, v: Value| {
            let mut c = claims();
            c[k] = v;
            check_claims(&c, ISS, AUD, NOW, 60)
        };
        assert!(with("iss", json!("https://as.example/")).is_err());
        assert!(with("aud", json!("https://mcp.example/other")).is_err());
        assert!(with("aud", json!(["x", "HTTPS://MCP.EXAMPLE/mcp"])).is_ok());
        assert!(with("aud", json!(5)).is_err());
        assert!(with("exp", json!(NOW - 61)).is_err());
        assert!(with("exp", json!(NOW - 59)).is_ok(), "within leeway");
        assert!(with("exp", json!("soon")).is_err());
        assert!(with("nbf", json!(NOW + 61)).is_err());
        assert!(with("nbf", json!(NOW + 59)).is_ok());
        assert!(with("iat", json!(NOW + 120)).is_err());
        let mut c = claims();
        c.as_object_mut().unwrap().remove("exp");
        assert!(check_claims(&c, ISS, AUD, NOW, 60).is_err());
        let mut c = claims();
        c.as_object_mut().unwrap().remove("aud");
        assert!(check_claims(&c, ISS, AUD, NOW, 60).is_err());
    }

    #[test]
    fn root_audience_accepts_trailing_slash() {
        let mut c = claims();
        c["aud"] = json!("https://mcp.example/");
        assert!(check_claims(&c, ISS, "https://mcp.example", NOW, 60).is_ok());
    }

    #[tokio::test]
    async fn verifies_signed_token_and_typ() {
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let clock = TestClock::new(NOW);
        let v = verifier(&key, &clock);
        let token = key.sign("at+jwt", &claims()).unwrap();
        assert_eq!(
            v.verify(&token).await.unwrap().subject.as_deref(),
            Some("alice")
        );
        let token = key.sign("application/AT+JWT", &claims()).unwrap();
        assert!(v.verify(&token).await.is_ok());
        let id_token = key.sign("JWT", &claims()).unwrap();
        assert!(matches!(
            v.verify(&id_token).await,
            Err(VerifyError::InvalidToken(_))
        ));
        let lax = JwtVerifier::builder(ISS, AUD)
            .static_jwks(JwkSet {
                keys: vec![key.public_jwk().clone()],
            })
            .clock(Arc::new(clock.clone()))
            .require_typ(false)
            .build()
            .unwrap();
        assert!(lax.verify(&id_token).await.is_ok());
        clock.advance(300 + 61);
        assert_eq!(
            v.verify(&key.sign("at+jwt", &claims()).unwrap()).await,
            Err(VerifyError::invalid("the access token expired"))
        );
    }

    #[tokio::test]
    async fn other_key_and_garbage_are_invalid() {
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let other = SigningKey::generate(Algorithm::ES256).unwrap();
        let clock = TestClock::new(NOW);
        let v = verifier(&key, &clock);
        let token = other.sign("at+jwt", &claims()).unwrap();
        assert!(matches!(
            v.verify(&token).await,
            Err(VerifyError::InvalidToken(_))
        ));
        for junk in ["", "a.b.c", "not a jwt", "e30.e30.e30"] {
            assert!(matches!(
                v.verify(junk).await,
                Err(VerifyError::InvalidToken(_))
            ));
        }
    }

    #[tokio::test]
    async fn restricted_algorithms() {
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let v = JwtVerifier::builder(ISS, AUD)
            .static_jwks(JwkSet {
                keys: vec![key.public_jwk().clone()],
            })
            .clock(Arc::new(TestClock::new(NOW)))
            .algorithms([Algorithm::RS256])
            .build()
            .unwrap();
        let token = key.sign("at+jwt", &claims()).unwrap();
        assert!(v.verify(&token).await.is_err());
        assert_eq!(
            JwtVerifier::builder(ISS, AUD)
                .algorithms([Algorithm::HS256])
                .build()
                .err(),
            Some(ConfigError::Algorithm("HS256".into()))
        );
    }

    #[test]
    fn build_refuses_bad_config() {
        assert!(matches!(
            JwtVerifier::builder("http://as.example", AUD).build(),
            Err(ConfigError::InsecureUrl(_))
        ));
        assert!(
            JwtVerifier::builder("http://as.example", AUD)
                .insecure_allow_http(true)
                .build()
                .is_ok()
        );
        assert!(matches!(
            JwtVerifier::builder(ISS, "not a uri").build(),
            Err(ConfigError::InvalidResource(_))
        ));
        assert!(matches!(
            JwtVerifier::builder("nope", AUD).build(),
            Err(ConfigError::InvalidIssuer(_))
        ));
    }

    #[tokio::test]
    async fn keys_without_kid_and_tokens_without_kid() {
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let mut published = key.public_jwk().clone();
        published.common.key_id = None;
        let v = JwtVerifier::builder(ISS, AUD)
            .static_jwks(JwkSet {
                keys: vec![published],
            })
            .clock(Arc::new(TestClock::new(NOW)))
            .build()
            .unwrap();
        assert!(
            v.verify(&key.sign("at+jwt", &claims()).unwrap())
                .await
                .is_ok()
        );
        let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
        header.typ = Some("at+jwt".into());
        let der = key.pkcs8_der();
        let no_kid = jsonwebtoken::encode(
            &header,
            &claims(),
            &jsonwebtoken::EncodingKey::from_ec_der(der),
        )
        .unwrap();
        assert!(v.verify(&no_kid).await.is_ok());
        let other = SigningKey::generate(Algorithm::ES256).unwrap();
        assert!(
            v.verify(&other.sign("at+jwt", &claims()).unwrap())
                .await
                .is_err()
        );
    }

    #[test]
    fn symmetric_and_encryption_keys_are_skipped() {
        let sig = SigningKey::generate(Algorithm::ES256).unwrap();
        let mut enc = sig.public_jwk().clone();
        enc.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Encryption);
        let oct: Jwk =
            serde_json::from_value(json!({"kty":"oct","k":"c2VjcmV0","kid":"h"})).unwrap();
        let entries = key_entries(&[sig.public_jwk().clone(), enc, oct]);
        assert_eq!(entries.len(), 1);
    }
}
