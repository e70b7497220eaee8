//! What the person at the browser sees when a federated sign-in fails: what happened, in
//! words, never a secret; nothing was written (the failure comes before any write, or the
//! write that failed was one atomic step).

use crate::ui::PageError;
use crate::upstream::UpstreamError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The sign-in cannot go on, for a reason of this request (state, session, parameters).
pub(crate) fn refused(message: &'static str) -> Response {
    tracing::warn!(target: "mcp_oauth::upstream", reason = message, "upstream sign-in refused");
    PageError::bad_request("Sign-in failed", message).into_response()
}

/// The block does not admit this account.
pub(crate) fn not_allowed(upstream: &str, why: String) -> Response {
    tracing::warn!(target: "mcp_oauth::upstream", upstream, reason = %why, "upstream account not allowed");
    PageError::new(
        StatusCode::FORBIDDEN,
        "Account not allowed",
        format!("You signed in at {upstream}, but {why}."),
    )
    .into_response()
}

/// The provider failed, refused or answered something invalid.
pub(crate) fn upstream(name: &str, e: &UpstreamError) -> Response {
    tracing::warn!(target: "mcp_oauth::upstream", upstream = name, error = %e, "upstream sign-in failed");
    let status = match e {
        UpstreamError::Unreachable(_) | UpstreamError::Garbage(_) => StatusCode::BAD_GATEWAY,
        UpstreamError::Refused { .. } | UpstreamError::IdToken(_) => StatusCode::BAD_REQUEST,
    };
    let title = match e {
        UpstreamError::Unreachable(_) => "Identity provider unreachable",
        UpstreamError::Garbage(_) => "Identity provider error",
        UpstreamError::Refused { .. } => "Sign-in refused",
        UpstreamError::IdToken(_) => "Sign-in not verified",
    };
    PageError::new(status, title, format!("Signing in with {name}: {e}.")).into_response()
}

/// No such upstream block.
pub(crate) fn unknown() -> Response {
    PageError::new(
        StatusCode::NOT_FOUND,
        "Unknown sign-in",
        "This server has no identity provider by that name.",
    )
    .into_response()
}
