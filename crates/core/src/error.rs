//! OAuth error codes with their registered strings, and the RFC 6749 §5.2 error body.

use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;
use std::fmt;

/// Every error code this stack sends or understands, each with the RFC that registers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// RFC 6749 §4.1.2.1, §5.2: a parameter is missing, repeated, or malformed.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed.
    InvalidClient,
    /// RFC 6749 §5.2: the grant (code, refresh token, assertion) is invalid, expired or revoked.
    InvalidGrant,
    /// RFC 6749 §5.2: the client may not use this grant type.
    UnauthorizedClient,
    /// RFC 6749 §5.2.
    UnsupportedGrantType,
    /// RFC 6749 §5.2, §4.1.2.1.
    InvalidScope,
    /// RFC 8707 §2: the `resource` is unknown or not allowed.
    InvalidTarget,
    /// RFC 6749 §4.1.2.1: the resource owner denied the request.
    AccessDenied,
    /// RFC 6749 §4.1.2.1.
    UnsupportedResponseType,
    /// RFC 6749 §4.1.2.1: an unexpected condition.
    ServerError,
    /// RFC 6749 §4.1.2.1: overloaded or in maintenance.
    TemporarilyUnavailable,
    /// RFC 6750 §3.1: the access token is expired, revoked, malformed or for another audience.
    InvalidToken,
    /// RFC 6750 §3.1: the token lacks the scope this request needs.
    InsufficientScope,
    /// RFC 7591 §3.2.2.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2.
    InvalidClientMetadata,
    /// RFC 7591 §3.2.2.
    InvalidSoftwareStatement,
    /// RFC 7591 §3.2.2.
    UnapprovedSoftwareStatement,
    /// RFC 7009 §2.2.1.
    UnsupportedTokenType,
    /// RFC 9449 §5: the DPoP proof is invalid.
    InvalidDpopProof,
    /// RFC 9449 §8: the server requires a nonce in the DPoP proof (sent with `DPoP-Nonce`).
    UseDpopNonce,
    /// A rate limit was hit (sent with HTTP 429 and `Retry-After`); also RFC 8628 §3.5, a
    /// device-code poll sooner than the interval (sent with 400, the interval grows by 5 s).
    SlowDown,
    /// RFC 8628 §3.5: the user has not yet approved or denied the device authorization.
    AuthorizationPending,
    /// RFC 8628 §3.5: the device code expired; the client may start a new authorization.
    ExpiredToken,
}

impl ErrorCode {
    /// The registered string, as it goes on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
            Self::InvalidSoftwareStatement => "invalid_software_statement",
            Self::UnapprovedSoftwareStatement => "unapproved_software_statement",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::SlowDown => "slow_down",
            Self::AuthorizationPending => "authorization_pending",
            Self::ExpiredToken => "expired_token",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON error body of RFC 6749 §5.2 (also used by RFC 7591 and RFC 7662 endpoints).
#[skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The error code. Kept as a string when parsing so that unknown codes from peers survive.
    pub error: String,
    /// A human-readable explanation for the developer, never for display to end users as is.
    pub error_description: Option<String>,
    /// A page about the error.
    pub error_uri: Option<String>,
}

impl ErrorResponse {
    /// An error body with a description.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            error: code.as_str().to_owned(),
            error_description: Some(description.into()),
            error_uri: None,
        }
    }
}

impl fmt::Display for ErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.error)?;
        if let Some(d) = &self.error_description {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorResponse {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_uses_registered_strings() {
        for code in [
            ErrorCode::InvalidRequest,
            ErrorCode::InvalidTarget,
            ErrorCode::InsufficientScope,
            ErrorCode::InvalidClientMetadata,
            ErrorCode::UnsupportedTokenType,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn body_omits_absent_fields() {
        let body = ErrorResponse {
            error: "invalid_grant".into(),
            error_description: None,
            error_uri: None,
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":"invalid_grant"}"#
        );
    }
}
