//! The error types of the guard: why a token was not accepted ([`VerifyError`]), why a request
//! was refused ([`AuthError`]) and why a configuration was refused ([`ConfigError`]).
//!
//! Only [`crate::response`] turns an [`AuthError`] into an HTTP response, so every refusal has the
//! same shape. Descriptions carried by [`VerifyError::InvalidToken`] are sent to the peer as
//! `error_description`: they say what was wrong with the token, never how the server is set up.
//! Internal details go to the log.

use mcp_oauth_core::ScopeSet;

/// Why a verifier did not produce a [`crate::Principal`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is malformed, badly signed, expired, not yet valid, for another audience or
    /// another issuer, or unknown to the issuer. Becomes `401 error="invalid_token"`.
    /// The text is safe to send to the client.
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// The issuer (metadata, JWKS or introspection endpoint) could not be reached or answered
    /// nonsense, so the token could not be judged. Becomes `503` with a JSON body: the client is
    /// not at fault and must not be sent to re-authorize. The text is for the log only.
    #[error("temporarily_unavailable: {0}")]
    Unavailable(String),
}

impl VerifyError {
    /// An [`VerifyError::InvalidToken`] with a description for the client.
    pub fn invalid(description: impl Into<String>) -> Self {
        Self::InvalidToken(description.into())
    }

    /// An [`VerifyError::Unavailable`] with a description for the log.
    pub fn unavailable(description: impl Into<String>) -> Self {
        Self::Unavailable(description.into())
    }
}

/// Why the guard refused a request. Rendered by [`crate::response::refusal`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No bearer token in the request: `401` with a challenge and no `error` (RFC 6750 §3.1).
    #[error("unauthorized: no bearer token")]
    MissingToken {
        /// The scopes this request needs, sent as the challenge's `scope` when not empty.
        needed: ScopeSet,
    },
    /// A malformed or repeated `Authorization` header, or a token sent in the query string or
    /// a form body: `400 error="invalid_request"`.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// The token was not accepted: `401 error="invalid_token"`.
    #[error("invalid_token: {description}")]
    InvalidToken {
        /// Sent as `error_description`.
        description: String,
        /// The scopes this request needs, sent as `scope` when not empty.
        needed: ScopeSet,
    },
    /// A DPoP refusal (RFC 9449 §7.1): the scheme does not fit the token's binding, or the proof
    /// is missing or wrong: `401` with a `DPoP` challenge.
    #[error("{}: {}", .0.code, .0.description)]
    Dpop(DpopRefusal),
    /// The token is valid but lacks scopes: `403 error="insufficient_scope"`.
    #[error("insufficient_scope: {scope}")]
    InsufficientScope {
        /// The step-up scope set to request (see [`crate::ScopePolicy::step_up`]).
        scope: ScopeSet,
    },
    /// The issuer could not be reached to judge the token: `503`.
    #[error("temporarily_unavailable")]
    Unavailable,
    /// The request body is larger than the guard reads: `413` with a JSON-RPC error.
    #[error("request body larger than {limit} bytes")]
    BodyTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The request body could not be read (the client went away or sent a broken stream).
    #[error("invalid_request: request body could not be read")]
    BodyUnreadable,
    /// A body the policy must read is encoded or labelled so that it could only be read by
    /// guessing (`Content-Encoding`, a media type other than JSON, a charset other than UTF-8):
    /// `415`. See [`crate::content`].
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// A body the policy must read is not JSON, starts with a byte order mark, is ambiguous, or
    /// was sent on a method that carries none: `400`.
    #[error("invalid_request: {0}")]
    MalformedBody(String),
    /// A body on a method the MCP transport does not use (`PUT`, `PATCH`): `405`.
    #[error("method not allowed: {0}")]
    MethodNotAllowed(String),
}

/// A configuration the guard refuses to run with, named precisely so that a CLI can say which
/// setting to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The resource URI is not a valid RFC 8707 resource indicator.
    #[error("resource `{0}` is not an absolute http(s) URI without fragment or user info")]
    InvalidResource(String),
    /// The issuer is not an absolute http(s) URI.
    #[error("issuer `{0}` is not an absolute http(s) URI")]
    InvalidIssuer(String),
    /// An endpoint URL (JWKS, introspection) does not parse.
    #[error("`{0}` is not a valid URL")]
    InvalidUrl(String),
    /// A plain-HTTP URL without the explicit `insecure_allow_http` switch.
    #[error("`{0}` must use https (or enable insecure_allow_http for local development)")]
    InsecureUrl(String),
    /// A scope token outside the RFC 6749 grammar in the scope policy.
    #[error("scope policy: invalid scope token `{0}`")]
    InvalidScope(String),
    /// A method declared public that may not be public.
    #[error("scope policy: `{0}` cannot be public (only initialize, ping and notifications/* can)")]
    NotPublicMethod(String),
    /// PRM without any authorization server (RFC 9728 as profiled by MCP requires one).
    #[error("protected resource metadata needs at least one authorization server")]
    NoAuthorizationServer,
    /// The API key header is not a valid header name, or is `Authorization`.
    #[error("`{0}` cannot be the API key header (a header name other than Authorization)")]
    InvalidHeaderName(String),
    /// A trusted issuer listed twice.
    #[error("issuer `{0}` is configured twice")]
    DuplicateIssuer(String),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    HttpClient(String),
    /// The algorithm allow-list is empty or contains an algorithm outside
    /// `mcp_oauth_core::jose::VERIFY_ALGORITHMS`.
    #[error("algorithm `{0}` is not allowed for access tokens")]
    Algorithm(String),
    /// A provider profile that does not exist, or whose settings contradict each other.
    #[error("profile: {0}")]
    Profile(String),
    /// The audience could not be checked as configured (a profile whose tokens cannot name the
    /// resource URI, and no audience alias given): the text says what to configure.
    #[error("the token audience cannot be checked: {0}")]
    Audience(String),
    /// The issuer is not of a form the profile's provider uses; the text says which form.
    #[error("issuer {0}")]
    IssuerForm(String),
}

/// Why a DPoP request was refused (see [`crate::dpop`]): `401` with a `DPoP` challenge carrying
/// `error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopRefusal {
    /// `invalid_token` (scheme and binding disagree) or `invalid_dpop_proof`.
    pub code: mcp_oauth_core::ErrorCode,
    /// Sent as `error_description`.
    pub description: String,
    /// The nonce to send in `DPoP-Nonce` (with `use_dpop_nonce`).
    pub nonce: Option<String>,
}
