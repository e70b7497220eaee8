//! The guard's per-request cost: the whole `RequireBearer` service (header parsing, JSON-RPC
//! body read when the policy needs it, verification, scope check, principal insertion) in front
//! of an inner service that answers at once, with ES256 JWTs.
//!
//! - `cache_hit`: `CachedVerifier` over `JwtVerifier`, the same token every time (a client's
//!   repeated requests);
//! - `cache_miss`: `JwtVerifier` alone, so every request verifies the signature and claims
//!   (a new token, or no cache);
//! - `cache_hit_tools_call`: a cache hit with an MCP-aware policy that reads the `tools/call`
//!   body to pick the tool's scopes.
//!
//! Run: `cargo bench -p mcp-oauth-resource --bench guard` (add `-- --quick` for a short run).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::Full;
use mcp_oauth_core::jose::{Algorithm, JwkSet, SigningKey};
use mcp_oauth_resource::{
    CachedVerifier, GuardedBody, JwtVerifier, RequireBearerLayer, ScopePolicy, TokenVerifier,
};
use std::convert::Infallible;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tower::{Layer, Service, ServiceExt};

const ISSUER: &str = "https://auth.example.com";
const RESOURCE: &str = "https://mcp.example.com/mcp";
const BODY: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"search","arguments":{"q":"rust"}}}"#;

fn token(key: &SigningKey) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": "alice", "aud": RESOURCE, "exp": now + 3600, "iat": now,
        "jti": "bench", "client_id": "bench-client", "scope": "mcp search",
    });
    key.sign("at+jwt", &claims).unwrap()
}

type Inner = tower::util::BoxCloneService<
    Request<GuardedBody<Full<Bytes>>>,
    Response<Full<Bytes>>,
    Infallible,
>;

fn inner() -> Inner {
    tower::util::BoxCloneService::new(tower::service_fn(
        |_req: Request<GuardedBody<Full<Bytes>>>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
        },
    ))
}

fn request(token: &str, body: &'static str) -> Request<Full<Bytes>> {
    Request::post("/mcp")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

fn bench_case(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    verifier: impl TokenVerifier,
    policy: ScopePolicy,
    token: &str,
) {
    let guard = RequireBearerLayer::builder(RESOURCE, verifier)
        .policy(policy)
        .build()
        .unwrap();
    let svc = guard.layer(inner());
    // Warm up (loads nothing remote: the key set is static; fills the cache if any).
    let resp = rt
        .block_on(svc.clone().oneshot(request(token, BODY)))
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut svc = svc.clone();
                let start = Instant::now();
                for _ in 0..iters {
                    let svc = svc.ready().await.unwrap();
                    let resp = svc.call(request(token, BODY)).await.unwrap();
                    std::hint::black_box(resp);
                }
                start.elapsed()
            })
        })
    });
}

fn guard(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let jwks = JwkSet {
        keys: vec![key.public_jwk().clone()],
    };
    let jwt = || JwtVerifier::from_jwks(ISSUER, RESOURCE, jwks.clone()).unwrap();
    let t = token(&key);
    let any = || ScopePolicy::new().default_scopes("mcp");
    bench_case(
        c,
        &rt,
        "guard/es256/cache_hit",
        CachedVerifier::new(jwt()),
        any(),
        &t,
    );
    bench_case(c, &rt, "guard/es256/cache_miss", jwt(), any(), &t);
    let mcp = ScopePolicy::new()
        .default_scopes("mcp")
        .tool("search", "search")
        .public_handshake();
    bench_case(
        c,
        &rt,
        "guard/es256/cache_hit_tools_call",
        CachedVerifier::new(jwt()),
        mcp,
        &t,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = guard
}
criterion_main!(benches);
