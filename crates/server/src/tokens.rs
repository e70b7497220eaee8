//! Minting and checking the tokens this server issues.
//!
//! Access tokens are RFC 9068 JWTs signed by the current key; a private `gid` claim names the
//! grant they came from, so revoking a grant also makes its access tokens inactive at
//! introspection. Issuing one touches no storage. Refresh tokens are 256-bit random strings,
//! stored only as hashes; each successor is `HMAC(key derived from the KEK, presented token)`, so
//! a retry inside the grace window can be given the same successor without the server ever
//! storing a refresh token in the clear.

use crate::error::OAuthError;
use crate::state::AppState;
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_oauth_core::clock::UnixTime;
use mcp_oauth_core::jose::SIGNING_ALGORITHMS;
use mcp_oauth_core::jws::Jws;
use mcp_oauth_core::secret::random_token;
use mcp_oauth_core::token::{ACCESS_TOKEN_JWT_TYPE, AccessTokenClaims};

/// The private claim carrying the grant id.
pub const GRANT_CLAIM: &str = "gid";

/// What goes into an access token.
#[derive(Debug, Clone, Copy)]
pub struct AccessTokenRequest<'a> {
    /// The client.
    pub client_id: &'a str,
    /// The user id, or the client id for client credentials.
    pub subject: &'a str,
    /// The resource (becomes `aud`).
    pub resource: &'a str,
    /// Space-delimited scopes, if any.
    pub scope: Option<&'a str>,
    /// The grant, when there is one.
    pub grant_id: Option<&'a str>,
    /// When the user authenticated.
    pub auth_time: Option<UnixTime>,
    /// The thumbprint of the DPoP key the token is bound to (`cnf.jkt`, RFC 9449 §6.1).
    pub cnf_jkt: Option<&'a str>,
}

/// The claims as JSON, in this order: `iss`, `sub`, `aud`, `exp`, `iat`, `jti`, `client_id`, then
/// `scope`, `auth_time`, `gid` and `cnf` when set. Written by hand: this is the token hot path.
fn claims_json(iss: &str, req: &AccessTokenRequest<'_>, exp: i64, iat: i64, jti: &str) -> Vec<u8> {
    use mcp_oauth_core::json::{push_int_field, push_str_field};
    let mut out = Vec::with_capacity(
        iss.len()
            + req.subject.len()
            + req.resource.len()
            + req.client_id.len()
            + req.scope.map_or(0, str::len)
            + req.grant_id.map_or(0, str::len)
            + jti.len()
            + req.cnf_jkt.map_or(0, |j| j.len() + 20)
            + 160,
    );
    out.push(b'{');
    push_str_field(&mut out, true, "iss", iss);
    push_str_field(&mut out, false, "sub", req.subject);
    push_str_field(&mut out, false, "aud", req.resource);
    push_int_field(&mut out, false, "exp", exp);
    push_int_field(&mut out, false, "iat", iat);
    push_str_field(&mut out, false, "jti", jti);
    push_str_field(&mut out, false, "client_id", req.client_id);
    if let Some(scope) = req.scope.filter(|s| !s.is_empty()) {
        push_str_field(&mut out, false, "scope", scope);
    }
    if let Some(t) = req.auth_time {
        push_int_field(&mut out, false, "auth_time", t);
    }
    if let Some(gid) = req.grant_id {
        push_str_field(&mut out, false, GRANT_CLAIM, gid);
    }
    if let Some(jkt) = req.cnf_jkt {
        out.extend_from_slice(b",\"cnf\":{");
        push_str_field(&mut out, true, "jkt", jkt);
        out.push(b'}');
    }
    out.push(b'}');
    out
}

/// Signs an access token; returns it with its lifetime in seconds.
pub fn issue_access_token(
    state: &AppState,
    req: AccessTokenRequest<'_>,
) -> Result<(String, i64), OAuthError> {
    let now = state.now();
    let ttl = state.config().access_token_ttl;
    let jti = random_token(16);
    let claims = claims_json(&state.config().issuer, &req, now + ttl, now, &jti);
    let ring = state.keys().ring();
    let token = ring
        .signer
        .sign_json(ACCESS_TOKEN_JWT_TYPE, &claims)
        .map_err(|e| OAuthError::internal("sign access token", e))?;
    Ok((token, ttl))
}

/// A fresh refresh token (the first of a family).
pub fn new_refresh_token() -> String {
    random_token(32)
}

/// The successor of `presented`, reproducible only with the server's key. A successor of a
/// DPoP-bound token is bound to the same key ([`bind_refresh_token`]), by the caller, which
/// checked that key.
pub fn successor_refresh_token(key: &hmac::Key, presented: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac::sign(key, presented.as_bytes()).as_ref())
}

/// Whether a refresh token is bound to a DPoP key.
pub fn is_bound_refresh_token(token: &str) -> bool {
    refresh_binding(token).is_some()
}

/// Separates a refresh token from its DPoP binding tag; never part of an unbound token (base64url).
const BINDING_SEPARATOR: char = '.';

/// The tag binding `token` to the DPoP key `jkt`: a MAC under the server's key, so that the
/// binding is part of the token (whose hash is what the store keeps) and cannot be stripped or
/// moved to another key without it (RFC 9449 §5: a public client's refresh token is bound).
fn binding_tag(key: &hmac::Key, token: &str, jkt: &str) -> String {
    let mut input = Vec::with_capacity(token.len() + jkt.len() + 16);
    input.extend_from_slice(b"dpop-binding\0");
    input.extend_from_slice(token.as_bytes());
    input.push(0);
    input.extend_from_slice(jkt.as_bytes());
    URL_SAFE_NO_PAD.encode(hmac::sign(key, &input).as_ref())
}

/// `token` bound to the DPoP key `jkt`.
pub fn bind_refresh_token(key: &hmac::Key, token: &str, jkt: &str) -> String {
    format!("{token}{BINDING_SEPARATOR}{}", binding_tag(key, token, jkt))
}

/// The token and its binding tag, for a bound refresh token.
fn refresh_binding(token: &str) -> Option<(&str, &str)> {
    token.split_once(BINDING_SEPARATOR)
}

/// Whether a presented refresh token may be used with the proof key `jkt` (`None`: no proof).
/// An unbound token may be used by anyone holding it and its client's credentials; a bound one
/// only with a proof of its key.
pub fn refresh_binding_allows(key: &hmac::Key, presented: &str, jkt: Option<&str>) -> bool {
    match (refresh_binding(presented), jkt) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some((token, tag)), Some(jkt)) => mcp_oauth_core::secret::constant_time_eq(
            tag.as_bytes(),
            binding_tag(key, token, jkt).as_bytes(),
        ),
    }
}

/// Verifies a JWT access token of ours: signature by a published key (by `kid`, with the
/// algorithm that key signs with), `typ`, `iss`, `exp` against the server's clock.
/// Returns `None` for anything else (opaque strings, foreign or expired tokens).
pub fn verify_own_access_token(state: &AppState, token: &str) -> Option<AccessTokenClaims> {
    let jws = Jws::parse(token, &SIGNING_ALGORITHMS).ok()?;
    let typ = jws.typ()?;
    if !typ.eq_ignore_ascii_case(ACCESS_TOKEN_JWT_TYPE)
        && !typ.eq_ignore_ascii_case("application/at+jwt")
    {
        return None;
    }
    let ring = state.keys().ring();
    let key = ring.verifiers.get(jws.kid()?)?;
    let claims: AccessTokenClaims = jws.verify_with([key]).ok()?;
    (claims.iss == state.config().issuer && claims.exp > state.now()).then_some(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    /// The serde form the hand-written JSON must equal.
    #[derive(Serialize)]
    struct Claims<'a> {
        iss: &'a str,
        sub: &'a str,
        aud: &'a str,
        exp: i64,
        iat: i64,
        jti: &'a str,
        client_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        scope: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        auth_time: Option<i64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        gid: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        cnf: Option<serde_json::Value>,
    }

    #[test]
    fn claims_json_matches_serde() {
        let mut req = AccessTokenRequest {
            client_id: "c1",
            subject: "u\"1",
            resource: "https://h.example/mcp",
            scope: Some("a b"),
            grant_id: Some("g"),
            auth_time: Some(17),
            cnf_jkt: Some("k\"1"),
        };
        for _ in 0..3 {
            let got = claims_json("https://as.example", &req, 200, -5, "j");
            let want = serde_json::to_vec(&Claims {
                iss: "https://as.example",
                sub: req.subject,
                aud: req.resource,
                exp: 200,
                iat: -5,
                jti: "j",
                client_id: req.client_id,
                scope: req.scope.filter(|s| !s.is_empty()),
                auth_time: req.auth_time,
                gid: req.grant_id,
                cnf: req.cnf_jkt.map(|j| serde_json::json!({ "jkt": j })),
            })
            .unwrap();
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(want).unwrap()
            );
            req.scope = if req.scope == Some("a b") {
                Some("")
            } else {
                None
            };
            req.grant_id = None;
            req.auth_time = None;
            req.cnf_jkt = None;
        }
    }

    #[test]
    fn a_bound_refresh_token_needs_its_key() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"k");
        let plain = new_refresh_token();
        assert!(refresh_binding_allows(&key, &plain, None));
        assert!(refresh_binding_allows(&key, &plain, Some("any")));
        let bound = bind_refresh_token(&key, &plain, "jkt1");
        assert!(is_bound_refresh_token(&bound) && !is_bound_refresh_token(&plain));
        assert!(refresh_binding_allows(&key, &bound, Some("jkt1")));
        assert!(!refresh_binding_allows(&key, &bound, Some("jkt2")));
        assert!(!refresh_binding_allows(&key, &bound, None));
        let other_server = hmac::Key::new(hmac::HMAC_SHA256, b"other");
        assert!(!refresh_binding_allows(&other_server, &bound, Some("jkt1")));
        // A tag moved onto another token does not fit it.
        let (_, tag) = bound.split_once('.').unwrap();
        let moved = format!("{}.{tag}", new_refresh_token());
        assert!(!refresh_binding_allows(&key, &moved, Some("jkt1")));
    }
}
