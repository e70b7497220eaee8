//! One module per grant type. Each receives an authenticated client and the remaining request
//! parameters, and returns the token response or an RFC 6749 §5.2 error.

pub mod authorization_code;
pub mod client_credentials;
pub mod device_code;
mod family;
pub mod refresh_token;
pub mod token_exchange;

use crate::error::OAuthError;
use mcp_oauth_core::ErrorCode;
use mcp_oauth_core::token::TokenResponse;

/// Checks an optional `resource` on a token request against the grant's resource: RFC 8707 §2.2
/// lets the client narrow, never widen, and we grant one resource per grant.
pub(crate) fn check_resource(requested: Option<&str>, granted: &str) -> Result<(), OAuthError> {
    match requested {
        None => Ok(()),
        Some(r) if r == granted || mcp_oauth_core::resource::audience_matches(granted, r) => Ok(()),
        Some(_) => Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "resource differs from the one this grant is for",
        )),
    }
}

/// `response` as the grant issued it: `token_type: DPoP` when its access token is bound to the
/// key `dpop_jkt` (RFC 9449 §5). Each grant that binds its token says so itself, so that a grant
/// returning a token it did not mint never claims a binding.
pub(crate) fn bound(mut response: TokenResponse, dpop_jkt: Option<&str>) -> TokenResponse {
    if dpop_jkt.is_some() {
        response.token_type = mcp_oauth_core::dpop::TOKEN_TYPE.into();
    }
    response
}

/// A bearer token response.
pub(crate) fn bearer(
    access_token: String,
    expires_in: i64,
    refresh_token: Option<String>,
    scope: String,
) -> TokenResponse {
    TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in: Some(expires_in.max(0) as u64),
        refresh_token,
        scope: Some(scope),
        extra: Default::default(),
    }
}
