//! Shared settings of the property-based fuzz targets (proptest, stable Rust) of this crate.
//!
//! Each target states its invariant in its doc comment. `cargo test` runs a short seeded run
//! ([`DEFAULT_CASES`] cases, a fixed seed, so a failure reproduces); a long run sets
//! `MCP_OAUTH_FUZZ_CASES` (and, to explore other inputs, `MCP_OAUTH_FUZZ_SEED`):
//!
//! ```text
//! MCP_OAUTH_FUZZ_CASES=1000000 nice -n 19 cargo test --release -p mcp-oauth-resource --lib fuzz
//! ```

use proptest::test_runner::{Config, RngSeed};

/// Cases per target in an ordinary `cargo test`.
pub(crate) const DEFAULT_CASES: u32 = 512;

/// The run's configuration: `MCP_OAUTH_FUZZ_CASES` cases, seed `MCP_OAUTH_FUZZ_SEED`.
pub(crate) fn config() -> Config {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    Config {
        cases: env("MCP_OAUTH_FUZZ_CASES").map_or(DEFAULT_CASES, |n| n.min(u32::MAX as u64) as u32),
        rng_seed: RngSeed::Fixed(env("MCP_OAUTH_FUZZ_SEED").unwrap_or(0x6d63_705f_6f61)),
        failure_persistence: None,
        ..Config::default()
    }
}

/// The bearer extractor (`Authorization`) and the content checks of the fail-closed reader.
///
/// Invariants: never a panic; a token is returned only if it matches `token68` and is what
/// follows the scheme in the one header; every `token68` string sent as `Bearer <t>` (any case,
/// any spaces) comes back exactly.
mod extract_targets {
    use crate::extract::{bearer_token, is_token68, MAX_TOKEN_LEN};
    use http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE};
    use http::{HeaderMap, HeaderValue};
    use proptest::prelude::*;

    fn header(bytes: &[u8]) -> Option<HeaderMap> {
        let v = HeaderValue::from_bytes(bytes).ok()?;
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, v);
        Some(h)
    }

    proptest! {
        #![proptest_config(super::config())]

        #[test]
        fn fuzz_bearer_extractor_bytes(raw in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Some(h) = header(&raw)
                && let Ok(Some(t)) = bearer_token(&h)
            {
                prop_assert!(is_token68(t));
                prop_assert!(t.len() <= MAX_TOKEN_LEN);
                let text = String::from_utf8_lossy(&raw);
                prop_assert!(text.trim_end().ends_with(t));
            }
        }

        #[test]
        fn fuzz_bearer_extractor_round_trip(
            scheme in "[bB][eE][aA][rR][eE][rR]",
            spaces in "[ \t]{1,3}",
            token in "[A-Za-z0-9._~+/-]{1,40}=?=?",
        ) {
            let h = header(format!("{scheme}{spaces}{token}").as_bytes()).unwrap();
            prop_assert_eq!(bearer_token(&h), Ok(Some(token.as_str())));
        }

        #[test]
        fn fuzz_content_checks(ctype in prop::collection::vec(any::<u8>(), 0..48), enc in "[ -~]{0,16}", body in prop::collection::vec(any::<u8>(), 0..8)) {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_bytes(&ctype) {
                h.insert(CONTENT_TYPE, v);
            }
            if let Ok(v) = HeaderValue::from_str(&enc) {
                h.insert(CONTENT_ENCODING, v);
            }
            // Accepted only with an application/json essence and no coding but identity.
            if crate::content::check_json_post(&h).is_ok() {
                let t = h[CONTENT_TYPE].to_str().unwrap().to_ascii_lowercase();
                prop_assert!(t.split(';').next().unwrap().trim() == "application/json");
                if let Some(e) = h.get(CONTENT_ENCODING) {
                    prop_assert!(e.to_str().unwrap().split(',').all(|c| c.trim().eq_ignore_ascii_case("identity")));
                }
            }
            let _ = crate::content::check_json_bytes(&body);
        }
    }
}

/// The JOSE header and claims parsing of [`crate::JwtVerifier`].
///
/// Invariants: never a panic, whatever the bytes: arbitrary strings; three base64url parts of
/// arbitrary bytes; a header of arbitrary JSON members; and correctly signed tokens whose
/// payload is arbitrary bytes or arbitrary claims (so the claim checks run on hostile values).
/// A token is accepted only if correctly signed with `typ` `at+jwt` and with the expected
/// issuer and audience.
mod jose_targets {
    use crate::verifier::TokenVerifier;
    use crate::JwtVerifier;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use mcp_oauth_core::clock::TestClock;
    use mcp_oauth_core::jose::{Algorithm, JwkSet, SigningKey};
    use proptest::prelude::*;
    use serde_json::{Value, json};
    use std::sync::{Arc, OnceLock};

    const ISS: &str = "https://as.example";
    const AUD: &str = "https://mcp.example/mcp";
    const NOW: i64 = 1_800_000_000;

    struct Fixture {
        key: SigningKey,
        verifier: JwtVerifier,
        rt: tokio::runtime::Runtime,
    }

    fn fixture() -> &'static Fixture {
        static F: OnceLock<Fixture> = OnceLock::new();
        F.get_or_init(|| {
            let key = SigningKey::generate(Algorithm::ES256).unwrap();
            let verifier = JwtVerifier::builder(ISS, AUD)
                .static_jwks(JwkSet { keys: vec![key.public_jwk().clone()] })
                .clock(Arc::new(TestClock::new(NOW)))
                .build()
                .unwrap();
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            Fixture { key, verifier, rt }
        })
    }

    fn verify(token: &str) -> bool {
        let f = fixture();
        f.rt.block_on(f.verifier.verify(token)).is_ok()
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    fn json_scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            Just(json!(ISS)),
            Just(json!(AUD)),
            Just(json!(NOW + 300)),
            "[ -~]{0,12}".prop_map(Value::from),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        json_scalar().prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Claims around the valid ones: each member dropped, kept or replaced by anything.
    fn claims() -> impl Strategy<Value = Value> {
        let member = |name: &'static str, good: Value| {
            prop_oneof![
                2 => Just(Some(good)),
                1 => Just(None),
                1 => json_value().prop_map(Some),
            ]
            .prop_map(move |v| (name, v))
        };
        (
            member("iss", json!(ISS)),
            member("aud", json!(AUD)),
            member("exp", json!(NOW + 300)),
            member("nbf", json!(NOW - 10)),
            member("iat", json!(NOW)),
            member("sub", json!("alice")),
            member("client_id", json!("c1")),
            member("scope", json!("mcp files:read")),
        )
            .prop_map(|t| {
                let mut m = serde_json::Map::new();
                for (k, v) in [t.0, t.1, t.2, t.3, t.4, t.5, t.6, t.7] {
                    if let Some(v) = v {
                        m.insert(k.to_owned(), v);
                    }
                }
                Value::Object(m)
            })
    }

    proptest! {
        #![proptest_config(super::config())]

        #[test]
        fn fuzz_jwt_strings(token in "[ -~]{0,200}") {
            prop_assert!(!verify(&token));
        }

        #[test]
        fn fuzz_jwt_parts(h in prop::collection::vec(any::<u8>(), 0..96), c in prop::collection::vec(any::<u8>(), 0..96), s in prop::collection::vec(any::<u8>(), 0..72)) {
            let token = format!("{}.{}.{}", b64(&h), b64(&c), b64(&s));
            prop_assert!(!verify(&token));
        }

        #[test]
        fn fuzz_jwt_headers(members in prop::collection::btree_map(prop_oneof![Just("alg".to_owned()), Just("typ".to_owned()), Just("kid".to_owned()), Just("crit".to_owned()), Just("jku".to_owned()), "[a-z]{1,3}"], json_value(), 0..5), sig in prop::collection::vec(any::<u8>(), 0..72)) {
            let header = Value::Object(members.into_iter().collect());
            let claims = json!({"iss": ISS, "aud": AUD, "exp": NOW + 300});
            let token = format!("{}.{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()), b64(&sig));
            prop_assert!(!verify(&token));
        }

        #[test]
        fn fuzz_jwt_signed_payload_bytes(payload in prop::collection::vec(any::<u8>(), 0..128)) {
            let token = fixture().key.sign_json("at+jwt", &payload).unwrap();
            // Bytes that are not a JSON object with the right iss/aud/exp are never accepted.
            let ok = verify(&token);
            if ok {
                let v: Value = serde_json::from_slice(&payload).unwrap();
                prop_assert_eq!(&v["iss"], &json!(ISS));
            }
        }

        #[test]
        fn fuzz_jwt_signed_claims(claims in claims()) {
            let token = fixture().key.sign("at+jwt", &claims).unwrap();
            if verify(&token) {
                prop_assert_eq!(&claims["iss"], &json!(ISS));
                prop_assert!(claims["exp"].is_number());
                let aud_ok = claims["aud"] == json!(AUD)
                    || claims["aud"].as_array().is_some_and(|a| a.contains(&json!(AUD)));
                prop_assert!(aud_ok);
            }
        }
    }
}
