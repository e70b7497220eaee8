//! The one error type of this crate.
//!
//! Every message says what was tried and what the user can do about it, because the CLI prints
//! these as they are. No variant ever carries an access token, a refresh token, a client secret,
//! an authorization code or a PKCE verifier: they cannot end up in a log line or on a terminal.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One URL that was tried during discovery and what came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The URL fetched.
    pub url: String,
    /// What happened: `HTTP 404`, `invalid JSON: …`, `issuer mismatch: …`, `timed out`, …
    pub outcome: String,
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {}", self.url, self.outcome)
    }
}

/// Formats a list of attempts as `url → outcome; url → outcome`.
pub(crate) fn fmt_attempts(attempts: &[Attempt]) -> String {
    if attempts.is_empty() {
        return "nothing".to_owned();
    }
    attempts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn fmt_opt(v: &Option<String>) -> String {
    v.as_deref().map(|d| format!(" ({d})")).unwrap_or_default()
}

/// Everything that can go wrong while discovering, registering, authorizing or refreshing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A URL (from configuration or from a server) fails the URL policy: not https, http off
    /// loopback without the dev switch, user information, or not a URL at all.
    #[error(
        "refused URL {url}: {reason} (only https is allowed; http only on a loopback address with the insecure-http/dev switch)"
    )]
    UrlRefused {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A request got no complete answer in time.
    #[error(
        "request to {url} timed out after {} ms: the server did not answer in time; check that it is up, or raise the timeout",
        .timeout.as_millis()
    )]
    Timeout {
        /// The URL.
        url: String,
        /// The limit that was hit.
        timeout: Duration,
    },
    /// Connection refused, TLS failure, reset…
    #[error("request to {url} failed: {source}")]
    Transport {
        /// The URL.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: reqwest::Error,
    },
    /// The body exceeded the size limit and was not read further.
    #[error("response from {url} is larger than {limit} bytes and was refused")]
    ResponseTooLarge {
        /// The URL.
        url: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// A response that does not parse as the document or answer expected.
    #[error("{url} answered HTTP {status} with a body that is not {expected}: {detail}")]
    InvalidResponse {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What was expected (`a token response`, …).
        expected: &'static str,
        /// The parse error (never the body itself).
        detail: String,
    },
    /// No protected resource metadata was found and the legacy fallback is off.
    #[error(
        "no protected resource metadata (RFC 9728) for {server_url}; tried: {}. The server must publish it or send resource_metadata in its 401",
        fmt_attempts(.attempts)
    )]
    ResourceMetadataNotFound {
        /// The MCP server.
        server_url: String,
        /// Every URL tried.
        attempts: Vec<Attempt>,
    },
    /// The PRM `resource` does not identify the server being accessed (RFC 9728 §3.3).
    #[error(
        "the protected resource metadata at {metadata_url} names resource {resource:?}, which does not identify {server_url}; refusing to authorize (misconfigured or malicious server)"
    )]
    ResourceMismatch {
        /// The MCP server.
        server_url: String,
        /// The `resource` in the document.
        resource: String,
        /// Where the document came from.
        metadata_url: String,
    },
    /// The PRM lists no authorization server.
    #[error(
        "the protected resource metadata at {metadata_url} lists no authorization_servers; the MCP server must name at least one"
    )]
    NoAuthorizationServers {
        /// Where the document came from.
        metadata_url: String,
    },
    /// No valid authorization server metadata at any well-known URL.
    #[error(
        "no valid authorization server metadata for issuer {issuer}; tried: {}",
        fmt_attempts(.attempts)
    )]
    AuthorizationServerMetadataNotFound {
        /// The issuer (the first one, when the PRM listed several).
        issuer: String,
        /// Every URL tried, for every issuer.
        attempts: Vec<Attempt>,
    },
    /// The AS does not advertise `S256` in `code_challenge_methods_supported`.
    #[error(
        "authorization server {issuer} does not advertise PKCE S256 in code_challenge_methods_supported; MCP forbids authorizing without it"
    )]
    PkceUnsupported {
        /// The issuer.
        issuer: String,
    },
    /// The AS metadata lacks an endpoint this flow needs.
    #[error("authorization server {issuer} has no {endpoint} in its metadata")]
    MissingEndpoint {
        /// The issuer.
        issuer: String,
        /// `authorization_endpoint`, `token_endpoint`, …
        endpoint: &'static str,
    },
    /// No way to get a client id at this AS.
    #[error(
        "no client registration is possible at {issuer}: {reason}. Configure a pre-registered client id (and secret or key) for this issuer"
    )]
    NoRegistration {
        /// The issuer.
        issuer: String,
        /// What was missing.
        reason: String,
    },
    /// Dynamic client registration was refused.
    #[error("dynamic client registration at {endpoint} failed with HTTP {status}: {detail}")]
    Registration {
        /// The registration endpoint.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The RFC 7591 error code and description, or a parse error.
        detail: String,
    },
    /// An OAuth error response from a token endpoint (RFC 6749 §5.2).
    #[error("{endpoint} refused the request with HTTP {status}: {error}{}", fmt_opt(.description))]
    OAuth {
        /// The endpoint.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The error code (`invalid_grant`, …).
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// The token endpoint issued a token type this client cannot use.
    #[error("{endpoint} issued token_type {token_type:?}; only Bearer is supported")]
    UnsupportedTokenType {
        /// The endpoint.
        endpoint: String,
        /// What it sent.
        token_type: String,
    },
    /// The authorization response's `state` is missing or differs (CSRF or a stale tab).
    #[error(
        "the authorization response's state is missing or does not match the request; discarded it (start the login again)"
    )]
    StateMismatch,
    /// RFC 9207: `iss` missing while advertised, or different from the issuer used.
    #[error(
        "the authorization response's iss {received:?} does not match the authorization server {expected} (RFC 9207 mix-up defence); discarded it"
    )]
    IssuerMismatch {
        /// The issuer the request went to.
        expected: String,
        /// What came back (None: absent though the AS advertises the parameter).
        received: Option<String>,
    },
    /// The AS answered the authorization request with an error.
    #[error("authorization was refused: {error}{}", fmt_opt(.description))]
    AuthorizationDenied {
        /// The error code (`access_denied`, …).
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// The authorization response has neither `code` nor `error`.
    #[error("the authorization response carries no code")]
    MissingCode,
    /// The user denied the device authorization (RFC 8628 §3.5 `access_denied`).
    #[error("the sign-in was denied on the verification page (access_denied)")]
    DeviceAccessDenied,
    /// The device code expired before anyone approved it (RFC 8628 §3.5 `expired_token`, or
    /// `expires_in` passed).
    #[error(
        "the device code expired after {} s before the sign-in was approved; run the login again and enter the code sooner",
        .0.as_secs()
    )]
    DeviceCodeExpired(Duration),
    /// Nobody completed the authorization in time.
    #[error(
        "no authorization response arrived within {} s; open the printed URL and finish the login, or use the --no-browser mode",
        .0.as_secs()
    )]
    CallbackTimeout(Duration),
    /// The resource server kept answering 403 `insufficient_scope`.
    #[error(
        "the server still answered 403 insufficient_scope after {attempts} attempts (last requested scope {scope:?}); your account or client may not be allowed that scope"
    )]
    StepUpExhausted {
        /// How many attempts were made.
        attempts: u32,
        /// The last scope requested.
        scope: Option<String>,
    },
    /// The configured grant cannot do what was asked (e.g. step-up for a non-interactive client).
    #[error("{0}")]
    Unsupported(String),
    /// Reading or writing the credential store failed.
    #[error("credential store {}: {detail}", .path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "(memory)".into()))]
    Store {
        /// The file, if any.
        path: Option<PathBuf>,
        /// What went wrong.
        detail: String,
    },
    /// The OS keychain (Secret Service, Keychain Services, Credential Manager) could not be used:
    /// not running, locked, refused, or too slow. The detail never holds a stored value.
    #[error("keychain: {0}")]
    Keychain(String),
    /// Another process held a lock for too long.
    #[error(
        "could not take the lock {} within {} s: another mcp-oauth process is using it; if none is running, delete the file",
        .path.display(), .waited.as_secs()
    )]
    LockTimeout {
        /// The lock file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
    /// A private key could not be loaded or used.
    #[error("private key: {0}")]
    Key(String),
    /// The authorization prompt failed (stdin closed, listener error…).
    #[error("authorization prompt: {0}")]
    Prompt(String),
    /// Invalid configuration.
    #[error("configuration: {0}")]
    Config(String),
}

impl Error {
    /// The OAuth error code, when this is an OAuth error response.
    pub fn oauth_error(&self) -> Option<&str> {
        match self {
            Self::OAuth { error, .. } => Some(error),
            _ => None,
        }
    }

    pub(crate) fn store(path: Option<&std::path::Path>, detail: impl fmt::Display) -> Self {
        Self::Store {
            path: path.map(std::path::Path::to_path_buf),
            detail: detail.to_string(),
        }
    }
}

impl From<mcp_oauth_core::jose::JoseError> for Error {
    fn from(e: mcp_oauth_core::jose::JoseError) -> Self {
        Self::Key(e.to_string())
    }
}
