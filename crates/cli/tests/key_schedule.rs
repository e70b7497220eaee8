//! The key rotation schedule on a test clock: the next key is published before it signs, tokens
//! of the old key stay verifiable through the JWKS until they expire, the old key then leaves the
//! JWKS, and a guard (`JwtVerifier` + `RequireBearerLayer`) in front of a service never fails a
//! request across the rotation.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Router;
use axum::routing::post;
use base64::Engine;
use mcp_oauth_core::clock::{Clock, TestClock};
use mcp_oauth_resource::{JwtVerifier, RequireBearerLayer};
use mcp_oauth_server::admin::{self, NewClient};
use mcp_oauth_server::keys::kek::Kek;
use mcp_oauth_server::store::Store;
use mcp_oauth_server::store::memory::MemoryStore;
use mcp_oauth_server::{AuthorizationServer, ServerConfig};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const RESOURCE: &str = "https://mcp.example.com/mcp";
const TTL: i64 = 300;
const INTERVAL: i64 = 3_600;

fn kid_of(jwt: &str) -> String {
    let h = jwt.split('.').next().unwrap();
    let v: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(h)
            .unwrap(),
    )
    .unwrap();
    v["kid"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_rotation_is_seen_by_a_guard_without_a_failed_request() {
    let clock = TestClock::new(1_800_000_000);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut config = ServerConfig::new(base.clone());
    config.access_token_ttl = TTL;
    config.key_rotation_interval = INTERVAL;
    let server = AuthorizationServer::new(
        config.validate().unwrap(),
        store.clone(),
        Kek::generate().unwrap(),
        Arc::new(clock.clone()),
    )
    .await
    .unwrap();
    let now = clock.now();
    admin::add_resource(
        store.as_ref(),
        RESOURCE,
        "Test",
        vec![admin::parse_scope_def("mcp:tools").unwrap()],
        now,
    )
    .await
    .unwrap();
    let (_, secret) = admin::add_client(
        store.as_ref(),
        NewClient {
            name: "Machine".into(),
            grant_types: vec!["client_credentials".into()],
            client_id: Some("m2m".into()),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    let secret = secret.unwrap().expose().to_owned();
    let app = server
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    // The guarded service, verifying against the issuer's JWKS on the same test clock.
    let verifier = JwtVerifier::builder(base.clone(), RESOURCE)
        .jwks_uri(format!("{base}/jwks"))
        .insecure_allow_http(true)
        .refetch_interval(Duration::from_millis(1))
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    let guarded: Router = Router::new()
        .route("/mcp", post(|| async { "ok" }))
        .layer(RequireBearerLayer::new(RESOURCE, verifier).unwrap());
    let gl = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mcp = format!("http://{}/mcp", gl.local_addr().unwrap());
    let guard_task = tokio::spawn(async move {
        let _ = axum::serve(gl, guarded).await;
    });

    let http = reqwest::Client::new();
    let token = || async {
        let r = http
            .post(format!("{base}/token"))
            .basic_auth("m2m", Some(&secret))
            .form(&[("grant_type", "client_credentials"), ("resource", RESOURCE)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_owned()
    };
    let call = |t: String| {
        let http = http.clone();
        let mcp = mcp.clone();
        async move {
            let r = http
                .post(&mcp)
                .bearer_auth(t)
                .header("content-type", "application/json")
                .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }
    };
    let jwks = || async {
        let v: Value = http
            .get(format!("{base}/jwks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };

    let old = token().await;
    let old_kid = kid_of(&old);
    assert_eq!(call(old.clone()).await, 200);
    // Not due yet.
    server.maintain().await;
    assert_eq!(jwks().await, vec![old_kid.clone()]);

    // Due: the next key is published now and signs one access-token lifetime later.
    clock.advance(INTERVAL + 1);
    let t0 = token().await;
    server.maintain().await;
    let published = jwks().await;
    assert_eq!(
        published.len(),
        2,
        "the next key is published: {published:?}"
    );
    let new_kid = published.iter().find(|k| **k != old_kid).unwrap().clone();
    // A second instance's round (same database, same moment) does not rotate again.
    server.maintain().await;
    assert_eq!(jwks().await.len(), 2);
    let before = token().await;
    assert_eq!(kid_of(&before), old_kid, "the old key still signs");
    for t in [&t0, &before] {
        assert_eq!(call(t.clone()).await, 200);
    }

    // Just before activation the old key still signs; its token must outlive the switch.
    clock.advance(TTL - 10);
    server.maintain().await;
    let last_old = token().await;
    assert_eq!(kid_of(&last_old), old_kid);
    // Activation: the new key signs; the old key's tokens stay valid until they expire.
    clock.advance(10);
    server.maintain().await;
    let after = token().await;
    assert_eq!(
        kid_of(&after),
        new_kid,
        "the new key signs after prepublish"
    );
    assert_eq!(call(after.clone()).await, 200);
    assert_eq!(
        call(last_old.clone()).await,
        200,
        "old-key token still valid"
    );
    assert!(jwks().await.contains(&old_kid));
    clock.advance(TTL - 30);
    assert_eq!(call(last_old.clone()).await, 200);
    server.maintain().await;
    assert!(
        jwks().await.contains(&old_kid),
        "kept while its tokens live"
    );
    assert_eq!(call(last_old.clone()).await, 200);

    // Past retirement + lifetime + leeway: deleted, the JWKS is small again.
    clock.advance(mcp_oauth_server::keys::DELETE_LEEWAY + 60);
    server.maintain().await;
    assert_eq!(jwks().await, vec![new_kid.clone()]);
    let latest = token().await;
    assert_eq!(call(latest).await, 200);
    let kinds: Vec<_> = store
        .list_audit(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind.as_str())
        .collect();
    assert!(kinds.contains(&"key_deleted"), "{kinds:?}");
    task.abort();
    guard_task.abort();
}
