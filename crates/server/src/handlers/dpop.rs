//! The DPoP proof of a token request (RFC 9449 §5): at most one `DPoP` header, verified by
//! `mcp_oauth_core::dpop` against `POST` and this server's token endpoint, within the
//! configured `iat` window; the server nonce when the configuration asks for one; the `jti` used
//! once across all instances ([`crate::replay`]). A client registered with
//! `dpop_bound_access_tokens: true` must send one (RFC 9449 §5.2).

use crate::error::OAuthError;
use crate::model::Client;
use crate::replay::{Outcome, Owner, Use};
use crate::state::AppState;
use axum::http::HeaderMap;
use mcp_oauth_core::ErrorCode;
use mcp_oauth_core::dpop::{self, Expect};

/// How far in the future a proof's `iat` may be: client clocks run a little fast.
pub const FUTURE_LEEWAY: i64 = 5;

/// An `invalid_dpop_proof` error (RFC 9449 §5, 400).
pub fn invalid_proof(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidDpopProof, description)
}

/// Whether `client` registered `dpop_bound_access_tokens: true`.
pub fn client_requires_dpop(client: &Client) -> bool {
    client
        .metadata
        .get("dpop_bound_access_tokens")
        .and_then(serde_json::Value::as_bool)
        == Some(true)
}

/// The thumbprint of the key of the request's valid proof, `None` when it has none (and may go
/// without), or the error to answer.
pub async fn token_request_key(
    state: &AppState,
    headers: &HeaderMap,
    client: &Client,
) -> Result<Option<String>, OAuthError> {
    let mut values = headers.get_all(dpop::HEADER).iter();
    let (value, None) = (values.next(), values.next()) else {
        return Err(invalid_proof("send at most one DPoP header"));
    };
    let Some(value) = value else {
        if client_requires_dpop(client) {
            return Err(invalid_proof(
                "this client is registered with dpop_bound_access_tokens and must send a DPoP proof",
            ));
        }
        return Ok(None);
    };
    let proof = value
        .to_str()
        .map_err(|_| invalid_proof("the DPoP header is not a JWS"))?;
    let cfg = state.config();
    let url = cfg.endpoint("/token");
    let expect = Expect {
        method: "POST",
        url: &url,
        now: state.now(),
        max_age: cfg.dpop_proof_lifetime,
        future_leeway: FUTURE_LEEWAY,
        access_token: None,
    };
    let verified = dpop::verify(proof, &expect).map_err(|e| invalid_proof(e.to_string()))?;
    if cfg.dpop_nonce_required
        && !verified
            .nonce
            .as_deref()
            .is_some_and(|n| state.0.dpop_nonces.accepts(n, expect.now))
    {
        let mut e = OAuthError::new(
            ErrorCode::UseDpopNonce,
            "the DPoP proof must carry the nonce this server sent in DPoP-Nonce",
        );
        e.dpop_nonce = Some(state.0.dpop_nonces.current(expect.now));
        return Err(e);
    }
    let used = Use {
        owner: Owner::DpopProof(&verified.jkt),
        jti: &verified.jti,
        until: expect.replay_until(verified.iat),
        // A proof is accepted from `FUTURE_LEEWAY` before its `iat` on.
        earliest: verified.iat.saturating_sub(FUTURE_LEEWAY),
    };
    match state.0.replay.first_use(used, expect.now).await {
        Ok(Outcome::First) => {}
        Ok(Outcome::Replay) => {
            tracing::warn!(target: "mcp_oauth::token", client_id = %client.client_id, "DPoP proof replayed");
            return Err(invalid_proof("the DPoP proof was already used"));
        }
        Ok(Outcome::BeforeMemory) => {
            tracing::warn!(target: "mcp_oauth::token", client_id = %client.client_id, "DPoP proof older than the replay cache's memory");
            return Err(invalid_proof(
                "the replay cache was emptied after this proof was made; send a new proof",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Some(verified.jkt))
}

/// The nonce to send with a successful response, when nonces are required.
pub fn fresh_nonce(state: &AppState) -> Option<String> {
    state
        .config()
        .dpop_nonce_required
        .then(|| state.0.dpop_nonces.current(state.now()))
}
