//! The server's typed configuration. The library never reads files or the environment; the CLI
//! hands it a TOML file's text and the `MCP_OAUTH_*` variables ([`layers`]), then its flags.

pub mod layers;
pub mod redis;
pub mod upstream;

use mcp_oauth_core::jose::Algorithm;
use mcp_oauth_core::uri::{UriParts, is_loopback_host};
use serde::Deserialize;

pub use layers::{LayerError, Layers};
pub use redis::RedisUrl;
pub use upstream::{Preset, UpstreamConfig};

/// Settings of one authorization server. Every field documents its default and why.
///
/// It deserializes itself (each field a key of the configuration file, `MCP_OAUTH_<KEY>` in the
/// environment, see [`ServerConfig::from_layers`]); a key not given keeps its default, an
/// unknown key is refused. `dev`, `issue_refresh_tokens` and `metrics_token` are not keys:
/// a program sets them (the token never sits in a file; `serve` reads it from a file named by
/// `metrics_token_file`, or from `MCP_OAUTH_METRICS_TOKEN`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default = "ServerConfig::unset")]
pub struct ServerConfig {
    /// The issuer identifier: `https://…` (no query, no fragment, no trailing slash). `http://`
    /// only on a loopback host (127.0.0.0/8, `[::1]`, `localhost`), where traffic never leaves the
    /// machine; any other `http://` issuer is refused. Deserialized, empty means not given (the
    /// program picks one, `serve` its listen address).
    pub issuer: String,
    /// Access token lifetime in seconds. Default 900 (15 minutes): short, because a JWT cannot be
    /// recalled from a resource server that does not introspect.
    pub access_token_ttl: i64,
    /// Authorization code lifetime in seconds. Default 60 (RFC 6749 §4.1.2 recommends ≤ 10 min).
    pub code_ttl: i64,
    /// Lifetime of a device authorization (RFC 8628 §3.2 `expires_in`: its device code and user
    /// code) in seconds. Default 600 (10 minutes): time to walk to a browser and sign in, short
    /// enough that few user codes are live for a guesser at any time (see `docs/security.md`).
    /// At most 1 800.
    pub device_code_ttl: i64,
    /// The polling interval a device client is told to keep (RFC 8628 §3.2 `interval`), in
    /// seconds. Default 5, the RFC's default; 1 to 60. A poll sooner gets `slow_down` and 5 s more.
    pub device_poll_interval: i64,
    /// User codes one client address (IPv6: one /64) and, separately, one signed-in user may try
    /// on the device page per minute, per instance. Default 5: a person mistyping needs two or
    /// three; a guesser of the 20^8 user codes gets 7 200 tries a day (see `docs/security.md`).
    /// At least 1.
    pub device_user_code_attempts_per_minute: u32,
    /// Idle lifetime of a refresh token in seconds. Default 30 days.
    pub refresh_token_ttl: i64,
    /// Absolute lifetime of a refresh-token family in seconds. Default 90 days.
    pub refresh_family_ttl: i64,
    /// Seconds after a rotation in which a retried refresh with the same token gets the same
    /// successor instead of revoking the family. Default 10: long enough for a lost response and a
    /// retry, short enough that a thief racing the client gains nothing.
    pub refresh_grace: i64,
    /// Browser session lifetime in seconds. Default 8 hours.
    pub session_ttl: i64,
    /// How old a DPoP proof's `iat` may be at `/token`, in seconds (RFC 9449 §11.1); its `jti` is
    /// remembered that long. Default 60. Proofs up to 5 s in the future are accepted too.
    pub dpop_proof_lifetime: i64,
    /// Whether DPoP proofs at `/token` must carry a server nonce (RFC 9449 §8): a proof without
    /// one is answered `use_dpop_nonce` with a `DPoP-Nonce`, so that a proof cannot be made ahead
    /// of time. Default false: the `iat` window and single-use `jti` already bound replay, and
    /// the nonce costs every client a round trip.
    pub dpop_nonce_required: bool,
    /// Whether every client must push its authorization requests to `/par` (RFC 9126 §5).
    /// Default false; a client can be required to by its own
    /// `require_pushed_authorization_requests` metadata.
    pub require_pushed_authorization_requests: bool,
    /// Signing algorithm for access tokens. Default ES256.
    #[serde(deserialize_with = "signing_alg")]
    pub signing_alg: Algorithm,
    /// Development mode: on a plain-http loopback issuer, sends the session cookie without the
    /// `__Host-` prefix and `Secure` (which some browsers refuse over http). Default false:
    /// outside it the cookie is always `__Host-…; Secure`.
    #[serde(skip)]
    pub dev: bool,
    /// Largest request body accepted by the form endpoints, in bytes. Default 64 KiB.
    pub max_body_bytes: usize,
    /// Failed logins per account or IP before back-off starts. Default 5.
    pub login_free_attempts: u32,
    /// Longest login back-off in seconds. Default 900.
    pub login_max_backoff: u64,
    /// Whether refresh tokens are issued to clients registered for the refresh grant. Default true.
    #[serde(skip)]
    pub issue_refresh_tokens: bool,
    /// Who may register clients at `/register` (RFC 7591). Default [`RegistrationPolicy::Open`]:
    /// MCP clients meet servers they have never seen, and an open registration only yields a
    /// client that still needs a user's consent for anything.
    pub registration: RegistrationPolicy,
    /// Registrations per minute accepted from one IP address (IPv6: one /64). Default 10: enough
    /// for a person trying clients, too few for a flood to fill the database.
    pub registration_rate_limit: u32,
    /// Seconds after which a dynamically registered client that never obtained a token is
    /// treated as unknown and purged. Default 86 400 (24 hours): a registration that was never used
    /// is usually abandoned, and clients register again on `invalid_client`.
    pub unused_registration_ttl: i64,
    /// Milliseconds a client or resource record read from the store is reused before it is read
    /// again (see [`crate::record_cache`]). Default 1 000: changes made by another process or
    /// instance take effect within a second; changes made through this server at once. 0 turns
    /// the cache off.
    pub record_cache_ttl_ms: u64,
    /// Whether an `https` URL `client_id` is fetched as a Client ID Metadata Document. Default
    /// true (MCP 2025-11-25 recommends it).
    pub cimd_enabled: bool,
    /// Lets metadata documents and client JWKS be fetched from loopback addresses (and, for
    /// CIMD, from `http://` loopback URLs). Default false. For local development and tests only:
    /// it never permits private, link-local or other special-use ranges.
    pub cimd_allow_loopback: bool,
    /// Hosts whose metadata documents are accepted; empty means any host. An entry is a host name
    /// (`app.example`) or a wildcard for its subdomains (`*.app.example`). Default empty.
    pub cimd_allow_hosts: Vec<String>,
    /// Hosts whose metadata documents are refused, in the same syntax; wins over the allow list.
    /// Default empty.
    pub cimd_deny_hosts: Vec<String>,
    /// Shortest time a fetched document is cached, in seconds, whatever its `Cache-Control`
    /// says (except `no-store`). Default 300.
    pub cimd_cache_min_ttl: i64,
    /// Longest time a fetched document is cached, in seconds. Default 86 400 (SEP-991).
    pub cimd_cache_max_ttl: i64,
    /// Connect timeout of outbound fetches (metadata documents, client JWKS), in milliseconds.
    /// Default 2 000.
    pub fetch_connect_timeout_ms: u64,
    /// Total timeout of an outbound fetch, in milliseconds. Default 5 000: a slow host must not
    /// hold an authorization request open.
    pub fetch_timeout_ms: u64,
    /// Longest lifetime (`exp` − now) accepted in a `private_key_jwt` client assertion, in
    /// seconds. Default 300: assertions are made per request, and a short life bounds the replay
    /// store.
    pub assertion_max_lifetime: i64,
    /// Shortest interval between two fetches of one client's `jwks_uri` triggered by an unknown
    /// `kid`, in seconds. Default 60: a key rollover is picked up quickly, a flood of made-up kids
    /// cannot turn the server into a fetch amplifier.
    pub jwks_refetch_interval: i64,
    /// Seconds an audit event is kept before the maintenance round purges it. Default 7 776 000
    /// (90 days): long enough to investigate an incident noticed late, short enough that the
    /// table stays small.
    pub audit_retention: i64,
    /// Token requests per minute from one client address (IPv6: one /64), per instance; 0 for
    /// no limit. Default 2 400 000 (40 000/s): above what one instance serves (about 10 000
    /// client-credentials tokens/s on one core in `bench/`), so only a runaway caller meets it.
    pub token_rate_limit_per_ip: u32,
    /// Token requests per minute from one authenticated client, per instance; 0 for no limit.
    /// Default 1 200 000 (20 000/s), for the same reason.
    pub token_rate_limit_per_client: u32,
    /// Authorization requests per minute from one client address, per instance; 0 for no limit.
    /// Default 6 000 (100/s): a person needs a handful, a browser-flow benchmark from one address
    /// a few dozen per second.
    pub authorize_rate_limit_per_ip: u32,
    /// Login form posts per minute from one client address, per instance, on top of the failure
    /// back-off; 0 for no limit. Default 3 000 (50/s): bounds the Argon2id work one address can
    /// cause to about one core.
    pub login_rate_limit_per_ip: u32,
    /// Seconds after which the maintenance round rotates the signing key (the next key is
    /// published at once and signs one access-token lifetime later); 0 turns the schedule off.
    /// Default 2 592 000 (30 days): a key that leaks unnoticed stops being useful within a
    /// month, and a rotation costs the resource servers nothing (they see the key published
    /// before it signs).
    pub key_rotation_interval: i64,
    /// Seconds between two re-reads of the signing keys from the store
    /// ([`crate::AuthorizationServer::spawn_key_reload`]), so that keys another instance or
    /// `mcp-oauth keys rotate` created or retired are published and accepted here. Default 60;
    /// at least 1.
    pub key_reload_interval: u64,
    /// A bearer token `GET /metrics` requires on the main listener (compared in constant time).
    /// Default `None`: then the main listener serves `/metrics` only in `dev`, and a deployment
    /// exposes metrics on a separate, private listener ([`crate::AuthorizationServer::metrics_router`],
    /// `serve --metrics-addr`) or sets a token. Request counts, latencies and login failures
    /// tell an attacker what works; they are not for the public internet.
    #[serde(skip)]
    pub metrics_token: Option<String>,
    /// Browser origins allowed to call the metadata, JWKS, registration, token and revocation
    /// endpoints from a page (CORS, see [`crate::cors`]). Empty (the default): any origin, as
    /// `Access-Control-Allow-Origin: *`, because those endpoints use no cookies and every request
    /// carries its own credentials. A list narrows it: only those origins are echoed back.
    /// `/authorize`, the login and consent pages, introspection and the operator endpoints never
    /// send CORS headers, whatever this says.
    pub cors_allowed_origins: Vec<String>,
    /// URI schemes admitted in redirect URIs besides https, loopback http and reverse-domain
    /// private-use schemes (RFC 8252 §7.1): the non-conforming schemes of known native clients.
    /// Default `["cursor"]` (Cursor registers `cursor://anysphere.cursor-mcp/oauth/callback`).
    /// Schemes that run code or read files (`javascript`, `data`, `file`, `vbscript`, …) and
    /// `http`/`https` cannot be listed: see [`mcp_oauth_core::redirect`].
    pub redirect_uri_schemes: Vec<String>,
    /// The identity providers people may sign in with (`[[upstream]]` blocks, see
    /// [`upstream`]); default none.
    pub upstream: Vec<UpstreamConfig>,
    /// Whether the login page offers the password form. Default `true`; `false` leaves only
    /// the upstream buttons (and `POST /login` refuses), for a deployment whose accounts all
    /// live at an identity provider. A property of this server's login page, so a top-level key
    /// rather than one of any single upstream block.
    pub local_login: bool,
    /// A Redis every instance shares (`redis://host:port/db` or `rediss://` for TLS), for the
    /// rate limits, the login back-off and the single-use `jti`s of client assertions and DPoP
    /// proofs (see [`crate::shared`]). Default empty: each instance counts alone and the `jti`s
    /// stay in the database, which is right for one instance. With several instances behind one
    /// address, set it, or an attacker gets each instance's budget. Never printed (it may carry
    /// a password).
    pub redis_url: RedisUrl,
    /// How long a request waits for Redis, in milliseconds, per call (connecting included).
    /// Default 50: Redis answers in well under a millisecond on a local network, and a request
    /// must not hang on it. Past it, the limits decide on this instance's own counts and the
    /// replay checks refuse (`503`); at most 5 000.
    pub redis_timeout_ms: u64,
    /// The prefix of every key this server writes to Redis. Default `mcp-oauth:`; give each
    /// deployment sharing one Redis its own.
    pub redis_key_prefix: String,
    /// The CA certificates (PEM) a `rediss://` Redis's certificate must chain to, instead of the
    /// system's trust store: for a Redis with a private CA, or an image without a trust store.
    pub redis_ca_file: Option<std::path::PathBuf>,
}

/// Who may use dynamic client registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegistrationPolicy {
    /// Anyone may register (rate-limited per IP).
    #[default]
    Open,
    /// A registrant must present an initial access token (`mcp-oauth registration-tokens add`).
    Token,
    /// No dynamic registration: `/register` is not served and not advertised.
    Off,
}

impl RegistrationPolicy {
    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Token => "token",
            Self::Off => "off",
        }
    }
}

impl<'de> Deserialize<'de> for RegistrationPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// `signing_alg` by its JOSE name, any case.
fn signing_alg<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Algorithm, D::Error> {
    let name = String::deserialize(d)?;
    mcp_oauth_core::jose::parse_signing_algorithm(&name).ok_or_else(|| {
        serde::de::Error::custom(format!("`{name}` is not ES256, EdDSA, RS256 or PS256"))
    })
}

impl std::str::FromStr for RegistrationPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "open" => Ok(Self::Open),
            "token" => Ok(Self::Token),
            "off" => Ok(Self::Off),
            other => Err(format!("`{other}` is not open, token or off")),
        }
    }
}

/// A configuration value that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration `{key}`: {message}")]
pub struct ConfigError {
    /// The offending key.
    pub key: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl ServerConfig {
    /// Defaults for `issuer`.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            access_token_ttl: 900,
            code_ttl: 60,
            device_code_ttl: 600,
            device_poll_interval: 5,
            device_user_code_attempts_per_minute: 5,
            refresh_token_ttl: 30 * 86_400,
            refresh_family_ttl: 90 * 86_400,
            refresh_grace: 10,
            session_ttl: 8 * 3_600,
            dpop_proof_lifetime: 60,
            dpop_nonce_required: false,
            require_pushed_authorization_requests: false,
            signing_alg: Algorithm::ES256,
            dev: false,
            max_body_bytes: 64 * 1024,
            login_free_attempts: 5,
            login_max_backoff: 900,
            issue_refresh_tokens: true,
            registration: RegistrationPolicy::Open,
            registration_rate_limit: 10,
            unused_registration_ttl: 86_400,
            record_cache_ttl_ms: 1_000,
            cimd_enabled: true,
            cimd_allow_loopback: false,
            cimd_allow_hosts: Vec::new(),
            cimd_deny_hosts: Vec::new(),
            cimd_cache_min_ttl: 300,
            cimd_cache_max_ttl: 86_400,
            fetch_connect_timeout_ms: 2_000,
            fetch_timeout_ms: 5_000,
            assertion_max_lifetime: 300,
            jwks_refetch_interval: 60,
            audit_retention: 90 * 86_400,
            token_rate_limit_per_ip: 2_400_000,
            token_rate_limit_per_client: 1_200_000,
            authorize_rate_limit_per_ip: 6_000,
            login_rate_limit_per_ip: 3_000,
            key_rotation_interval: 30 * 86_400,
            key_reload_interval: 60,
            metrics_token: None,
            cors_allowed_origins: Vec::new(),
            redirect_uri_schemes: mcp_oauth_core::redirect::DEFAULT_EXTRA_SCHEMES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            upstream: Vec::new(),
            local_login: true,
            redis_url: RedisUrl::default(),
            redis_timeout_ms: 50,
            redis_key_prefix: "mcp-oauth:".to_owned(),
            redis_ca_file: None,
        }
    }

    /// The defaults with no issuer yet: what a deserialized configuration starts from.
    fn unset() -> Self {
        Self::new("")
    }

    /// The configuration `layers` give: the file's keys, the `MCP_OAUTH_*` variables over
    /// them, the defaults for the rest (issuer empty if neither names one). Not yet validated:
    /// a program applies its flags, then calls [`ServerConfig::validate`].
    pub fn from_layers(layers: &Layers) -> Result<Self, LayerError> {
        layers.deserialize()
    }

    /// The interval of [`crate::AuthorizationServer::spawn_key_reload`].
    pub fn key_reload_period(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.key_reload_interval)
    }

    /// Checks the configuration and normalises the issuer (a lone trailing `/` is removed).
    pub fn validate(mut self) -> Result<Self, ConfigError> {
        let err = |key, message: &str| ConfigError {
            key,
            message: message.to_owned(),
        };
        if self.issuer.ends_with('/') {
            self.issuer.pop();
        }
        let parts = UriParts::split(&self.issuer)
            .ok_or_else(|| err("issuer", "must be an absolute https URL"))?;
        if url::Url::parse(&self.issuer).is_err() {
            return Err(err("issuer", "must be an absolute https URL"));
        }
        if parts.query.is_some() || parts.fragment.is_some() || parts.has_userinfo() {
            return Err(err(
                "issuer",
                "must not contain a query, a fragment or user information (RFC 8414 §2)",
            ));
        }
        match parts.scheme {
            "https" => {}
            "http" if is_loopback_host(parts.host()) => {}
            "http" => {
                return Err(err(
                    "issuer",
                    "http:// is only allowed on a loopback address (127.0.0.1, [::1], localhost); use https",
                ));
            }
            _ => return Err(err("issuer", "must use https")),
        }
        for (key, v) in [
            ("access_token_ttl", self.access_token_ttl),
            ("code_ttl", self.code_ttl),
            ("refresh_token_ttl", self.refresh_token_ttl),
            ("refresh_family_ttl", self.refresh_family_ttl),
            ("session_ttl", self.session_ttl),
        ] {
            if v <= 0 {
                return Err(err(key, "must be a positive number of seconds"));
            }
        }
        if !(1..=1_800).contains(&self.device_code_ttl) {
            return Err(err(
                "device_code_ttl",
                "must be 1 to 1800 seconds (a user code lives this long for guessers too)",
            ));
        }
        if !(1..=60).contains(&self.device_poll_interval) {
            return Err(err("device_poll_interval", "must be 1 to 60 seconds"));
        }
        if self.device_user_code_attempts_per_minute == 0 {
            return Err(err(
                "device_user_code_attempts_per_minute",
                "must be at least 1 (user codes are only guessable with a limit)",
            ));
        }
        if self.code_ttl > 600 {
            return Err(err(
                "code_ttl",
                "must be at most 600 seconds (RFC 6749 §4.1.2)",
            ));
        }
        if !(1..=600).contains(&self.dpop_proof_lifetime) {
            return Err(err(
                "dpop_proof_lifetime",
                "must be between 1 and 600 seconds",
            ));
        }
        if self.refresh_grace < 0 || self.refresh_grace > 300 {
            return Err(err("refresh_grace", "must be between 0 and 300 seconds"));
        }
        for (key, v) in [
            ("unused_registration_ttl", self.unused_registration_ttl),
            ("cimd_cache_min_ttl", self.cimd_cache_min_ttl),
            ("cimd_cache_max_ttl", self.cimd_cache_max_ttl),
            ("assertion_max_lifetime", self.assertion_max_lifetime),
            ("audit_retention", self.audit_retention),
        ] {
            if v <= 0 {
                return Err(err(key, "must be a positive number of seconds"));
            }
        }
        if self.cimd_cache_min_ttl > self.cimd_cache_max_ttl {
            return Err(err(
                "cimd_cache_min_ttl",
                "must not be larger than cimd_cache_max_ttl",
            ));
        }
        if self.registration_rate_limit == 0 {
            return Err(err(
                "registration_rate_limit",
                "must be at least 1 (use registration = \"off\" to disable registration)",
            ));
        }
        if self.key_rotation_interval != 0 && self.key_rotation_interval < 2 * self.access_token_ttl
        {
            return Err(err(
                "key_rotation_interval",
                "must be 0 (off) or at least two access-token lifetimes",
            ));
        }
        self.redis_url.check().map_err(|m| err("redis_url", m))?;
        if self.redis_ca_file.is_some() && !self.redis_url.is_tls() {
            return Err(err(
                "redis_ca_file",
                "is for a rediss:// redis_url (TLS) only",
            ));
        }
        redis::check_timeout_and_prefix(self.redis_timeout_ms, &self.redis_key_prefix)
            .map_err(|(key, m)| err(key, m))?;
        if self.key_reload_interval == 0 {
            return Err(err("key_reload_interval", "must be at least 1 second"));
        }
        if self.jwks_refetch_interval < 0 {
            return Err(err("jwks_refetch_interval", "must not be negative"));
        }
        for (key, v) in [
            ("fetch_connect_timeout_ms", self.fetch_connect_timeout_ms),
            ("fetch_timeout_ms", self.fetch_timeout_ms),
        ] {
            if v == 0 || v > 60_000 {
                return Err(err(key, "must be between 1 and 60000 milliseconds"));
            }
        }
        for (key, list) in [
            ("cimd_allow_hosts", &mut self.cimd_allow_hosts),
            ("cimd_deny_hosts", &mut self.cimd_deny_hosts),
        ] {
            for h in list.iter_mut() {
                *h = h.trim().to_ascii_lowercase();
                let name = h.strip_prefix("*.").unwrap_or(h);
                if name.is_empty()
                    || !name.bytes().all(|b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
                    })
                {
                    return Err(err(
                        key,
                        "entries are host names, optionally `*.` for subdomains",
                    ));
                }
            }
        }
        for o in &mut self.cors_allowed_origins {
            *o = crate::cors::normalise_origin(o).map_err(|m| err("cors_allowed_origins", m))?;
        }
        for s in &mut self.redirect_uri_schemes {
            *s = mcp_oauth_core::redirect::normalise_extra_scheme(s)
                .map_err(|e| err("redirect_uri_schemes", &e.to_string()))?;
        }
        upstream::validate_all(&mut self.upstream).map_err(|m| err("upstream", &m))?;
        if !self.local_login && self.upstream.is_empty() {
            return Err(err(
                "local_login",
                "cannot be false without an [[upstream]] block: nobody could sign in",
            ));
        }
        if !mcp_oauth_core::jose::SIGNING_ALGORITHMS.contains(&self.signing_alg) {
            return Err(err("signing_alg", "must be ES256, EdDSA, RS256 or PS256"));
        }
        Ok(self)
    }

    /// The issuer's path (`""` or `/tenant`), under which the endpoints are mounted.
    pub fn issuer_path(&self) -> &str {
        UriParts::split(&self.issuer).map_or("", |p| p.path)
    }

    /// Whether the issuer is served over https.
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// Whether the session cookie carries `Secure` and the `__Host-` prefix: always, except in
    /// development mode on a plain-http issuer.
    pub fn secure_cookie(&self) -> bool {
        self.is_https() || !self.dev
    }

    /// The registration endpoint, when registration is on.
    pub fn registration_endpoint(&self) -> Option<String> {
        (self.registration != RegistrationPolicy::Off).then(|| self.endpoint("/register"))
    }

    /// The absolute URL of an endpoint (`/token` → `https://issuer/token`).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_rules() {
        assert!(ServerConfig::new("https://auth.example").validate().is_ok());
        assert_eq!(
            ServerConfig::new("https://auth.example/")
                .validate()
                .unwrap()
                .issuer,
            "https://auth.example"
        );
        assert!(ServerConfig::new("http://auth.example").validate().is_err());
        assert!(ServerConfig::new("http://10.0.0.1").validate().is_err());
        assert!(
            ServerConfig::new("http://127.0.0.1:8080")
                .validate()
                .is_ok()
        );
        assert!(ServerConfig::new("http://[::1]:8080").validate().is_ok());
        assert!(
            ServerConfig::new("http://localhost:8080")
                .validate()
                .is_ok()
        );
        assert!(
            ServerConfig::new("https://a.example?x=1")
                .validate()
                .is_err()
        );
        assert!(ServerConfig::new("https://a.example#f").validate().is_err());
        assert!(ServerConfig::new("ftp://a.example").validate().is_err());
    }

    #[test]
    fn a_redis_ca_file_needs_a_tls_url() {
        let with = |url: &str| {
            let mut c = ServerConfig::new("https://a.example");
            c.redis_url = RedisUrl::new(url);
            c.redis_ca_file = Some("/etc/redis/ca.pem".into());
            c.validate()
        };
        assert!(with("rediss://cache.internal:6380/0").is_ok());
        assert!(with("REDISS://cache.internal").is_ok());
        assert_eq!(
            with("redis://cache.internal:6379").unwrap_err().key,
            "redis_ca_file"
        );
        assert_eq!(with("").unwrap_err().key, "redis_ca_file");
    }

    #[test]
    fn registration_and_fetch_settings() {
        let c = ServerConfig::new("https://a.example").validate().unwrap();
        assert_eq!(c.registration, RegistrationPolicy::Open);
        assert_eq!(
            c.registration_endpoint().as_deref(),
            Some("https://a.example/register")
        );
        let mut c = ServerConfig::new("https://a.example");
        c.registration = "OFF".parse().unwrap();
        assert_eq!(c.validate().unwrap().registration_endpoint(), None);
        assert!("sometimes".parse::<RegistrationPolicy>().is_err());
        let mut c = ServerConfig::new("https://a.example");
        c.cimd_cache_min_ttl = 100_000;
        assert_eq!(c.validate().unwrap_err().key, "cimd_cache_min_ttl");
        let mut c = ServerConfig::new("https://a.example");
        c.cimd_deny_hosts = vec![" *.Evil.Example ".into()];
        assert_eq!(
            c.validate().unwrap().cimd_deny_hosts,
            vec!["*.evil.example"]
        );
        let mut c = ServerConfig::new("https://a.example");
        c.cimd_allow_hosts = vec!["a b".into()];
        assert_eq!(c.validate().unwrap_err().key, "cimd_allow_hosts");
        let mut c = ServerConfig::new("https://a.example");
        c.fetch_timeout_ms = 0;
        assert_eq!(c.validate().unwrap_err().key, "fetch_timeout_ms");
    }

    fn from_toml(text: &str) -> Result<ServerConfig, LayerError> {
        ServerConfig::from_layers(&Layers::from_toml(text).unwrap())
    }

    #[test]
    fn keys_deserialize_over_the_defaults() {
        let c = from_toml("access_token_ttl = 300\nsigning_alg = \"EdDSA\"").unwrap();
        assert_eq!(c.access_token_ttl, 300);
        assert_eq!(c.signing_alg, Algorithm::EdDSA);
        assert_eq!(c.code_ttl, 60, "a key not given keeps its default");
        assert!(c.issue_refresh_tokens && !c.dev && c.metrics_token.is_none());
        assert_eq!(c.issuer, "", "no issuer given");
        let c = from_toml(
            "registration = \"token\"\ncimd_deny_hosts = [\"*.evil.example\"]\ncimd_allow_loopback = true",
        )
        .unwrap();
        assert_eq!(c.registration, RegistrationPolicy::Token);
        assert_eq!(c.cimd_deny_hosts, vec!["*.evil.example"]);
        assert!(c.cimd_allow_loopback);
        let c = from_toml(
            "cors_allowed_origins = [\"http://localhost:6274\"]\nredirect_uri_schemes = []",
        )
        .unwrap();
        assert_eq!(c.cors_allowed_origins, vec!["http://localhost:6274"]);
        assert!(c.redirect_uri_schemes.is_empty());
        assert_eq!(
            ServerConfig::new("https://a.example").redirect_uri_schemes,
            vec!["cursor"]
        );
        assert_eq!(from_toml("").unwrap().redirect_uri_schemes, vec!["cursor"]);
    }

    #[test]
    fn bad_keys_and_values_are_named() {
        let e = from_toml("registration = \"maybe\"").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration `registration`: `maybe` is not open, token or off"
        );
        let e = from_toml("signing_alg = \"HS256\"").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration `signing_alg`: `HS256` is not ES256, EdDSA, RS256 or PS256"
        );
        for key in [
            "acces_token_ttl",
            "dev",
            "metrics_token",
            "issue_refresh_tokens",
        ] {
            let e = from_toml(&format!("{key} = 5")).unwrap_err();
            assert_eq!(e, LayerError::UnknownKey(key.into()));
        }
        let layers = Layers::new().with_env([
            ("MCP_OAUTH_SIGNING_ALG", "ps256"),
            ("MCP_OAUTH_REGISTRATION", "off"),
            ("MCP_OAUTH_CIMD_ALLOW_HOSTS", "a.example,b.example"),
            ("MCP_OAUTH_REFRESH_GRACE", "0"),
            ("MCP_OAUTH_DEV", "true"),
        ]);
        let c = ServerConfig::from_layers(&layers).unwrap();
        assert_eq!(c.signing_alg, Algorithm::PS256);
        assert_eq!(c.registration, RegistrationPolicy::Off);
        assert_eq!(c.cimd_allow_hosts, vec!["a.example", "b.example"]);
        assert_eq!(c.refresh_grace, 0);
        assert!(!c.dev, "dev is the program's, not a key");
        let e = ServerConfig::from_layers(
            &Layers::new().with_env([("MCP_OAUTH_ACCESS_TOKEN_TTL", "soon")]),
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("invalid value for MCP_OAUTH_ACCESS_TOKEN_TTL (`access_token_ttl`)"),
            "{e}"
        );
        let mut c = ServerConfig::new("https://a.example");
        c.key_reload_interval = 0;
        assert_eq!(c.validate().unwrap_err().key, "key_reload_interval");
    }

    #[test]
    fn issuer_path_and_endpoints() {
        let c = ServerConfig::new("https://a.example/tenant")
            .validate()
            .unwrap();
        assert_eq!(c.issuer_path(), "/tenant");
        assert_eq!(c.endpoint("/token"), "https://a.example/tenant/token");
    }
}
