//! One mapping from a refused page request to its HTML answer, as [`OAuthError`] is for the JSON
//! endpoints: status, an error page with the page security headers, and `Retry-After` when the
//! browser should come back later.
//!
//! [`OAuthError`]: crate::error::OAuthError

use super::{html, pages};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::borrow::Cow;

/// An error shown to the person at the browser. Never redirected to the client: errors that
/// go back to a verified redirect URI are `AuthorizationError::Redirect`.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    title: &'static str,
    message: Cow<'static, str>,
    retry_after: Option<u64>,
}

impl PageError {
    /// `400` with this title and message.
    pub fn bad_request(title: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, title, message)
    }

    /// A page with any status.
    pub fn new(
        status: StatusCode,
        title: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            title,
            message: message.into(),
            retry_after: None,
        }
    }

    /// `429` with `Retry-After: wait`: a rate limit was hit.
    pub fn too_many_requests(wait: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            format!("Too many requests from your address. Try again in {wait} seconds."),
        )
        .retry_after(wait)
    }

    /// `503` with `Retry-After: 1`: a storage or other internal failure, logged here with its
    /// cause; the page says only that the request could not be completed.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        tracing::error!(target: "mcp_oauth::server", error = %cause, "internal failure on an authorization page");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "The server could not complete the request. Please try again.",
        )
        .retry_after(1)
    }

    /// Asks the browser to wait `seconds` before trying again.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut resp = html(self.status, pages::error(self.title, &self.message), &[]);
        if let Some(s) = self.retry_after {
            set_retry_after(&mut resp, s);
        }
        resp
    }
}

/// Sets `Retry-After` (seconds) on a page that is not an error page (the login form shown again
/// after too many failures).
pub fn set_retry_after(resp: &mut Response, seconds: u64) {
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_is_a_503_page_with_retry_after_and_the_page_headers() {
        let r = PageError::unavailable("disk on fire").into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn too_many_requests_says_how_long_to_wait() {
        let r = PageError::too_many_requests(7).into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
    }

    #[test]
    fn the_message_is_escaped() {
        let r = PageError::bad_request("Invalid request", "<script>").into_response();
        let body = futures_body(r);
        assert!(body.contains("&lt;script&gt;") && !body.contains("<script>"));
    }

    fn futures_body(r: Response) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = rt
            .block_on(axum::body::to_bytes(r.into_body(), usize::MAX))
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }
}
