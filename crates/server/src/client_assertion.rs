//! `private_key_jwt` client authentication: a client assertion (RFC 7523 §2.2, §3) signed with
//! the client's private key, checked against the public keys it registered.
//!
//! The rules, in order:
//! - the JWT header's `alg` is one of [`ASSERTION_ALGORITHMS`]: never `none`, never HMAC (an
//!   HMAC "signed" with a public key proves nothing), and the key must be of the algorithm's kind;
//! - the subject names the client; a `client_id` in the body must agree;
//! - the client is registered for `private_key_jwt` (DCR, a metadata document, or an
//!   administrator) with `jwks` or a `jwks_uri`;
//! - the signature verifies with one of its keys (by `kid` when the header names one; an
//!   unknown `kid` refetches a `jwks_uri` once per interval, see [`crate::client_keys`]);
//! - `iss` = `sub` = the client id; `aud` is one string (never an array): the issuer (with or
//!   without a trailing `/`) or the token endpoint URL (RFC 7523 clients); `exp` is required and at most `assertion_max_lifetime` ahead; `nbf`
//!   and `iat`, if present, are not in the future; 30 s of clock skew are allowed each way;
//! - `jti` is required and single-use until the assertion expires ([`crate::replay`]: the
//!   database, persistent, so a restart does not reopen the window; or Redis, shared by the
//!   instances, refusing when it cannot answer or has lost its memory).
//!
//! Times come from the server's clock, never from the JWT library's wall clock. Every failure is
//! `invalid_client`; the assertion itself is never logged.

use crate::clients::{self, LookupError};
use crate::error::OAuthError;
use crate::model::Client;
use crate::replay::{Outcome, Owner, Use};
use crate::state::AppState;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_oauth_core::jose::Algorithm;
use mcp_oauth_core::jws::{JwkKey, Jws, JwsError, KidRule};
use mcp_oauth_core::token::{Audience, auth_method};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

/// The algorithms a client assertion may be signed with (advertised as
/// `token_endpoint_auth_signing_alg_values_supported`).
pub const ASSERTION_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::EdDSA,
];

/// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY: i64 = 30;

/// The longest assertion accepted, in bytes.
const MAX_ASSERTION_BYTES: usize = 8 * 1024;

/// The claims RFC 7523 §3 requires (and `jti`, which replay protection requires).
#[derive(Debug, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    jti: String,
}

fn refuse(description: impl Into<String>) -> OAuthError {
    OAuthError::invalid_client(description, false)
}

/// The unverified payload, only to learn which client claims to have signed it.
fn unverified_subject(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("sub")?.as_str().map(str::to_owned)
}

/// Authenticates the client of a request by its assertion; returns the client.
pub async fn verify(
    state: &AppState,
    assertion: &str,
    body_client_id: Option<&str>,
) -> Result<Arc<Client>, OAuthError> {
    if assertion.len() > MAX_ASSERTION_BYTES {
        return Err(refuse("the client assertion is too large"));
    }
    let jws = Jws::parse(assertion, &ASSERTION_ALGORITHMS).map_err(|e| match e {
        JwsError::Algorithm(alg) => refuse(format!(
            "client assertions must be signed with ES256, RS256, PS256 or EdDSA, not {alg:?}"
        )),
        JwsError::Critical => {
            refuse("the client assertion uses unsupported critical header parameters")
        }
        _ => refuse(
            "the client assertion is not a signed JWT with a supported algorithm (never none)",
        ),
    })?;
    let client_id = unverified_subject(assertion)
        .ok_or_else(|| refuse("the client assertion has no sub naming the client"))?;
    if body_client_id.is_some_and(|b| b != client_id) {
        return Err(refuse(
            "client_id differs from the client assertion's subject",
        ));
    }
    let client = match clients::find(state, &client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Err(refuse("unknown client or bad credentials")),
        Err(LookupError::Store(e)) => return Err(e.into()),
        Err(e @ LookupError::Document(_)) => return Err(e.into()),
    };
    if client.token_endpoint_auth_method != auth_method::PRIVATE_KEY_JWT {
        return Err(refuse("this client is not registered for private_key_jwt"));
    }
    let claims = verify_signature(state, &client, &jws).await?;
    check_claims(state, &client_id, &claims)?;
    // Recorded until the last moment it could still be accepted.
    let used = Use {
        owner: Owner::ClientAssertion(&client_id),
        jti: &claims.jti,
        until: claims.exp.saturating_add(LEEWAY),
        earliest: earliest_use(&claims, state.config().assertion_max_lifetime),
    };
    match state.0.replay.first_use(used, state.now()).await {
        Ok(Outcome::First) => {}
        Ok(Outcome::Replay) => {
            tracing::warn!(target: "mcp_oauth::client_auth", %client_id, "client assertion replayed");
            return Err(refuse("the client assertion was already used (jti replay)"));
        }
        Ok(Outcome::BeforeMemory) => {
            tracing::warn!(target: "mcp_oauth::client_auth", %client_id, "client assertion older than the replay cache's memory");
            return Err(refuse(
                "the replay cache was emptied after this assertion could first be used; sign a new assertion",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(client)
}

/// The client's keys: by value, or fetched from its `jwks_uri` (`refresh` after an unknown kid).
async fn client_keys(
    state: &AppState,
    client: &Client,
    refresh: bool,
) -> Result<Arc<Vec<JwkKey>>, OAuthError> {
    if let Some(jwks) = &client.jwks {
        return crate::client_keys::public_keys(jwks)
            .map(Arc::new)
            .map_err(|e| refuse(format!("the client's registered keys are unusable: {e}")));
    }
    let Some(uri) = &client.jwks_uri else {
        return Err(refuse(
            "the client has no registered keys (jwks or jwks_uri)",
        ));
    };
    state
        .client_jwks()
        .get(state.fetcher(), state.config(), state.now(), uri, refresh)
        .await
        .map_err(refuse)
}

/// The signature, by the core JWS verification: a `kid` selects the keys with that `kid` only
/// (an unknown one refetches a `jwks_uri` first); without a `kid`, every key that fits the `alg`.
async fn verify_signature(
    state: &AppState,
    client: &Client,
    jws: &Jws<'_>,
) -> Result<Claims, OAuthError> {
    let mut keys = client_keys(state, client, false).await?;
    if !jws.names_a_key_of(&keys) && client.jwks.is_none() {
        keys = client_keys(state, client, true).await?;
    }
    jws.verify(&keys, KidRule::Exact).map_err(|e| {
        refuse(match e {
            JwsError::Signature => {
                "the client assertion's signature does not verify with the client's registered keys"
            }
            JwsError::Claims => {
                "the client assertion lacks a required claim (iss, sub, aud, exp, jti) or has one of the wrong type"
            }
            _ => "none of the client's registered keys matches the assertion's kid and alg",
        })
    })
}

/// The first moment `c` could have been accepted: no earlier than its `iat` and `nbf`, and no
/// earlier than `max_lifetime` before its `exp`, each less the leeway.
fn earliest_use(c: &Claims, max_lifetime: i64) -> i64 {
    let by_exp = c.exp.saturating_sub(max_lifetime).saturating_sub(LEEWAY);
    [c.iat, c.nbf]
        .into_iter()
        .flatten()
        .map(|t| t.saturating_sub(LEEWAY))
        .fold(by_exp, i64::max)
}

fn check_claims(state: &AppState, client_id: &str, c: &Claims) -> Result<(), OAuthError> {
    let now = state.now();
    let config = state.config();
    if c.iss != client_id || c.sub != client_id {
        return Err(refuse(
            "iss and sub of the client assertion must both be the client id",
        ));
    }
    let issuer = config.issuer.as_str();
    let token_endpoint = config.endpoint("/token");
    let ours = |a: &str| a == issuer || a.strip_suffix('/') == Some(issuer) || a == token_endpoint;
    // One string, never an array (draft-ietf-oauth-rfc7523bis): an array that names another
    // server beside us is an assertion that server can replay here, and RFC 7523 §3's "a value
    // that identifies the authorization server" is met by a single string. A one-element array
    // would be harmless, but no client needs it, and one rule is easier to get right.
    match &c.aud {
        Audience::One(a) if ours(a) => {}
        Audience::One(_) => {
            return Err(refuse(
                "the client assertion's aud must be this server's issuer or token endpoint",
            ));
        }
        Audience::Many(_) => {
            return Err(refuse(
                "the client assertion's aud must be one string (this server's issuer), not an array",
            ));
        }
    }
    // Saturating: the times are the sender's numbers, `i64::MAX` included.
    if c.exp.saturating_add(LEEWAY) <= now {
        return Err(refuse("the client assertion has expired"));
    }
    if c.exp.saturating_sub(now) > config.assertion_max_lifetime.saturating_add(LEEWAY) {
        return Err(refuse(format!(
            "the client assertion expires too far ahead (at most {} s)",
            config.assertion_max_lifetime
        )));
    }
    if c.nbf.is_some_and(|nbf| nbf.saturating_sub(LEEWAY) > now) {
        return Err(refuse("the client assertion is not valid yet (nbf)"));
    }
    if c.iat.is_some_and(|iat| iat.saturating_sub(LEEWAY) > now) {
        return Err(refuse(
            "the client assertion was issued in the future (iat)",
        ));
    }
    if c.jti.is_empty() || c.jti.len() > 256 {
        return Err(refuse("the client assertion needs a jti of 1 to 256 bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_is_read_without_verification() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"c1","iss":"c1"}"#);
        assert_eq!(
            unverified_subject(&format!("h.{payload}.s")).as_deref(),
            Some("c1")
        );
        assert_eq!(unverified_subject("garbage"), None);
        assert_eq!(unverified_subject("a.!!!.c"), None);
    }

    #[test]
    fn never_none_or_hmac() {
        for a in ASSERTION_ALGORITHMS {
            assert!(!matches!(
                a,
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
            ));
        }
        // `none` does not even parse as a JOSE algorithm here.
        let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(jsonwebtoken::decode_header(format!("{h}.e30.")).is_err());
    }

    #[test]
    fn the_earliest_use_takes_every_bound() {
        let c = |iat, nbf, exp| Claims {
            iss: "c".into(),
            sub: "c".into(),
            aud: Audience::One("a".into()),
            exp,
            nbf,
            iat,
            jti: "j".into(),
        };
        assert_eq!(
            earliest_use(&c(None, None, 1_000), 300),
            670,
            "by exp alone"
        );
        assert_eq!(
            earliest_use(&c(Some(900), None, 1_000), 300),
            870,
            "iat later"
        );
        assert_eq!(
            earliest_use(&c(Some(100), Some(950), 1_000), 300),
            920,
            "nbf later"
        );
        assert_eq!(earliest_use(&c(None, None, i64::MIN), 300), i64::MIN);
    }
}
