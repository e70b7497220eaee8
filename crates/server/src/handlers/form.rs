//! Reading `application/x-www-form-urlencoded` bodies strictly: the right content type, a size
//! limit, and no repeated parameters.

use crate::error::OAuthError;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use mcp_oauth_core::form::OAuthParams;

/// Reads and parses a form body of at most `limit` bytes.
pub async fn read(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<OAuthParams, OAuthError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mime = ct.split(';').next().unwrap_or_default().trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        OAuthError::invalid_request(format!("the body is larger than {limit} bytes"))
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    })?;
    OAuthParams::parse(&bytes).map_err(|e| OAuthError::invalid_request(e.to_string()))
}
