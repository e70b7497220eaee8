//! The ID token check (OpenID Connect Core §3.1.3.7), after the signature was verified through
//! `core::jws` with the provider's JWK Set and the algorithm allow-list (`VERIFY_ALGORITHMS`:
//! never `none`, never an HMAC, since we share no symmetric key with the provider):
//! `iss` is the provider's (by the preset's [`IssuerRule`]), `aud` names our client id, `azp` is
//! ours when present (and required with several audiences), `exp` has not passed, `iat` is
//! recent, `nonce` is the one this sign-in sent, and `sub` is there. Times are the server
//! clock's, with a minute of leeway for the provider's.

use super::presets::IssuerRule;
use mcp_oauth_core::clock::UnixTime;
use mcp_oauth_core::jose::VERIFY_ALGORITHMS;
use mcp_oauth_core::jws::{JwkKey, Jws, JwsError, KidRule};
use mcp_oauth_core::secret::constant_time_eq;
use serde_json::{Map, Value};

/// Clock skew accepted, in seconds.
const LEEWAY: i64 = 60;
/// How old an ID token may be when it arrives, in seconds: it was issued for this code exchange.
const MAX_AGE: i64 = 600;

/// What an ID token must say.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected<'a> {
    /// The provider's issuers.
    pub issuers: &'a IssuerRule,
    /// Our client id at the provider.
    pub client_id: &'a str,
    /// The nonce this sign-in sent.
    pub nonce: &'a str,
    /// Now, on the server clock.
    pub now: UnixTime,
}

/// Why an ID token was refused (shown on the failure page: none of it is secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum IdTokenError {
    /// Header, algorithm or signature.
    #[error("the ID token's signature cannot be verified: {0}")]
    Jws(JwsError),
    /// A claim check.
    #[error("the ID token {0}")]
    Claim(&'static str),
}

/// Parses the header; the caller then finds the keys (refetching the set for an unknown `kid`).
pub(crate) fn parse(token: &str) -> Result<Jws<'_>, IdTokenError> {
    Jws::parse(token, &VERIFY_ALGORITHMS).map_err(IdTokenError::Jws)
}

/// Verifies the signature with `keys` and checks the claims; returns them.
pub(crate) fn verify(
    jws: &Jws<'_>,
    keys: &[JwkKey],
    expected: &Expected<'_>,
) -> Result<Map<String, Value>, IdTokenError> {
    let claims: Map<String, Value> = jws
        .verify(keys, KidRule::OrUnnamed)
        .map_err(IdTokenError::Jws)?;
    check(&claims, expected)?;
    Ok(claims)
}

fn string<'c>(claims: &'c Map<String, Value>, name: &str) -> Option<&'c str> {
    claims.get(name).and_then(Value::as_str)
}

/// The claim checks alone.
pub(crate) fn check(claims: &Map<String, Value>, e: &Expected<'_>) -> Result<(), IdTokenError> {
    let iss = string(claims, "iss").ok_or(IdTokenError::Claim("has no issuer"))?;
    if !e
        .issuers
        .accepts(iss, string(claims, "tid"), string(claims, "ver"))
    {
        return Err(IdTokenError::Claim(
            "was issued by another issuer than this identity provider",
        ));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => return Err(IdTokenError::Claim("has no audience")),
    };
    if !audiences.contains(&e.client_id) {
        return Err(IdTokenError::Claim("is meant for another client"));
    }
    match string(claims, "azp") {
        Some(azp) if azp != e.client_id => {
            return Err(IdTokenError::Claim("was obtained by another client (azp)"));
        }
        None if audiences.len() > 1 => {
            return Err(IdTokenError::Claim(
                "has several audiences and no authorized party (azp)",
            ));
        }
        _ => {}
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(IdTokenError::Claim("has no expiry"))?;
    if exp + LEEWAY <= e.now {
        return Err(IdTokenError::Claim("has expired"));
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(IdTokenError::Claim("has no issue time"))?;
    if iat > e.now + LEEWAY || iat < e.now - MAX_AGE {
        return Err(IdTokenError::Claim(
            "was not issued just now (iat is too far from the server's time)",
        ));
    }
    let nonce = string(claims, "nonce").ok_or(IdTokenError::Claim("has no nonce"))?;
    if !constant_time_eq(nonce.as_bytes(), e.nonce.as_bytes()) {
        return Err(IdTokenError::Claim(
            "belongs to another sign-in (nonce mismatch)",
        ));
    }
    if string(claims, "sub").is_none_or(str::is_empty) {
        return Err(IdTokenError::Claim("has no subject"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_oauth_core::jose::{Algorithm, SigningKey};
    use serde_json::json;

    const NOW: i64 = 1_900_000_000;
    const ISS: &str = "https://idp.example";

    fn rule() -> IssuerRule {
        IssuerRule::Exact(vec![ISS.into()])
    }

    fn good() -> Value {
        json!({"iss": ISS, "aud": "us", "sub": "u1", "exp": NOW + 300, "iat": NOW - 5, "nonce": "n-1"})
    }

    fn with(mut v: Value, k: &str, x: Value) -> Map<String, Value> {
        if x.is_null() {
            v.as_object_mut().unwrap().remove(k);
        } else {
            v[k] = x;
        }
        v.as_object().unwrap().clone()
    }

    fn run(claims: &Map<String, Value>) -> Result<(), IdTokenError> {
        let r = rule();
        check(
            claims,
            &Expected {
                issuers: &r,
                client_id: "us",
                nonce: "n-1",
                now: NOW,
            },
        )
    }

    #[test]
    fn every_claim_is_checked() {
        assert_eq!(run(good().as_object().unwrap()), Ok(()));
        for (k, v, why) in [
            ("iss", json!("https://other.example"), "another issuer"),
            ("iss", Value::Null, "no issuer"),
            ("aud", json!("them"), "another client"),
            ("aud", json!(["us", "them"]), "several audiences"),
            ("azp", json!("them"), "another client (azp)"),
            ("exp", json!(NOW - 61), "expired"),
            ("iat", json!(NOW - 601), "not issued just now"),
            ("iat", json!(NOW + 61), "not issued just now"),
            ("nonce", json!("n-2"), "nonce mismatch"),
            ("nonce", Value::Null, "no nonce"),
            ("sub", json!(""), "no subject"),
        ] {
            let e = run(&with(good(), k, v.clone())).unwrap_err().to_string();
            assert!(e.contains(why), "{k}={v}: {e}");
        }
        let mut two = with(good(), "aud", json!(["us", "them"]));
        two.insert("azp".into(), json!("us"));
        assert_eq!(run(&two), Ok(()));
    }

    #[test]
    fn signatures_go_through_the_jwks_and_the_allow_list() {
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let other = SigningKey::generate(Algorithm::ES256).unwrap();
        let keys = JwkKey::set([key.public_jwk()], 10);
        let r = rule();
        let e = Expected {
            issuers: &r,
            client_id: "us",
            nonce: "n-1",
            now: NOW,
        };
        let token = key.sign("JWT", &good()).unwrap();
        assert!(verify(&parse(&token).unwrap(), &keys, &e).is_ok());
        let forged = other.sign("JWT", &good()).unwrap();
        assert!(matches!(
            verify(&parse(&forged).unwrap(), &keys, &e),
            Err(IdTokenError::Jws(_))
        ));
        // `alg: none` and HS256 never pass the header check.
        use base64::Engine;
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let none = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&good()));
        assert!(parse(&none).is_err());
        let hs = format!("{}.{}.c2ln", b64(&json!({"alg": "HS256"})), b64(&good()));
        assert!(parse(&hs).is_err());
    }
}
