//! Property-based fuzzing (proptest, stable Rust) of the metadata documents a client reads from
//! peers: authorization server metadata (RFC 8414), protected resource metadata (RFC 9728) and
//! client metadata (RFC 7591, also the Client ID Metadata Document). The MCP client parses every
//! document it fetches with these types (`mcp_oauth_client::discovery`), and the server parses
//! CIMD documents with `ClientMetadata`.
//!
//! A short seeded run is part of `cargo test`; `MCP_OAUTH_FUZZ_CASES=1000000` runs as many
//! cases per target (see docs/security.md, "Fuzzing").
//!
//! Invariants:
//! - no panic on any bytes;
//! - a document decides exactly as a plain `serde_json::Value` reading would: every member the
//!   type knows holds what the `Value` holds under that name, and what the type does not know is
//!   kept in `extra`, unchanged;
//! - a document with a member it reads written twice is refused (two readers must never see
//!   two different issuers in one document); an unknown member written twice is kept once, as
//!   `Value` keeps it (the last);
//! - what parses, serialises and parses back to the same document.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use mcp_oauth_core::metadata::{
    AuthorizationServerMetadata, ClientMetadata, ProtectedResourceMetadata,
};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

fn config() -> proptest::test_runner::Config {
    common::config(1_000, 0x6d63_702d_6d65_7461)
}

/// Member names: the known ones of all three documents, look-alikes, and arbitrary text.
fn member() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => known_members(),
        1 => prop::sample::select(vec!["Issuer", "issuer ", "iss\u{0075}er\u{200b}", "x"])
            .prop_map(str::to_owned),
        1 => "\\PC{0,8}",
    ]
}

/// Members each document reads (a sample: those a forged document would most want to double).
const AS_MEMBERS: &[&str] = &[
    "issuer",
    "token_endpoint",
    "code_challenge_methods_supported",
];
const PRM_MEMBERS: &[&str] = &["resource", "authorization_servers", "scopes_supported"];
const CLIENT_MEMBERS: &[&str] = &["client_id", "redirect_uris", "jwks", "client_name"];

fn known_member() -> impl Strategy<Value = &'static str> {
    prop::sample::select([AS_MEMBERS, PRM_MEMBERS, CLIENT_MEMBERS].concat())
}

/// Member names the documents read.
fn known_members() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "registration_endpoint",
        "scopes_supported",
        "response_types_supported",
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
        "code_challenge_methods_supported",
        "authorization_response_iss_parameter_supported",
        "client_id_metadata_document_supported",
        "resource",
        "authorization_servers",
        "bearer_methods_supported",
        "resource_name",
        "client_id",
        "client_name",
        "redirect_uris",
        "grant_types",
        "token_endpoint_auth_method",
        "jwks",
        "scope",
    ])
    .prop_map(str::to_owned)
}

/// JSON values of every kind, nested a little.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        prop::sample::select(vec!["https://as.example", "S256", "code", "none"])
            .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((member(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A document: an object of known and unknown members with values of any type.
fn document() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec((member(), value()), 0..10).prop_map(|kv| kv.into_iter().collect())
}

/// Parses `text` as `T` and, when that succeeds, checks the invariants against `Value`.
fn check<T>(text: &str) -> Result<(), TestCaseError>
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    let typed = serde_json::from_str::<T>(text);
    let plain = serde_json::from_str::<Value>(text);
    let Ok(doc) = typed else {
        return Ok(());
    };
    let plain = plain.map_err(|e| {
        TestCaseError::fail(format!(
            "typed parse accepted what Value refuses ({e}): {text}"
        ))
    })?;
    let Value::Object(plain) = plain else {
        return Err(TestCaseError::fail(format!(
            "accepted a non-object: {text}"
        )));
    };
    // Every member, known or kept in `extra`, reads back as `Value` read it (absent optional
    // members and `null` both read as absent).
    let Value::Object(back) = serde_json::to_value(&doc).unwrap() else {
        return Err(TestCaseError::fail("serialised to a non-object"));
    };
    for (name, v) in &plain {
        let got = back.get(name).unwrap_or(&Value::Null);
        prop_assert_eq!(got, v, "member {} of {}", name, text);
    }
    for (name, v) in &back {
        let had = plain.get(name);
        prop_assert!(
            had == Some(v) || (had.is_none() && is_empty_default(v)),
            "member {} appeared as {} from {}",
            name,
            v,
            text
        );
    }
    let again: T = serde_json::from_value(Value::Object(back)).unwrap();
    prop_assert_eq!(again, doc);
    Ok(())
}

/// A member the type writes though the document had none: only a required list's empty default.
fn is_empty_default(v: &Value) -> bool {
    matches!(v, Value::Array(a) if a.is_empty()) || matches!(v, Value::String(s) if s.is_empty())
}

proptest! {
    #![proptest_config(config())]

    /// No panic on any bytes, for all three documents.
    #[test]
    fn metadata_documents_of_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = serde_json::from_slice::<AuthorizationServerMetadata>(&bytes);
        let _ = serde_json::from_slice::<ProtectedResourceMetadata>(&bytes);
        let _ = serde_json::from_slice::<ClientMetadata>(&bytes);
    }

    /// What parses decides as `Value` would, keeps unknown members, and round-trips.
    #[test]
    fn metadata_documents_read_as_value_reads_them(doc in document()) {
        let text = Value::Object(doc).to_string();
        check::<AuthorizationServerMetadata>(&text)?;
        check::<ProtectedResourceMetadata>(&text)?;
        check::<ClientMetadata>(&text)?;
    }

    /// A member the document reads, written twice, is refused (an unknown one is only kept).
    #[test]
    fn metadata_documents_with_a_repeated_member_are_refused(
        doc in document(),
        name in known_member(),
        first in value(),
        second in value(),
    ) {
        let mut text = Value::Object(doc).to_string();
        text.pop();
        if !text.ends_with('{') {
            text.push(',');
        }
        let quoted = Value::String(name.to_owned()).to_string();
        text.push_str(&format!("{quoted}:{first},{quoted}:{second}}}"));
        if AS_MEMBERS.contains(&name) {
            prop_assert!(serde_json::from_str::<AuthorizationServerMetadata>(&text).is_err(), "{}", text);
        }
        if PRM_MEMBERS.contains(&name) {
            prop_assert!(serde_json::from_str::<ProtectedResourceMetadata>(&text).is_err(), "{}", text);
        }
        if CLIENT_MEMBERS.contains(&name) {
            prop_assert!(serde_json::from_str::<ClientMetadata>(&text).is_err(), "{}", text);
        }
    }
}
