//! Federated login's two pages: `POST {issuer}/upstream/{id}/start` (our consent for the MCP
//! client, then off to the provider) and `GET {issuer}/upstream/{id}/callback` (back from it:
//! check, sign in, issue our code). `failure.rs`: the page that says what went wrong.

pub mod callback;
pub(crate) mod failure;
pub mod start;

use crate::state::AppState;

/// The callback URL of an upstream: one per block (mix-up defence).
fn callback_url(state: &AppState, id: &str) -> String {
    state.config().endpoint(&format!("/upstream/{id}/callback"))
}
