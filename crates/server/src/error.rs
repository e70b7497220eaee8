//! The only place an error becomes an HTTP response.
//!
//! Token, revocation, introspection and registration endpoints answer RFC 6749 §5.2 JSON with
//! `Cache-Control: no-store`; a failed HTTP Basic client authentication adds
//! `WWW-Authenticate: Basic` (RFC 6749 §5.2). Storage and other internal failures are logged with
//! their detail and answered `503 temporarily_unavailable` with `Retry-After`, never a 500 with a
//! stack of internals. Pages (authorize errors that must not redirect) are rendered by `ui`.

use crate::store::StoreError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::{ErrorCode, ErrorResponse};

/// An OAuth error answered as JSON.
#[derive(Debug, Clone)]
pub struct OAuthError {
    /// HTTP status.
    pub status: StatusCode,
    /// Error code.
    pub code: ErrorCode,
    /// `error_description`, for developers.
    pub description: String,
    /// `WWW-Authenticate` to send, if any.
    pub www_authenticate: Option<String>,
    /// `Retry-After` seconds, if any.
    pub retry_after: Option<u64>,
    /// A `DPoP-Nonce` to send (RFC 9449 §8), if any.
    pub dpop_nonce: Option<String>,
}

impl OAuthError {
    /// An error with the status RFC 6749 gives its code.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        let status = match code {
            ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::SlowDown => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::BAD_REQUEST,
        };
        Self {
            status,
            code,
            description: description.into(),
            www_authenticate: None,
            retry_after: None,
            dpop_nonce: None,
        }
    }

    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// `invalid_client` (401), with `WWW-Authenticate: Basic` when Basic was tried.
    pub fn invalid_client(description: impl Into<String>, basic_attempted: bool) -> Self {
        let mut e = Self::new(ErrorCode::InvalidClient, description);
        if basic_attempted {
            e.www_authenticate = Some(mcp_oauth_core::challenge::basic("mcp-oauth"));
        }
        e
    }

    /// `401 invalid_token` with `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3.1),
    /// for a missing or bad bearer credential at the registration endpoints (RFC 7591 §3,
    /// RFC 7592 §2).
    pub fn invalid_token(description: impl Into<String>) -> Self {
        let description = description.into();
        // RFC 6750 §3: error_description is printable ASCII.
        let ascii: String = description
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .collect();
        let mut e =
            Self::new(ErrorCode::InvalidToken, description).with_status(StatusCode::UNAUTHORIZED);
        e.www_authenticate = Some(
            mcp_oauth_core::challenge::BearerChallenge::default()
                .with_error(ErrorCode::InvalidToken, ascii)
                .to_string(),
        );
        e
    }

    /// `429` with `Retry-After`: a rate limit was hit.
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut e = Self::new(
            ErrorCode::SlowDown,
            format!("too many requests; try again in {retry_after} s"),
        )
        .with_status(StatusCode::TOO_MANY_REQUESTS);
        e.retry_after = Some(retry_after);
        e
    }

    /// An internal failure: logged here with its detail, answered without it.
    pub fn internal(context: &str, detail: impl std::fmt::Display) -> Self {
        tracing::error!(target: "mcp_oauth::server", context, error = %detail, "internal failure");
        let mut e = Self::new(
            ErrorCode::TemporarilyUnavailable,
            "the server could not complete the request; try again shortly",
        );
        e.retry_after = Some(1);
        e
    }

    /// Sets the HTTP status.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        Self::internal("store", e)
    }
}

/// A single-use check that could not be made: the database's failure as any other; Redis not
/// answering as `503 temporarily_unavailable` with `Retry-After` (nothing was accepted; the
/// client may retry shortly with a fresh credential).
impl From<crate::replay::ReplayError> for OAuthError {
    fn from(e: crate::replay::ReplayError) -> Self {
        match e {
            crate::replay::ReplayError::Store(e) => e.into(),
            _ => {
                let mut e = Self::new(
                    ErrorCode::TemporarilyUnavailable,
                    "the replay check cannot be made right now; try again shortly",
                );
                e.retry_after = Some(1);
                e
            }
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = ErrorResponse::new(self.code, self.description);
        let json =
            serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"error\":\"server_error\"}".to_vec());
        let mut resp = (self.status, json).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(w) = self
            .www_authenticate
            .and_then(|w| HeaderValue::from_str(&w).ok())
        {
            h.insert(header::WWW_AUTHENTICATE, w);
        }
        if let Some(n) = self.dpop_nonce.and_then(|n| HeaderValue::from_str(&n).ok()) {
            h.insert(mcp_oauth_core::dpop::NONCE_HEADER, n);
        }
        if let Some(s) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

/// A JSON success response with `Cache-Control: no-store` (RFC 6749 §5.1).
pub fn no_store_json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(json) => no_store_json_bytes(status, json),
        Err(e) => OAuthError::internal("serialise response", e).into_response(),
    }
}

/// [`no_store_json`] for a body already serialised.
pub fn no_store_json_bytes(status: StatusCode, json: Vec<u8>) -> Response {
    let mut resp = Response::new(axum::body::Body::from(json));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.reserve(3);
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}
