//! The policy's unit tests.

use super::*;
use serde_json::json;

fn policy() -> ScopePolicy {
    ScopePolicy::new()
        .default_scopes("mcp")
        .method("tools/list", "mcp tools:list")
        .method("resources/*", "res")
        .tool("read_file", "files:read")
        .tool("write_file", "files:write")
        .resource("file:///home/*", "files:read")
        .resource("file:///home/secret/*", "secret")
        .resource("file:///etc/passwd", "root")
        .prompt("summarize", "prompts")
        .public_handshake()
}

fn need(p: &ScopePolicy, v: Value) -> Requirement {
    p.requirement_for_body(&serde_json::to_vec(&v).unwrap())
        .unwrap()
}

fn s(x: &str) -> ScopeSet {
    ScopeSet::parse(x).unwrap()
}

#[test]
fn single_messages() {
    let p = policy();
    assert!(p.validate().is_ok());
    let call = |name: &str| json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":name}});
    assert_eq!(need(&p, call("read_file")).scopes, s("files:read"));
    assert_eq!(need(&p, call("unknown")).scopes, s("mcp"));
    assert_eq!(
        need(&p, json!({"jsonrpc":"2.0","id":1,"method":"tools/list"})).scopes,
        s("mcp tools:list")
    );
    let read = |uri: &str| json!({"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":uri}});
    assert_eq!(need(&p, read("file:///home/a.txt")).scopes, s("files:read"));
    assert_eq!(need(&p, read("file:///home/secret/k")).scopes, s("secret"));
    assert_eq!(need(&p, read("file:///etc/passwd")).scopes, s("root"));
    // No resource rule: the `resources/*` method rule.
    assert_eq!(need(&p, read("file:///tmp/x")).scopes, s("res"));
    assert_eq!(
        need(
            &p,
            json!({"jsonrpc":"2.0","id":1,"method":"prompts/get","params":{"name":"summarize"}})
        )
        .scopes,
        s("prompts")
    );
    assert_eq!(
        need(&p, json!({"jsonrpc":"2.0","id":1,"method":"prompts/list"})).scopes,
        s("mcp")
    );
}

#[test]
fn public_handshake() {
    let p = policy();
    for m in ["initialize", "ping", "notifications/initialized"] {
        let r = need(&p, json!({"jsonrpc":"2.0","method":m}));
        assert!(r.public, "{m}");
    }
    assert!(!need(&p, json!({"jsonrpc":"2.0","id":1,"method":"tools/list"})).public);
    assert!(
        !ScopePolicy::new()
            .requirement_for_body(br#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#)
            .unwrap()
            .public
    );
}

#[test]
fn batches_union_and_public_only_if_all_are() {
    let p = policy();
    let r = need(
        &p,
        json!([
            {"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file"}},
            {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"write_file"}},
            {"jsonrpc":"2.0","method":"notifications/initialized"}
        ]),
    );
    assert!(!r.public);
    assert_eq!(r.scopes, s("files:read files:write"));
    let r = need(
        &p,
        json!([{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/cancelled"}]),
    );
    assert!(r.public);
}

#[test]
fn json_that_is_not_a_request_needs_default_and_is_not_public() {
    let p = policy();
    for body in [
        &b"[]"[..],
        b"42",
        b"null",
        br#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
    ] {
        let r = p.requirement_for_body(body).unwrap();
        assert!(!r.public);
        assert_eq!(r.scopes, s("mcp"));
    }
    assert_eq!(p.requirement_without_body().scopes, s("mcp"));
}

#[test]
fn bodies_that_are_not_json_are_refused() {
    let p = policy();
    for body in [&b"{not json"[..], b"", b"\xEF\xBB\xBF{}", b"\x1f\x8b\x08\x00"] {
        assert!(
            matches!(p.requirement_for_body(body), Err(BodyError::NotJson(_))),
            "{body:?}"
        );
    }
}

#[test]
fn repeated_and_lookalike_members_are_refused() {
    let p = policy();
    for body in [
        r#"{"method":"ping","method":"tools/call","params":{"name":"read_file"}}"#,
        r#"{"method":"tools/call","method":"ping"}"#,
        r#"{"method":"tools/call","params":{"name":"read_file","name":"write_file"}}"#,
        r#"{"method":"tools/call","params":{"name":"read_file"},"params":[1]}"#,
        r#"{"method":"tools/call","method":5,"params":{"name":"read_file"}}"#,
        r#"{"method":"resources/read","params":{"uri":"file:///home/a","uri":"file:///etc/passwd"}}"#,
        r#"{"method":"ping","Method":"tools/call"}"#,
        r#"{"METHOD":"tools/call"}"#,
        r#"{"method":"tools/call","params":{"name":"read_file","NAME":"write_file"}}"#,
        r#"{"method":"tools/call","params":{"name":"read_file","Name":"write_file"}}"#,
        r#"{"method":"resources/read","params":{"uri":"file:///home/a","URI":"x"}}"#,
        "{\"method\":\"tools/call\",\"param\u{017f}\":{\"name\":\"write_file\"}}",
        r#"[{"method":"ping"},{"method":"ping","Method":"tools/call"}]"#,
    ] {
        assert!(
            matches!(
                p.requirement_for_body(body.as_bytes()),
                Err(BodyError::Ambiguous(_))
            ),
            "{body}"
        );
        // Each of them is valid JSON: only the policy refuses it.
        assert!(serde_json::from_str::<Value>(body).is_ok(), "{body}");
    }
    // The same names elsewhere are not members the policy reads.
    for body in [
        r#"{"method":"tools/call","params":{"name":"read_file","arguments":{"name":1,"Name":2,"name":3}}}"#,
        r#"{"method":"tools/call","name":"x","NAME":"y","params":{"name":"read_file","method":"a","Method":"b"}}"#,
    ] {
        assert_eq!(
            p.requirement_for_body(body.as_bytes()).unwrap().scopes,
            s("files:read"),
            "{body}"
        );
    }
}

#[test]
fn escaped_strings_are_unescaped() {
    let p = policy();
    let r = p.requirement_for_body(
        br#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"na\u006de":"write\u005ffile"}}"#,
    );
    assert_eq!(r.unwrap().scopes, s("files:write"));
    let r = p.requirement_for_body(
        br#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:\/\/\/etc\/passwd"}}"#,
    );
    assert_eq!(r.unwrap().scopes, s("root"));
}

#[test]
fn large_arguments_are_skipped() {
    let p = policy();
    let big: Vec<Value> = (0..2000)
        .map(|i| json!({"k": i, "s": "x".repeat(50), "nested": [1.5, null, true, {"name": "zzz"}]}))
        .collect();
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
        "params":{"arguments":{"items": big, "name": "nope"},"name":"read_file"}});
    assert_eq!(need(&p, body).scopes, s("files:read"));
}

/// The requirement as computed before the borrowed reader: through `serde_json::Value`
/// (`None` when `Value` refuses the body).
pub(super) fn reference(p: &ScopePolicy, body: &[u8]) -> Option<Requirement> {
    Some(match serde_json::from_slice::<Value>(body).ok()? {
        Value::Array(batch) if !batch.is_empty() => {
            let mut out = Requirement::public();
            for msg in &batch {
                let r = p.requirement_for_message(msg);
                out.public &= r.public;
                if !r.public {
                    out.scopes = out.scopes.union(&r.scopes);
                }
            }
            out
        }
        msg @ Value::Object(_) => p.requirement_for_message(&msg),
        _ => p.requirement_without_body(),
    })
}

#[test]
fn same_answer_as_value_for_odd_bodies() {
    let p = policy();
    let deep = |n: usize| {
        format!(
            r#"{{"method":"tools/call","params":{{"name":"read_file","arguments":{}{}}}}}"#,
            "[".repeat(n),
            "]".repeat(n)
        )
    };
    let bodies: Vec<String> = [
        // Not strings, not objects.
        r#"{"method":["tools/call"],"params":{"name":"read_file"}}"#,
        r#"{"method":"tools/call","params":{"name":{"x":"read_file"}}}"#,
        r#"{"method":"tools/call","params":["read_file"]}"#,
        r#"{"method":"tools/call","params":"read_file"}"#,
        r#"{"method":"tools/call","params":null}"#,
        r#"{"method":"tools/call"}"#,
        r#"{"id":1,"result":{"method":"ping"}}"#,
        r#"[{"method":"ping"},7,{"method":"notifications/x"}]"#,
        r#"[{"method":"ping"},{"method":"initialize"}]"#,
        r#"[[{"method":"ping"}]]"#,
        r#""tools/call""#,
        "null",
        "true",
        "  {\"method\":\"ping\"}  \n",
        // What `Value` refuses, the policy must refuse too.
        r#"{"method":"tools/call","params":{"name":"read_file","arguments":{"n":1e400}}}"#,
        r#"{"method":"tools/call","params":{"name":"read_file","arguments":{"s":"\ud800"}}}"#,
        r#"{"method":"tools/call","params":{"name":"read_file","arguments":{"s":"\x"}}}"#,
        r#"{"method":"tools/call","params":{"name":"read_file","arguments":{"n":01}}}"#,
        r#"{"method":"tools/call","params":{"name":"read_file"}} x"#,
        r#"{"method":"tools/call","params":{"name":"read_file"},}"#,
        r#"{"method":"ping"}{"method":"ping"}"#,
        r#"{"method":"tools/call","params":{"name":"read_file","arguments":{"a":[1,2,]}}}"#,
        r#"{"method":"ping","\ud800":1}"#,
    ]
    .iter()
    .map(|b| b.to_string())
    .chain([deep(120), deep(127), deep(128), deep(200)])
    .collect();
    for body in &bodies {
        assert_eq!(
            p.requirement_for_body(body.as_bytes()).ok(),
            reference(&p, body.as_bytes()),
            "{body}"
        );
    }
    // Refused: a number out of range, nesting past serde_json's limit.
    assert!(p.requirement_for_body(bodies[14].as_bytes()).is_err());
    assert!(p.requirement_for_body(deep(200).as_bytes()).is_err());
    assert_eq!(
        p.requirement_for_body(deep(120).as_bytes()).unwrap().scopes,
        s("files:read")
    );
    // Invalid UTF-8 anywhere.
    let mut bad =
        br#"{"method":"tools/call","params":{"name":"read_file","arguments":{"s":"#.to_vec();
    bad.extend_from_slice(b"\"\xff\"}}}");
    assert_eq!(reference(&p, &bad), None);
    assert!(matches!(
        p.requirement_for_body(&bad),
        Err(BodyError::NotJson(_))
    ));
}

#[test]
fn step_up_is_needed_plus_relevant_granted() {
    let p = policy();
    let granted = s("files:read openid offline_access other:api mcp");
    assert_eq!(
        p.step_up(&s("files:write"), &granted),
        s("files:read files:write mcp")
    );
}

#[test]
fn scopes_supported_from_declarations() {
    let p = policy().default_scopes("mcp offline_access");
    assert_eq!(
        p.scopes_supported(),
        vec![
            "files:read",
            "files:write",
            "mcp",
            "prompts",
            "res",
            "root",
            "secret",
            "tools:list"
        ]
    );
    assert_eq!(
        p.with_scopes_supported("mcp").scopes_supported(),
        vec!["mcp"]
    );
}

#[test]
fn validation() {
    assert_eq!(
        ScopePolicy::new().public_method("tools/list").validate(),
        Err(ConfigError::NotPublicMethod("tools/list".into()))
    );
    assert_eq!(
        ScopePolicy::new()
            .public_method("notifications/")
            .validate(),
        Err(ConfigError::NotPublicMethod("notifications/".into()))
    );
    assert_eq!(
        ScopePolicy::new().tool("t", "bad\"scope").validate(),
        Err(ConfigError::InvalidScope("bad\"scope".into()))
    );
    assert!(!ScopePolicy::new().default_scopes("mcp").inspects_body());
    assert!(policy().inspects_body());
}

#[test]
fn parses_toml_and_json() {
    let toml_src = r#"
        default = "mcp"
        public = ["initialize", "ping", "notifications/*"]
        scopes_supported = "mcp files:read"
        [methods]
        "tools/list" = "mcp"
        [tools]
        delete_file = "files:write"
        [resources]
        "file:///home/*" = "files:read"
        [prompts]
        summarize = "mcp prompts"
    "#;
    let p: ScopePolicy = toml::from_str(toml_src).unwrap();
    assert!(p.validate().is_ok());
    assert_eq!(p.tools["delete_file"], s("files:write"));
    assert_eq!(p.scopes_supported(), vec!["files:read", "mcp"]);
    let j: ScopePolicy =
        serde_json::from_str(r#"{"default":"mcp","tools":{"delete_file":"files:write"}}"#)
            .unwrap();
    assert_eq!(j.default, s("mcp"));
    assert!(serde_json::from_str::<ScopePolicy>(r#"{"defualt":"mcp"}"#).is_err());
    assert!(serde_json::from_str::<ScopePolicy>(r#"{"default":"a\"b"}"#).is_err());
    // Round trip.
    let back: ScopePolicy = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
    assert_eq!(back, p);
}
