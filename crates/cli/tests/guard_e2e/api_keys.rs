//! API keys through the guard (issue 16): a key made with `mcp-oauth api-keys add` calls the
//! demo's tools in `serve --demo` (checked in process, in `Authorization: Bearer` and in
//! `X-API-Key`), under the scope policy, and stops at once when revoked; the same key through
//! RFC 7662 introspection by the resource's own client, behind a guard whose introspection cache
//! lives 30 s: still accepted from the cache just after the revocation, refused once 30 s passed.

use crate::support::*;
use mcp_oauth_core::clock::{Clock, SystemClock, TestClock};
use mcp_oauth_core::secret::Secret;
use mcp_oauth_resource::{IntrospectionVerifier, JwtVerifier, RequireBearerLayer, SplitVerifier};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tower::{Layer, ServiceExt};

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "api-key-test", "version": "1"}}})
}

/// `initialize`, then `tools/call` in that session; returns each status, and the call's SSE text.
async fn call_tool(
    mcp: &str,
    with: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    name: &str,
) -> (StatusCode, String) {
    let init = with(post(mcp, None, &initialize())).send().await.unwrap();
    if init.status() != StatusCode::OK {
        return (init.status(), init.text().await.unwrap());
    }
    let session = init.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let _ = init.text().await;
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let r = with(post(mcp, None, &note))
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let args = json!({"a": 6, "b": 7, "operation": "multiply"});
    let r = with(post(mcp, None, &tool_call(2, name, args)))
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_through_the_guard() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let proc = spawn(
        &["serve", "--demo", "--addr", "127.0.0.1:0", "--data-dir", &d],
        "mcp-oauth listening on",
    );
    let mcp = format!("{}/mcp", proc.base);
    let add = |scope: &str| {
        admin(&[
            "api-keys",
            "add",
            "--data-dir",
            &d,
            "--resource",
            &mcp,
            "--scope",
            scope,
            "--label",
            "CI script",
            "--user",
            "demo",
            "--expires-in",
            "3600",
        ])
    };
    let added = add("mcp:tools");
    let key = added["key"].as_str().unwrap().to_owned();
    let id = added["id"].as_str().unwrap().to_owned();
    assert!(key.starts_with("mcpk_"));
    assert_eq!(added["scope"], "mcp:tools");

    // Not a scope of the resource: refused, nothing stored.
    let out = std::process::Command::new(crate::bin::mcp_oauth())
        .args([
            "api-keys",
            "add",
            "--data-dir",
            &d,
            "--resource",
            &mcp,
            "--scope",
            "files:read",
            "--label",
            "x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a scope of"));

    // In process, as a bearer token and in X-API-Key.
    let bearer = |r: reqwest::RequestBuilder| r.bearer_auth(&key);
    let header = |r: reqwest::RequestBuilder| r.header("x-api-key", &key);
    for with in [&bearer as &dyn Fn(_) -> _, &header] {
        let (status, body) = call_tool(&mcp, with, "calculator").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("42"), "{body}");
    }
    // The scope policy applies: system_info needs system:read, which the key lacks.
    let (status, _) = call_tool(&mcp, bearer, "system_info").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Both headers at once: refused, not guessed.
    let r = send(post(&mcp, Some(&key), &initialize()).header("x-api-key", &key)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let listed = admin(&["api-keys", "list", "--data-dir", &d]);
    let row = &listed.as_array().unwrap()[0];
    assert_eq!(row["id"], id.as_str());
    assert!(row["last_used_at"].is_i64(), "last use recorded: {row}");
    assert!(
        !listed.to_string().contains(&key),
        "the key is never listed"
    );
    let uses = admin(&["audit", "--data-dir", &d, "--kind", "api_key_used"]);
    assert!(
        uses.as_array().unwrap().len() >= 3,
        "every use audited: {uses}"
    );
    assert!(!uses.to_string().contains(&key), "no key in the trail");

    // Through introspection, by the resource's own client, cached 30 s.
    let rs = admin(&[
        "clients",
        "add",
        "--data-dir",
        &d,
        "--name",
        "demo rs",
        "--client-id",
        "demo-rs",
        "--introspect",
        "--resource",
        &mcp,
    ]);
    let rs_secret = rs["client_secret"].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();
    let introspect = async |token: &str| -> Value {
        http.post(format!("{}/introspect", proc.base))
            .basic_auth("demo-rs", Some(&rs_secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    let answer = introspect(&key).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["scope"], "mcp:tools");
    assert_eq!(answer["aud"], mcp.as_str());
    assert_eq!(answer["client_id"], format!("api-key:{id}"));

    // A disabled client is unknown to the endpoints (`clients disable`, then `enable`).
    let disabled = admin(&["clients", "disable", "--data-dir", &d, "demo-rs"]);
    assert!(disabled["disabled_at"].is_i64(), "{disabled}");
    let refused = http
        .post(format!("{}/introspect", proc.base))
        .basic_auth("demo-rs", Some(&rs_secret))
        .form(&[("token", key.as_str())])
        .send()
        .await
        .unwrap();
    // The record cache (1 s) may still hold the enabled record for a moment.
    let status = if refused.status() == StatusCode::OK {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        http.post(format!("{}/introspect", proc.base))
            .basic_auth("demo-rs", Some(&rs_secret))
            .form(&[("token", key.as_str())])
            .send()
            .await
            .unwrap()
            .status()
    } else {
        refused.status()
    };
    assert_eq!(status, StatusCode::UNAUTHORIZED, "disabled: invalid_client");
    admin(&["clients", "enable", "--data-dir", &d, "demo-rs"]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(introspect(&key).await["active"], true, "enabled again");

    let clock = TestClock::new(SystemClock.now());
    let introspection =
        IntrospectionVerifier::builder(&proc.base, &mcp, "demo-rs", Secret::new(rs_secret.clone()))
            .endpoint(format!("{}/introspect", proc.base))
            .insecure_allow_http(true)
            .max_ttl(Duration::from_secs(30))
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
    let jwt = JwtVerifier::builder(&proc.base, &mcp)
        .insecure_allow_http(true)
        .build()
        .unwrap();
    let guard = RequireBearerLayer::builder(&mcp, SplitVerifier::new(jwt, introspection))
        .api_key_header("X-API-Key")
        .build()
        .unwrap();
    let ok = tower::service_fn(|_req: http::Request<_>| async {
        Ok::<_, std::convert::Infallible>(http::Response::new(String::from("reached")))
    });
    let service = guard.layer(ok);
    let through = async |key: &str| -> u16 {
        let req = http::Request::get(&mcp)
            .header("x-api-key", key)
            .body(axum::body::Body::empty())
            .unwrap();
        service
            .clone()
            .oneshot(req)
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(through(&key).await, 200);

    admin(&["api-keys", "revoke", "--data-dir", &d, &id]);
    // In process: refused at the next request.
    let (status, _) = call_tool(&mcp, bearer, "calculator").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(introspect(&key).await, json!({"active": false}));
    // Introspected: the cached answer may serve until 30 s passed, never after.
    assert_eq!(through(&key).await, 200, "cached");
    clock.advance(31);
    assert_eq!(
        through(&key).await,
        401,
        "refused within 30 s of the revocation"
    );
    let listed = admin(&["api-keys", "list", "--data-dir", &d]);
    assert!(listed[0]["revoked_at"].is_i64());
}

/// `mcp-oauth guard --api-key-header X-API-Key --client-id …`: an API key of the issuer, in that
/// header or as a bearer token, is introspected by the guard's own client and let through; an
/// unknown key is `401`. (How late a revocation is noticed, 30 s, is shown above on a test clock.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guard_takes_api_keys_by_introspection() {
    const RESOURCE: &str = "https://keys.example/mcp";
    let app = axum::Router::new().route("/mcp", axum::routing::post(|| async { "reached" }));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_url = format!("http://{}/mcp", l.local_addr().unwrap());
    let upstream = tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    let (a, _) = TestAs::start(&[(RESOURCE, "mcp:tools")]).await;
    let store = a.state.store().clone();
    let now = a.state.now();
    let (_, rs_secret) = mcp_oauth_server::admin::add_client(
        store.as_ref(),
        mcp_oauth_server::admin::NewClient {
            name: "guard".into(),
            client_id: Some("keys-guard".into()),
            introspect_resources: vec![RESOURCE.into()],
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("secret");
    std::fs::write(&secret_file, rs_secret.unwrap().expose()).unwrap();
    let resource = store.get_resource(RESOURCE).await.unwrap().unwrap();
    let scope = mcp_oauth_core::ScopeSet::parse("mcp:tools").unwrap();
    let (_, key) = mcp_oauth_server::api_keys::create(
        store.as_ref(),
        a.state.api_key_hmac(),
        mcp_oauth_server::api_keys::NewKey {
            label: "script",
            user: None,
            resource: &resource,
            scope: &scope,
            ttl: 3600,
        },
        now,
    )
    .await
    .unwrap();
    let guard = spawn(
        &[
            "guard",
            "--upstream",
            &upstream_url,
            "--resource",
            RESOURCE,
            "--issuer",
            &a.base,
            "--client-id",
            "keys-guard",
            "--client-secret-file",
            secret_file.to_str().unwrap(),
            "--api-key-header",
            "X-API-Key",
            "--addr",
            "127.0.0.1:0",
            "--insecure-http",
        ],
        "mcp-oauth guard listening on",
    );
    let mcp = format!("{}/mcp", guard.base);
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    let r = send(post(&mcp, None, &ping).header("x-api-key", key.expose())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.text, "reached");
    let r = send(post(&mcp, Some(key.expose()), &ping)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let unknown = format!("mcpk_{}", "A".repeat(43));
    let r = send(post(&mcp, None, &ping).header("x-api-key", unknown)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    drop(guard);
    upstream.abort();
}
