//! Property-based fuzzing (proptest, stable Rust) of the form parser and the redirect matcher.
//!
//! A short seeded run is part of `cargo test`; `MCP_OAUTH_FUZZ_CASES=1000000` runs as many
//! cases per target (see docs/security.md, "Fuzzing: server").
//!
//! Invariants:
//! - `OAuthParams::parse`: never panics; it fails exactly when a name appears twice (whatever
//!   the values), and otherwise holds exactly the pairs with a non-empty value.
//! - `redirect::matches`: accepts nothing that exact string comparison rejects, except a
//!   loopback `http` URI that differs from the registered one only in its port.

mod common;

use mcp_oauth_core::form::{FormError, OAuthParams};
use mcp_oauth_core::redirect;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn config() -> proptest::test_runner::Config {
    common::config(2_000, 0x6d63_702d_6f61_7574)
}

/// Bytes that look like a form: names and values from a small alphabet (so repeats happen),
/// percent escapes, `+`, stray `=` and `&`, and arbitrary bytes.
fn form_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"a".to_vec()),
        Just(b"b".to_vec()),
        Just(b"code".to_vec()),
        Just(b"=".to_vec()),
        Just(b"&".to_vec()),
        Just(b"%61".to_vec()),
        Just(b"%".to_vec()),
        Just(b"%zz".to_vec()),
        Just(b"+".to_vec()),
        Just(b"%00".to_vec()),
        Just(vec![0xff, 0xfe]),
        proptest::collection::vec(any::<u8>(), 0..4),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

fn redirect_pieces() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        Just("http"),
        Just("https"),
        Just("HTTP"),
        Just("com.example.app"),
    ];
    let host = prop_oneof![
        Just("127.0.0.1"),
        Just("localhost"),
        Just("LOCALHOST"),
        Just("[::1]"),
        Just("127.1"),
        Just("127.0.0.1.evil.example"),
        Just("evil.example"),
        Just("u@127.0.0.1"),
        Just("127.0.0.1\\@evil.example"),
        Just(""),
    ];
    let port = prop_oneof![
        Just(""),
        Just(":8080"),
        Just(":0"),
        Just(":"),
        Just(":80\\@evil.example"),
        Just(":-1"),
        Just(":99999999999999"),
        Just(":８０"),
    ];
    let path = prop_oneof![
        Just(""),
        Just("/"),
        Just("/cb"),
        Just("/cb/"),
        Just("/%2e%2e/cb"),
        Just("\\cb"),
        Just("//evil.example/cb"),
        Just("/CB"),
    ];
    let query = prop_oneof![Just(""), Just("?a=1"), Just("?"), Just("?a=1&a=2")];
    let fragment = prop_oneof![Just(""), Just("#f"), Just("#")];
    (scheme, host, port, path, query, fragment, "[ -~]{0,3}")
        .prop_map(|(s, h, p, pa, q, f, tail)| format!("{s}://{h}{p}{pa}{q}{f}{tail}"))
}

/// The URI with the port of its authority removed and an empty path written `/`: what two
/// URIs that differ only in the port have in common. Independent of the crate's own splitter.
fn without_port(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => &authority[..i],
        _ => authority,
    };
    let tail = if tail.is_empty() || tail.starts_with(['?', '#']) {
        format!("/{tail}")
    } else {
        tail.to_owned()
    };
    Some(format!("http://{host}{tail}"))
}

fn is_loopback_literal(authority_host: &str) -> bool {
    authority_host.eq_ignore_ascii_case("localhost")
        || authority_host == "[::1]"
        || authority_host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|a| a.is_loopback())
}

fn host_of(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("http://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    Some(match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => &authority[..i],
        _ => authority,
    })
}

fn check_redirect(registered: &str, requested: &str) -> Result<(), TestCaseError> {
    if !redirect::matches(registered, requested) || registered == requested {
        return Ok(());
    }
    // Accepted though not equal: only the loopback port may differ.
    let host = host_of(registered);
    prop_assert!(
        host.is_some_and(is_loopback_literal),
        "not a loopback http URI: {registered:?} ~ {requested:?}"
    );
    prop_assert_eq!(host, host_of(requested));
    prop_assert!(!requested.contains('#'), "{:?}", requested);
    prop_assert_eq!(without_port(registered), without_port(requested));
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn form_parsing_refuses_every_repeat(input in form_bytes()) {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&input)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut seen = BTreeMap::new();
        let mut repeated = false;
        for (k, v) in &pairs {
            repeated |= seen.insert(k.clone(), v.clone()).is_some();
        }
        match OAuthParams::parse(&input) {
            Err(FormError::Duplicate(name)) => {
                prop_assert!(repeated, "refused without a repeat: {input:?}");
                prop_assert!(pairs.iter().filter(|(k, _)| *k == name).count() > 1);
            }
            Err(e) => prop_assert!(false, "unexpected error {e:?}"),
            Ok(p) => {
                prop_assert!(!repeated, "a repeated parameter was accepted: {input:?}");
                let expected: Vec<(&str, &str)> = pairs
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect::<BTreeMap<_, _>>()
                    .into_iter()
                    .collect();
                prop_assert_eq!(p.iter().collect::<Vec<_>>(), expected);
            }
        }
    }

    #[test]
    fn form_parsing_never_panics_on_any_bytes(input in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = OAuthParams::parse(&input);
    }

    #[test]
    fn redirect_matching_is_exact_but_for_the_loopback_port(
        registered in redirect_pieces(),
        requested in redirect_pieces(),
    ) {
        check_redirect(&registered, &requested)?;
        let _ = redirect::validate(&registered);
        let _ = redirect::validate(&requested);
    }

    #[test]
    fn redirect_matching_of_arbitrary_strings(
        registered in "\\PC{0,40}",
        requested in "\\PC{0,40}",
    ) {
        check_redirect(&registered, &requested)?;
        check_redirect(&registered, &registered)?;
    }
}

#[test]
fn the_oracle_sees_ports() {
    assert_eq!(
        without_port("http://127.0.0.1:8080/cb?x#f").as_deref(),
        Some("http://127.0.0.1/cb?x#f")
    );
    assert_eq!(
        without_port("http://[::1]:9").as_deref(),
        Some("http://[::1]/")
    );
    assert!(redirect::matches(
        "http://127.0.0.1/cb",
        "http://127.0.0.1:4711/cb"
    ));
}
