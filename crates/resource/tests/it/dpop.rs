//! The guard with DPoP-bound tokens (RFC 9449 §7): proofs checked against `cnf.jkt`, `ath`,
//! the method and the URL; replays; a stolen bound token used as a bearer token.

use crate::support::*;
use crate::tls_redis;
use axum::http::StatusCode;
use mcp_oauth_core::clock::{Clock, TestClock};
use mcp_oauth_core::dpop::nonce::NonceKey;
use mcp_oauth_core::dpop::{self, NewProof};
use mcp_oauth_core::jose::{Algorithm, SigningKey};
use mcp_oauth_resource::dpop::DpopSettings;
use mcp_oauth_resource::{JwtVerifier, RequireBearerLayer};
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

async fn guard(issuer: &Issuer, clock: &TestClock, max_replay_entries: usize) -> Guarded {
    guard_with(issuer, clock, max_replay_entries, None).await
}

async fn guard_with(
    issuer: &Issuer,
    clock: &TestClock,
    max_replay_entries: usize,
    nonces: Option<Arc<NonceKey>>,
) -> Guarded {
    guarded(|resource| {
        let verifier = JwtVerifier::builder(issuer.url.clone(), resource)
            .insecure_allow_http(true)
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
        RequireBearerLayer::builder(resource, verifier)
            .dpop(DpopSettings {
                clock: Arc::new(clock.clone()),
                max_replay_entries,
                nonces,
                ..DpopSettings::default()
            })
            .build()
            .unwrap()
    })
    .await
}

/// A token bound to `key`.
fn bound_token(issuer: &Issuer, resource: &str, key: &SigningKey) -> String {
    let mut claims = issuer.claims(resource, "mcp");
    claims["cnf"] = serde_json::json!({ "jkt": key.kid() });
    issuer.key.sign("at+jwt", &claims).unwrap()
}

static JTI: AtomicU64 = AtomicU64::new(0);

fn proof(key: &SigningKey, method: &str, url: &str, token: Option<&str>, iat: i64) -> String {
    proof_with(key, method, url, token, iat, None)
}

fn proof_with(
    key: &SigningKey,
    method: &str,
    url: &str,
    token: Option<&str>,
    iat: i64,
    nonce: Option<&str>,
) -> String {
    let jti = format!("jti-{}", JTI.fetch_add(1, Ordering::SeqCst));
    dpop::sign(
        key,
        &NewProof {
            method,
            url,
            iat,
            jti: &jti,
            access_token: token,
            nonce,
        },
    )
    .unwrap()
}

/// POSTs `tools/list` with `Authorization: {scheme} {token}` and the given proofs.
async fn call(g: &Guarded, scheme: &str, token: &str, proofs: &[&str]) -> Reply {
    let mut req = reqwest::Client::new()
        .post(format!("{}/mcp", g.base))
        .header("content-type", "application/json")
        .header("authorization", format!("{scheme} {token}"))
        .body(serde_json::to_vec(&tools_list()).unwrap());
    for p in proofs {
        req = req.header("DPoP", *p);
    }
    send(req).await
}

/// The `DPoP` challenge's `error`, and that it lists the proof algorithms.
fn dpop_error(r: &Reply) -> String {
    let h = r.headers["www-authenticate"].to_str().unwrap();
    let all = mcp_oauth_core::challenge::parse(h).unwrap();
    let d = all
        .iter()
        .find(|c| c.scheme.eq_ignore_ascii_case("DPoP"))
        .unwrap_or_else(|| panic!("a DPoP challenge in {h}"));
    assert!(d.param("algs").unwrap().contains("ES256"));
    assert!(
        all.iter()
            .any(|c| c.is_bearer() && c.param("resource_metadata").is_some())
    );
    d.param("error").unwrap().to_owned()
}

#[tokio::test]
async fn a_bound_token_with_its_proof_passes() {
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let g = guard(&issuer, &clock, 1000).await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let token = bound_token(&issuer, &g.resource, &key);
    let now = clock.now();
    let p = proof(&key, "POST", &g.resource, Some(&token), now);
    let r = call(&g, "DPoP", &token, &[&p]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["subject"], "alice");
    // Unbound tokens still work as bearer tokens.
    let plain = issuer.token(&g.resource, "mcp");
    assert_eq!(call(&g, "Bearer", &plain, &[]).await.status, StatusCode::OK);
}

#[tokio::test]
async fn hostile_dpop_requests_are_refused() {
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let g = guard(&issuer, &clock, 1000).await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let thief = SigningKey::generate(Algorithm::ES256).unwrap();
    let token = bound_token(&issuer, &g.resource, &key);
    let now = clock.now();

    // A stolen bound token used as a bearer token.
    let r = call(&g, "Bearer", &token, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(dpop_error(&r), "invalid_token");
    // ... even with a proof of the thief's own key.
    let p = proof(&thief, "POST", &g.resource, Some(&token), now);
    let r = call(&g, "DPoP", &token, &[&p]).await;
    assert_eq!(dpop_error(&r), "invalid_dpop_proof");
    // An unbound token sent as DPoP.
    let plain = issuer.token(&g.resource, "mcp");
    let p = proof(&key, "POST", &g.resource, Some(&plain), now);
    assert_eq!(
        dpop_error(&call(&g, "DPoP", &plain, &[&p]).await),
        "invalid_token"
    );

    let other_url = format!("{}/other", g.base);
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("no proof", vec![]),
        (
            "two proofs",
            vec![
                proof(&key, "POST", &g.resource, Some(&token), now),
                proof(&key, "POST", &g.resource, Some(&token), now),
            ],
        ),
        (
            "another method",
            vec![proof(&key, "GET", &g.resource, Some(&token), now)],
        ),
        (
            "another URL",
            vec![proof(&key, "POST", &other_url, Some(&token), now)],
        ),
        ("no ath", vec![proof(&key, "POST", &g.resource, None, now)]),
        (
            "ath of another token",
            vec![proof(&key, "POST", &g.resource, Some("x.y.z"), now)],
        ),
        (
            "too old",
            vec![proof(&key, "POST", &g.resource, Some(&token), now - 120)],
        ),
        ("garbage", vec!["a.b.c".to_owned()]),
    ];
    for (what, proofs) in cases {
        let refs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let r = call(&g, "DPoP", &token, &refs).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(dpop_error(&r), "invalid_dpop_proof", "{what}: {}", r.body);
        assert!(r.body["error_description"].is_string());
    }

    // A replayed proof.
    let p = proof(&key, "POST", &g.resource, Some(&token), now);
    assert_eq!(call(&g, "DPoP", &token, &[&p]).await.status, StatusCode::OK);
    let r = call(&g, "DPoP", &token, &[&p]).await;
    assert_eq!(dpop_error(&r), "invalid_dpop_proof");
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
}

#[tokio::test]
async fn a_full_replay_cache_fails_closed_then_recovers() {
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let g = guard(&issuer, &clock, 2).await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let token = bound_token(&issuer, &g.resource, &key);
    for _ in 0..2 {
        let p = proof(&key, "POST", &g.resource, Some(&token), clock.now());
        assert_eq!(call(&g, "DPoP", &token, &[&p]).await.status, StatusCode::OK);
    }
    let p = proof(&key, "POST", &g.resource, Some(&token), clock.now());
    let r = call(&g, "DPoP", &token, &[&p]).await;
    assert_eq!(
        r.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "never forgets a live proof"
    );
    // Once the remembered proofs are out of their window, there is room again.
    clock.advance(70);
    let p = proof(&key, "POST", &g.resource, Some(&token), clock.now());
    let r = call(&g, "DPoP", &token, &[&p]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let _: Value = r.body;
}

#[tokio::test]
async fn server_nonces_when_the_guard_wants_them() {
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let g = guard_with(&issuer, &clock, 1000, Some(Arc::new(NonceKey::random()))).await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let token = bound_token(&issuer, &g.resource, &key);
    let now = clock.now();
    let r = call(
        &g,
        "DPoP",
        &token,
        &[&proof(&key, "POST", &g.resource, Some(&token), now)],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(dpop_error(&r), "use_dpop_nonce");
    let nonce = r.headers["dpop-nonce"].to_str().unwrap().to_owned();
    assert!(
        r.headers["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("DPoP-Nonce")
    );
    let p = proof_with(&key, "POST", &g.resource, Some(&token), now, Some(&nonce));
    assert_eq!(call(&g, "DPoP", &token, &[&p]).await.status, StatusCode::OK);
    let p = proof_with(&key, "POST", &g.resource, Some(&token), now, Some("forged"));
    assert_eq!(
        dpop_error(&call(&g, "DPoP", &token, &[&p]).await),
        "use_dpop_nonce"
    );
    // Another guard's key: its nonces are not ours.
    let other = NonceKey::random().current(now);
    let p = proof_with(&key, "POST", &g.resource, Some(&token), now, Some(&other));
    assert_eq!(
        dpop_error(&call(&g, "DPoP", &token, &[&p]).await),
        "use_dpop_nonce"
    );
}

/// Two guards of one resource (as behind a load balancer) on the shared Redis at 127.0.0.1:6379
/// (a key prefix of this test's own; proof keys expire with their window), or `None` (skipped
/// loudly; failed when `MCP_OAUTH_REQUIRE_REDIS` is set).
async fn guards_sharing(
    issuer: &Issuer,
    clock: &TestClock,
    url: &str,
    timeout: std::time::Duration,
) -> (Guarded, Guarded) {
    let prefix = test_prefix();
    let store = mcp_oauth_resource::dpop_redis::RedisReplay::new(url, &prefix, timeout).unwrap();
    guards_sharing_store(issuer, clock, Arc::new(store)).await
}

fn test_prefix() -> String {
    format!(
        "mcp-oauth-test:{}:",
        mcp_oauth_core::secret::random_token(9)
    )
}

/// As [`guards_sharing`], on `store`.
async fn guards_sharing_store(
    issuer: &Issuer,
    clock: &TestClock,
    store: Arc<dyn mcp_oauth_resource::dpop::ReplayStore>,
) -> (Guarded, Guarded) {
    let layer = |resource: &str, store: Arc<dyn mcp_oauth_resource::dpop::ReplayStore>| {
        let verifier = JwtVerifier::builder(issuer.url.clone(), resource)
            .insecure_allow_http(true)
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
        RequireBearerLayer::builder(resource, verifier)
            .dpop(DpopSettings {
                clock: Arc::new(clock.clone()),
                replay: Some(store),
                ..DpopSettings::default()
            })
            .build()
            .unwrap()
    };
    let a = guarded(|resource| layer(resource, store.clone())).await;
    // The second guard serves the first one's resource (its URL is the load balancer's).
    let resource = a.resource.clone();
    let b = guarded(|_| layer(&resource, store.clone())).await;
    (a, b)
}

fn redis_answers() -> bool {
    let up = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:6379".parse().unwrap(),
        std::time::Duration::from_millis(500),
    )
    .is_ok();
    if !up {
        assert!(
            std::env::var_os("MCP_OAUTH_REQUIRE_REDIS").is_none(),
            "Redis is required (MCP_OAUTH_REQUIRE_REDIS) but none answers at 127.0.0.1:6379"
        );
        eprintln!("\n!!!!! skipped: no Redis at 127.0.0.1:6379 !!!!!\n");
    }
    up
}

#[tokio::test]
async fn guards_sharing_a_redis_refuse_a_proof_replayed_to_the_other() {
    if !redis_answers() {
        return;
    }
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let (a, b) = guards_sharing(
        &issuer,
        &clock,
        "redis://127.0.0.1:6379",
        std::time::Duration::from_millis(500),
    )
    .await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let token = bound_token(&issuer, &a.resource, &key);
    let p = proof(&key, "POST", &a.resource, Some(&token), clock.now());
    assert_eq!(call(&a, "DPoP", &token, &[&p]).await.status, StatusCode::OK);
    let r = call(&b, "DPoP", &token, &[&p]).await;
    assert_eq!(dpop_error(&r), "invalid_dpop_proof");
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    let fresh = proof(&key, "POST", &a.resource, Some(&token), clock.now());
    assert_eq!(
        call(&b, "DPoP", &token, &[&fresh]).await.status,
        StatusCode::OK
    );
    assert_eq!(
        dpop_error(&call(&a, "DPoP", &token, &[&fresh]).await),
        "invalid_dpop_proof"
    );
}

#[tokio::test]
async fn a_shared_store_that_never_answers_fails_closed_within_its_timeout() {
    // A listener that accepts and never answers: a hung Redis.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}", silent.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let (a, _b) = guards_sharing(&issuer, &clock, &url, std::time::Duration::from_millis(50)).await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let token = bound_token(&issuer, &a.resource, &key);
    for _ in 0..2 {
        let p = proof(&key, "POST", &a.resource, Some(&token), clock.now());
        let t = std::time::Instant::now();
        let r = call(&a, "DPoP", &token, &[&p]).await;
        assert_eq!(
            r.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "never accepted unchecked"
        );
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
    }
    hold.abort();
}

#[tokio::test]
async fn guards_share_a_tls_redis_whose_ca_is_given_and_refuse_one_that_does_not_verify() {
    let ca = tls_redis::Ca::new("redis test CA");
    let Some(redis) = tls_redis::TlsRedis::start(&ca) else {
        return;
    };
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let timeout = std::time::Duration::from_millis(500);
    let store = |ca_pem: &str| {
        Arc::new(
            mcp_oauth_resource::dpop_redis::RedisReplay::with_root_certificates(
                &redis.url(),
                ca_pem.as_bytes().to_vec(),
                &test_prefix(),
                timeout,
            )
            .unwrap(),
        )
    };
    let (a, b) = guards_sharing_store(&issuer, &clock, store(&ca.pem)).await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let token = bound_token(&issuer, &a.resource, &key);
    let p = proof(&key, "POST", &a.resource, Some(&token), clock.now());
    assert_eq!(call(&a, "DPoP", &token, &[&p]).await.status, StatusCode::OK);
    assert_eq!(
        dpop_error(&call(&b, "DPoP", &token, &[&p]).await),
        "invalid_dpop_proof",
        "replayed at the other guard, through the TLS Redis"
    );
    // A CA the server's certificate does not chain to: the store cannot decide, so it refuses.
    let other = tls_redis::Ca::new("another CA");
    let (c, _d) = guards_sharing_store(&issuer, &clock, store(&other.pem)).await;
    let token = bound_token(&issuer, &c.resource, &key);
    let p = proof(&key, "POST", &c.resource, Some(&token), clock.now());
    assert_eq!(
        call(&c, "DPoP", &token, &[&p]).await.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "never accepted unchecked"
    );
}
