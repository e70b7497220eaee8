//! The typed configuration of a [`crate::TokenManager`]. The library never reads the
//! environment or files for it; the CLI builds one from its flags and config file.

use crate::enterprise::EnterpriseConfig;
use crate::fetch::HttpSettings;
use crate::registration::{ClientRegistration, RegistrationConfig};
use std::time::Duration;

/// How tokens are obtained when none is stored.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum GrantMode {
    /// A user authorizes in a browser: authorization code + PKCE (the default).
    #[default]
    AuthorizationCode,
    /// Machine to machine: the client credentials grant with pre-registered credentials.
    ClientCredentials,
    /// Enterprise-managed: an ID-JAG from the IdP, redeemed with the JWT-bearer grant.
    Enterprise(Box<EnterpriseConfig>),
    /// Workload identity federation (SEP-1933): an RFC 7523 JWT-bearer grant with a JWT the
    /// workload's platform issued (its `aud` is the MCP authorization server), with the
    /// pre-registered client. A refused assertion is reported, never retried.
    JwtBearer(mcp_oauth_core::secret::Secret),
    /// A user authorizes on another device (RFC 8628, the device authorization grant): the
    /// prompt shows a code and where to enter it ([`crate::AuthorizationPrompt::show_device_code`]),
    /// and the client polls. For machines without a usable browser (SSH, containers).
    DeviceCode,
}

impl GrantMode {
    /// The name recorded with a stored token ([`crate::store::TokenKey::grant`]): tokens are
    /// only reused by a manager running the same grant, so that one identity is never answered
    /// with another's token.
    pub fn key_name(&self) -> &'static str {
        match self {
            // A person's delegated tokens either way: a later browser-mode command uses (and
            // refreshes) the tokens a device sign-in stored, and the other way round.
            Self::AuthorizationCode | Self::DeviceCode => "authorization_code",
            Self::ClientCredentials => "client_credentials",
            Self::Enterprise(_) => "id_jag",
            Self::JwtBearer(_) => "jwt_bearer",
        }
    }
}

/// Everything a token manager needs to know, with secure defaults.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub(crate) http: HttpSettings,
    pub(crate) registration: RegistrationConfig,
    pub(crate) grant: GrantMode,
    pub(crate) scope: Option<String>,
    pub(crate) refresh_skew: i64,
    pub(crate) callback_timeout: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) legacy_fallback: bool,
    pub(crate) dpop: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        Self {
            http: HttpSettings::default(),
            registration: RegistrationConfig {
                pre_registered: Vec::new(),
                client_metadata_document_url: None,
                allow_dynamic: true,
                client_name: "mcp-oauth".to_owned(),
            },
            grant: GrantMode::AuthorizationCode,
            scope: None,
            refresh_skew: 60,
            callback_timeout: Duration::from_secs(300),
            max_attempts: 3,
            legacy_fallback: true,
            dpop: false,
        }
    }
}

impl ClientConfig {
    /// The defaults: https only, 10 s timeouts, 1 MiB bodies, DCR allowed, code flow.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses DPoP (RFC 9449) with authorization servers that advertise ES256 in
    /// `dpop_signing_alg_values_supported`: a key per server kept with its token in the
    /// credential store, a proof on every token and resource request, server nonces retried.
    /// Default off: a DPoP-bound token cannot be used as a bearer token (`mcp-oauth token` piped
    /// into `curl`, say).
    pub fn dpop(mut self, enabled: bool) -> Self {
        self.dpop = enabled;
        self
    }

    /// Allows `http://` on loopback addresses (development and tests only).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.http.allow_insecure_http = allow;
        self
    }

    /// The timeout of each OAuth HTTP request (default 10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.http.timeout = timeout;
        self
    }

    /// The largest response body read (default 1 MiB).
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.http.max_response_bytes = limit;
        self
    }

    /// The `MCP-Protocol-Version` sent on discovery requests (default `2025-11-25`).
    pub fn protocol_version(mut self, version: impl Into<String>) -> Self {
        self.http.protocol_version = version.into();
        self
    }

    /// Adds pre-registered client credentials (tried before CIMD and DCR).
    pub fn pre_registered(mut self, client: ClientRegistration) -> Self {
        self.registration.pre_registered.push(client);
        self
    }

    /// This client's Client ID Metadata Document URL (used when the AS supports CIMD).
    pub fn client_metadata_document_url(mut self, url: impl Into<String>) -> Self {
        self.registration.client_metadata_document_url = Some(url.into());
        self
    }

    /// Whether RFC 7591 dynamic registration may be used (default true).
    pub fn dynamic_registration(mut self, allow: bool) -> Self {
        self.registration.allow_dynamic = allow;
        self
    }

    /// `client_name` sent in dynamic registration (default `mcp-oauth`).
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.registration.client_name = name.into();
        self
    }

    /// How tokens are obtained (default: authorization code).
    pub fn grant(mut self, grant: GrantMode) -> Self {
        self.grant = grant;
        self
    }

    /// A fixed scope to request instead of the MCP selection strategy.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// Refresh this many seconds before expiry (default 60).
    pub fn refresh_skew(mut self, seconds: i64) -> Self {
        self.refresh_skew = seconds;
        self
    }

    /// How long to wait for the user to finish authorizing (default 300 s).
    pub fn callback_timeout(mut self, timeout: Duration) -> Self {
        self.callback_timeout = timeout;
        self
    }

    /// How many times one request is tried with a token while the server answers 403
    /// `insufficient_scope` (default 3; each retry follows a step-up authorization).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Whether a server without protected resource metadata is treated as a 2025-03-26 server
    /// (default true).
    pub fn legacy_fallback(mut self, enabled: bool) -> Self {
        self.legacy_fallback = enabled;
        self
    }

    /// The HTTP settings.
    pub fn http_settings(&self) -> &HttpSettings {
        &self.http
    }
}
