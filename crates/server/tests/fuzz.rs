//! Property-based fuzzing (proptest, stable Rust) of what the server reads from strangers.
//!
//! A short seeded run is part of `cargo test`; `MCP_OAUTH_FUZZ_CASES=1000000` runs as many
//! cases per target (see docs/security.md, "Fuzzing: server").
//!
//! Invariants:
//! - the URL and host classifier of the SSRF guard never panics, and refuses every URL whose
//!   WHATWG-parsed host is a special-use IP address, whatever its spelling (`127.1`,
//!   `2130706433`, `0x7f000001`, `0177.0.0.1`, IPv4-mapped IPv6, …); the canonical host of a
//!   client id URL is the one the fetcher would connect to, so a deny list naming the address
//!   in any spelling refuses it;
//! - CIMD and DCR metadata validation never panics and never answers with a 5xx;
//! - client assertions (`private_key_jwt`): any header, any claims, signed or not, never panic,
//!   are refused with `401 invalid_client` unless every rule holds, and an `aud` array is never
//!   accepted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mcp_oauth_core::clock::TestClock;
use mcp_oauth_core::jose::{Algorithm, SigningKey};
use mcp_oauth_server::admin::{self, NewClient};
use mcp_oauth_server::cimd::{document, trust};
use mcp_oauth_server::client_metadata::{self as metadata, Rules};
use mcp_oauth_server::fetch::SafeFetcher;
use mcp_oauth_server::fetch::host;
use mcp_oauth_server::fetch::ip::{AddressClass, classify};
use mcp_oauth_server::keys::kek::Kek;
use mcp_oauth_server::store::memory::MemoryStore;
use mcp_oauth_server::{AppState, AuthorizationServer, ServerConfig, client_assertion};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

fn config(default_cases: u32) -> Config {
    let cases = std::env::var("MCP_OAUTH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x7365_7276_6572_2d66),
        ..Config::default()
    }
}

// ------------------------------------------------------------------ SSRF guard

/// An IPv4 address, biased towards the special-use ranges.
fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![
        any::<u32>().prop_map(Ipv4Addr::from),
        (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(b, c, d)| Ipv4Addr::new(127, b, c, d)),
        (any::<u8>(), any::<u8>()).prop_map(|(c, d)| Ipv4Addr::new(169, 254, c, d)),
        (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(b, c, d)| Ipv4Addr::new(10, b, c, d)),
        (any::<u8>(), any::<u8>()).prop_map(|(c, d)| Ipv4Addr::new(192, 168, c, d)),
        Just(Ipv4Addr::UNSPECIFIED),
        Just(Ipv4Addr::new(8, 8, 8, 8)),
    ]
}

/// Every way WHATWG lets one write an IPv4 address in a host.
fn spell_v4(a: Ipv4Addr, form: u8) -> String {
    let [w, x, y, z] = a.octets();
    let n = u32::from(a);
    match form % 8 {
        0 => a.to_string(),
        1 => n.to_string(),
        2 => format!("0x{n:x}"),
        3 => format!("0{w:o}.0{x:o}.0{y:o}.0{z:o}"),
        4 => format!("{w}.{}", n & 0x00ff_ffff),
        5 => format!("{w}.{x}.{}", n & 0xffff),
        6 => format!("0x{w:X}.{x}.0{y:o}.{z}"),
        _ => format!("[::ffff:{a}]"),
    }
}

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    prop_oneof![
        any::<u128>().prop_map(Ipv6Addr::from),
        Just(Ipv6Addr::LOCALHOST),
        Just(Ipv6Addr::UNSPECIFIED),
        any::<u64>().prop_map(|l| Ipv6Addr::from((0xfd00u128 << 112) | u128::from(l))),
        any::<u64>().prop_map(|l| Ipv6Addr::from((0xfe80u128 << 112) | u128::from(l))),
        ipv4().prop_map(|a| a.to_ipv6_mapped()),
        ipv4().prop_map(|a| a.to_ipv6_compatible()),
    ]
}

fn spell_v6(a: Ipv6Addr, form: u8) -> String {
    let s = a.segments();
    match form % 3 {
        0 => format!("[{a}]"),
        1 => format!(
            "[{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}]",
            s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
        ),
        _ => format!(
            "[{:04X}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}:{:04x}]",
            s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
        ),
    }
}

fn host_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (ipv4(), any::<u8>()).prop_map(|(a, f)| spell_v4(a, f)),
        (ipv6(), any::<u8>()).prop_map(|(a, f)| spell_v6(a, f)),
        Just("localhost".to_owned()),
        Just("ｌｏｃａｌｈｏｓｔ".to_owned()),
        Just("LOCALHOST.".to_owned()),
        Just("app.example".to_owned()),
        Just("\u{430}pple.example".to_owned()),
        "[a-z0-9.\\-]{1,12}",
        "\\PC{1,8}",
    ]
}

fn url_text() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![Just("https"), Just("http"), Just("HTTPS"), Just("ftp")];
    let sep = prop_oneof![Just("://"), Just(":/"), Just(":\\\\"), Just("://u@")];
    let port = prop_oneof![
        Just(String::new()),
        (0u32..70_000).prop_map(|p| format!(":{p}"))
    ];
    let path = prop_oneof![
        Just("/client.json"),
        Just(""),
        Just("/"),
        Just("\\x/c"),
        Just("/a/../c"),
        Just("/c?q=1"),
        Just("/c#f"),
    ];
    (scheme, sep, host_text(), port, path)
        .prop_map(|(s, sep, h, p, pa)| format!("{s}{sep}{h}{p}{pa}"))
}

fn fetcher() -> &'static SafeFetcher {
    static F: OnceLock<SafeFetcher> = OnceLock::new();
    F.get_or_init(|| {
        SafeFetcher::new(false, Duration::from_millis(10), Duration::from_millis(10))
            .expect("a fetcher")
    })
}

fn literal(u: &url::Url) -> Option<IpAddr> {
    match u.host()? {
        url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
        url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
        url::Host::Domain(_) => None,
    }
}

fn check_classifier(s: &str) -> Result<(), TestCaseError> {
    let fetch_ok = fetcher().check_url(s).is_ok();
    let doc = document::check_url(s);
    let Ok(parsed) = url::Url::parse(s) else {
        prop_assert!(!fetch_ok, "fetchable though not a URL: {s:?}");
        prop_assert!(doc.is_err());
        return Ok(());
    };
    if let Some(ip) = literal(&parsed)
        && classify(ip) != AddressClass::Public
    {
        prop_assert!(!fetch_ok, "special-use {ip} fetchable: {s:?}");
    }
    if let Ok(d) = doc {
        prop_assert!(!s.contains('\\'), "a backslash passed: {s:?}");
        // The canonical host is the one the fetcher would connect to.
        prop_assert_eq!(Some(d.host.clone()), host::of_url(&parsed));
        prop_assert_eq!(&d.url, &parsed);
        if let Some(ip) = literal(&parsed) {
            // A deny list naming the address, in its plain spelling, refuses every spelling.
            let plain = match ip {
                IpAddr::V6(v6) => v6
                    .to_ipv4_mapped()
                    .map_or(v6.to_string(), |v4| v4.to_string()),
                v4 => v4.to_string(),
            };
            prop_assert!(
                !trust::host_allowed(&d.host, &[], std::slice::from_ref(&plain)),
                "{s:?} ~ {plain}"
            );
            if plain.contains(':') {
                let bracketed = format!("[{plain}]");
                prop_assert!(!trust::host_allowed(&d.host, &[], &[bracketed]), "{s:?}");
            }
        }
        // What the consent page shows is ASCII.
        prop_assert!(d.host.is_ascii(), "{:?}", d.host);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(3_000))]

    #[test]
    fn ssrf_classifier_refuses_every_spelling_of_special_addresses(s in url_text()) {
        check_classifier(&s)?;
    }

    #[test]
    fn ssrf_classifier_never_panics_on_any_string(s in "\\PC{0,60}") {
        check_classifier(&s)?;
    }

    #[test]
    fn canonical_text_of_any_list_entry_is_stable(s in host_text()) {
        let once = host::canonical_text(&s);
        prop_assert_eq!(host::canonical_text(&once), once.clone(), "{:?}", s);
    }
}

// ------------------------------------------------------------- metadata validation

/// JSON values with the keys RFC 7591 and CIMD documents use, and values of every type.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop_oneof![
            Just("https://app.example/cb".to_owned()),
            Just("http://127.0.0.1/callback".to_owned()),
            Just("com.example.app:/cb".to_owned()),
            Just("none".to_owned()),
            Just("private_key_jwt".to_owned()),
            Just("client_secret_basic".to_owned()),
            Just("authorization_code".to_owned()),
            Just("client_credentials".to_owned()),
            Just("code".to_owned()),
            Just("mcp:tools files:read".to_owned()),
            "\\PC{0,20}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((metadata_key(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn metadata_key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("client_id"),
        Just("client_name"),
        Just("redirect_uris"),
        Just("grant_types"),
        Just("response_types"),
        Just("token_endpoint_auth_method"),
        Just("scope"),
        Just("jwks"),
        Just("jwks_uri"),
        Just("keys"),
        Just("kty"),
        Just("crv"),
        Just("x"),
        Just("y"),
        Just("logo_uri"),
        Just("client_uri"),
        Just("client_secret"),
        Just("client_secret_expires_at"),
        Just("software_id"),
        Just("contacts"),
    ]
    .prop_map(str::to_owned)
}

fn no_jwks_fetch(_: &str) -> Result<(), String> {
    Ok(())
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn dcr_and_cimd_metadata_never_panic_nor_fail_as_5xx(
        v in json_value(),
        top in proptest::collection::vec((metadata_key(), json_value()), 0..10),
        document in any::<bool>(),
        allow_cc in any::<bool>(),
    ) {
        // Both arbitrary values and objects built from the real vocabulary.
        let obj = Value::Object(top.into_iter().collect());
        let schemes = default_schemes();
        for body in [&v, &obj] {
            let rules = Rules {
                allow_client_credentials: allow_cc,
                document,
                check_jwks_uri: &no_jwks_fetch,
                redirect_schemes: &schemes,
            };
            if let Err(e) = metadata::validate(body, &rules) {
                prop_assert!(e.status.is_client_error(), "{} for {body}", e.status);
            }
            let id = "https://app.example/client.json";
            let mut doc = body.clone();
            if let Some(o) = doc.as_object_mut() {
                o.insert("client_id".into(), id.into());
            }
            let _ = document::validate(id, doc.to_string().as_bytes(), &no_jwks_fetch, &schemes);
            let _ = document::validate(id, body.to_string().as_bytes(), &no_jwks_fetch, &schemes);
        }
    }

    #[test]
    fn cimd_documents_of_arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = document::validate("https://app.example/client.json", &bytes, &no_jwks_fetch, &default_schemes());
    }
}

// ---------------------------------------------------------------- client assertions

struct AssertionHarness {
    runtime: tokio::runtime::Runtime,
    state: AppState,
    key: SigningKey,
    now: i64,
}

const ISSUER: &str = "http://127.0.0.1:9";
const CLIENT: &str = "fuzz-jwt";

fn harness() -> &'static AssertionHarness {
    static H: OnceLock<AssertionHarness> = OnceLock::new();
    H.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let key = SigningKey::generate(Algorithm::ES256).expect("a key");
        let now = 1_800_000_000;
        let state = runtime.block_on(async {
            let store: Arc<MemoryStore> = Arc::new(MemoryStore::new());
            let mut config = ServerConfig::new(ISSUER);
            // A random `sub` may be an https URL: never fetch it as a metadata document here.
            config.cimd_enabled = false;
            let config = config.validate().expect("config");
            let server = AuthorizationServer::new(
                config,
                store.clone(),
                Kek::generate().expect("kek"),
                Arc::new(TestClock::new(now)),
            )
            .await
            .expect("server");
            admin::add_client(
                store.as_ref(),
                NewClient {
                    name: "Fuzz".into(),
                    grant_types: vec!["client_credentials".into()],
                    client_id: Some(CLIENT.into()),
                    jwks: Some(json!({"keys": [key.public_jwk()]})),
                    ..Default::default()
                },
                now,
            )
            .await
            .expect("client");
            server.state().clone()
        });
        AssertionHarness {
            runtime,
            state,
            key,
            now,
        }
    })
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Claims close to a good assertion, each field possibly replaced by anything.
fn claims() -> impl Strategy<Value = Value> {
    let h = || harness().now;
    let field = |good: Value| {
        prop_oneof![
            3 => Just(Some(good)),
            1 => Just(None),
            1 => json_value().prop_map(Some),
        ]
    };
    let aud = prop_oneof![
        Just(json!(ISSUER)),
        Just(json!(format!("{ISSUER}/token"))),
        Just(json!([ISSUER])),
        Just(json!([ISSUER, "https://other-as.example"])),
        Just(json!("https://other-as.example")),
    ];
    (
        field(json!(CLIENT)),
        field(json!(CLIENT)),
        aud.prop_flat_map(field),
        field(json!(h() + 60)),
        field(json!(h())),
        field(json!("jti")),
        "[a-z0-9]{8}",
    )
        .prop_map(|(iss, sub, aud, exp, iat, jti, nonce)| {
            let mut m = serde_json::Map::new();
            for (k, v) in [
                ("iss", iss),
                ("sub", sub),
                ("aud", aud),
                ("exp", exp),
                ("iat", iat),
            ] {
                if let Some(v) = v {
                    m.insert(k.into(), v);
                }
            }
            if let Some(j) = jti {
                // Unique per case, so replay protection does not hide the other rules.
                m.insert("jti".into(), json!(format!("{j}-{nonce}")));
            }
            Value::Object(m)
        })
}

fn header() -> impl Strategy<Value = Value> {
    let alg = prop_oneof![
        Just(json!("ES256")),
        Just(json!("none")),
        Just(json!("HS256")),
        Just(json!("RS256")),
        Just(json!("EdDSA")),
        json_value(),
    ];
    (
        alg,
        proptest::option::of(json_value()),
        proptest::option::of(json_value()),
    )
        .prop_map(|(alg, kid, typ)| {
            let mut m = serde_json::Map::new();
            m.insert("alg".into(), alg);
            if let Some(k) = kid {
                m.insert("kid".into(), k);
            }
            if let Some(t) = typ {
                m.insert("typ".into(), t);
            }
            Value::Object(m)
        })
}

/// The rules of `client_assertion`, written again from RFC 7523 §3 and docs/security.md.
fn rules_hold(c: &Value, now: i64) -> bool {
    c["iss"] == CLIENT
        && c["sub"] == CLIENT
        && (c["aud"] == ISSUER || c["aud"] == format!("{ISSUER}/token"))
        && c["exp"]
            .as_i64()
            .is_some_and(|e| e > now - 30 && e <= now + 300 + 30)
        && match c.get("iat") {
            None | Some(Value::Null) => true,
            Some(i) => i.as_i64().is_some_and(|i| i <= now + 30),
        }
        && c["jti"]
            .as_str()
            .is_some_and(|j| (1..=256).contains(&j.len()))
}

fn verify(assertion: &str) -> Result<(), mcp_oauth_server::error::OAuthError> {
    let h = harness();
    h.runtime
        .block_on(client_assertion::verify(&h.state, assertion, None))
        .map(|_| ())
}

proptest! {
    #![proptest_config(config(1_000))]

    #[test]
    fn signed_assertions_pass_only_when_every_rule_holds(c in claims()) {
        let h = harness();
        let assertion = h.key.sign("JWT", &c).expect("signs");
        match verify(&assertion) {
            Ok(()) => {
                prop_assert!(rules_hold(&c, h.now), "accepted: {c}");
                prop_assert!(!c["aud"].is_array(), "an aud array was accepted: {c}");
            }
            Err(e) => {
                prop_assert_eq!(e.status.as_u16(), 401, "{:?} for {}", e, c);
                prop_assert!(!rules_hold(&c, h.now), "refused a good assertion {c}: {e:?}");
            }
        }
    }

    #[test]
    fn any_header_and_payload_never_panic_and_are_refused(
        hdr in header(),
        c in claims(),
        sig in proptest::collection::vec(any::<u8>(), 0..80),
        raw in "\\PC{0,60}",
    ) {
        for assertion in [
            format!("{}.{}.{}", b64(hdr.to_string().as_bytes()), b64(c.to_string().as_bytes()), b64(&sig)),
            format!("{}.{}.", b64(hdr.to_string().as_bytes()), b64(c.to_string().as_bytes())),
            raw.clone(),
            format!("{raw}.{raw}.{raw}"),
        ] {
            let r = verify(&assertion);
            prop_assert!(r.is_err(), "a forged assertion passed: {assertion}");
            if let Err(e) = r {
                prop_assert!(e.status.as_u16() == 401 || e.status.as_u16() == 400, "{:?}", e);
            }
        }
    }
}

/// The server's default extra redirect URI schemes (`redirect_uri_schemes`).
fn default_schemes() -> Vec<String> {
    mcp_oauth_core::redirect::DEFAULT_EXTRA_SCHEMES
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}
