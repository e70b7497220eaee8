//! Fuzz target of the JSON-RPC body reader (see [`crate::fuzz`] for how to run it long).
//!
//! Invariant: the reader decides exactly as `serde_json::from_slice::<Value>` followed by the
//! `Value`-based lookup would, or refuses. Precisely, for any bytes:
//! - it accepts ⇒ `Value` accepts, and the requirement (public or not, scopes: so the same
//!   `method`, `params.name`, `params.uri`) is the one computed through `Value`;
//! - `Value` refuses ⇒ it refuses;
//! - it refuses JSON that `Value` accepts only as [`BodyError::Ambiguous`] (a repeated or
//!   look-alike member);
//! - it never panics.

use super::tests::reference;
use super::*;
use proptest::prelude::*;

fn policy() -> ScopePolicy {
    ScopePolicy::new()
        .default_scopes("mcp")
        .method("tools/list", "mcp tools:list")
        .method("resources/*", "res")
        .tool("read_file", "files:read")
        .tool("write_file", "files:write")
        .resource("file:///home/*", "files:read")
        .resource("file:///etc/passwd", "root")
        .prompt("summarize", "prompts")
        .public_handshake()
}

/// Strings the policy cares about, spelled plainly or with JSON escapes, and others.
fn string_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#""tools/call""#.to_owned()),
        Just(r#""tools\/call""#.to_owned()),
        Just(r#""tools/list""#.to_owned()),
        Just(r#""resources/read""#.to_owned()),
        Just(r#""prompts/get""#.to_owned()),
        Just(r#""initialize""#.to_owned()),
        Just(r#""ping""#.to_owned()),
        Just(r#""notifications/initialized""#.to_owned()),
        Just(r#""read_file""#.to_owned()),
        Just(r#""write\u005ffile""#.to_owned()),
        Just(r#""summarize""#.to_owned()),
        Just(r#""file:///home/a""#.to_owned()),
        Just(r#""file:\/\/\/etc\/passwd""#.to_owned()),
        Just(r#""\ud800""#.to_owned()),
        Just(r#""\x""#.to_owned()),
        "[ -~]{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap_or_default()),
    ]
}

/// Keys: the members the policy reads, their look-alikes, and others.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just(r#""method""#.to_owned()),
        4 => Just(r#""params""#.to_owned()),
        4 => Just(r#""name""#.to_owned()),
        3 => Just(r#""uri""#.to_owned()),
        1 => Just(r#""Method""#.to_owned()),
        1 => Just(r#""NAME""#.to_owned()),
        1 => Just("\"param\u{17F}\"".to_owned()),
        1 => Just(r#""na\u006de""#.to_owned()),
        1 => Just(r#""URI""#.to_owned()),
        2 => Just(r#""jsonrpc""#.to_owned()),
        2 => Just(r#""id""#.to_owned()),
        2 => Just(r#""arguments""#.to_owned()),
        1 => "[a-z]{0,3}".prop_map(|s| format!("\"{s}\"")),
    ]
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("1e400".to_owned()),
        Just("-0.5".to_owned()),
        Just("01".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        string_literal(),
    ]
}

/// JSON-ish text (repeated keys allowed, odd whitespace, now and then invalid).
fn json_text() -> impl Strategy<Value = String> {
    scalar().prop_recursive(5, 48, 6, |inner| {
        let ws = prop_oneof![Just(""), Just(" "), Just("\n\t")];
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..5), ws.clone())
                .prop_map(|(items, w)| format!("[{w}{}]", items.join(","))),
            (prop::collection::vec((key(), inner), 0..6), ws)
                .prop_map(|(members, w)| {
                    let m: Vec<String> =
                        members.into_iter().map(|(k, v)| format!("{k}{w}:{v}")).collect();
                    format!("{{{}}}", m.join(","))
                }),
        ]
    })
}

/// One edit of a body: a byte replaced, inserted or removed at a position.
fn mutate(mut bytes: Vec<u8>, op: u8, at: usize, b: u8) -> Vec<u8> {
    if bytes.is_empty() {
        return vec![b];
    }
    let at = at % bytes.len();
    match op % 4 {
        0 => bytes[at] = b,
        1 => bytes.insert(at, b),
        2 => {
            bytes.remove(at);
        }
        _ => {}
    }
    bytes
}

fn check(p: &ScopePolicy, body: &[u8]) -> Result<(), TestCaseError> {
    let expected = reference(p, body);
    match p.requirement_for_body(body) {
        Ok(r) => prop_assert_eq!(Some(r), expected, "accepted differently"),
        Err(BodyError::NotJson(_)) => prop_assert!(expected.is_none(), "refused valid JSON"),
        // Ambiguous bodies are refused whatever `Value` thinks of them.
        Err(BodyError::Ambiguous(_)) => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(crate::fuzz::config())]

    #[test]
    fn fuzz_body_reader_structured(text in json_text(), batch in any::<bool>()) {
        let body = if batch { format!("[{text},{text}]") } else { text };
        check(&policy(), body.as_bytes())?;
    }

    #[test]
    fn fuzz_body_reader_mutated(text in json_text(), op in any::<u8>(), at in any::<usize>(), b in any::<u8>()) {
        check(&policy(), &mutate(text.into_bytes(), op, at, b))?;
    }

    #[test]
    fn fuzz_body_reader_bytes(body in prop::collection::vec(any::<u8>(), 0..128)) {
        check(&policy(), &body)?;
    }
}
