//! The guard's per-request cost: the whole `RequireBearer` service (header parsing, JSON-RPC
//! body read when the policy needs it, verification, scope check, principal insertion) in front
//! of an inner service that answers at once, with ES256 JWTs.
//!
//! - `cache_hit`: `CachedVerifier` over `JwtVerifier`, the same token every time (a client's
//!   repeated requests);
//! - `cache_miss`: `JwtVerifier` alone, so every request verifies the signature and claims
//!   (a new token, or no cache);
//! - `cache_hit_tools_call`: a cache hit with an MCP-aware policy that reads the `tools/call`
//!   body to pick the tool's scopes;
//! - `tools_call_200b/guarded` and `tools_call_200b/unguarded`: the load test's request (a
//!   `tools/call` with a ~200-byte `arguments` object), through the layer with a warm cache and
//!   an MCP-aware policy, and straight to the same trivial service; the difference is the
//!   guard's CPU per cache hit.
//!
//! Run: `cargo bench -p mcp-oauth-resource --bench guard` (add `-- --quick` for a short run).
//!
//! Instruction counts (repeatable on a noisy machine): `GUARD_PROFILE=<case>:<iterations>` runs
//! one case that many times instead of criterion, inside `measured_loop`; with
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*measured_loop*'` the total
//! divided by the iterations is the instructions per request. Cases: `hit`, `miss`,
//! `hit_tools_call`, `guarded`, `unguarded`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use criterion::{Criterion, criterion_group};
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
/// The load test's `tools/call`: a ~200-byte `arguments` object.
const BODY_200B: &str = r#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"search","arguments":{"query":"rust tower middleware oauth bearer token","limit":25,"offset":0,"filters":{"language":"en","after":"2025-01-01","tags":["mcp","oauth","auth"]},"sort":"relevance","include_archived":false,"highlight":true}}}"#;

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

/// The unguarded trivial service: the same answer as `inner`, for any request body.
async fn trivial<B>(_req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::new(Full::new(Bytes::new())))
}

fn request(token: &str, body: &'static str) -> Request<Full<Bytes>> {
    Request::post("/mcp")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

type Guarded = mcp_oauth_resource::RequireBearer<Inner>;

fn guarded(
    rt: &tokio::runtime::Runtime,
    verifier: impl TokenVerifier,
    policy: ScopePolicy,
    token: &str,
    body: &'static str,
) -> Guarded {
    let guard = RequireBearerLayer::builder(RESOURCE, verifier)
        .policy(policy)
        .build()
        .unwrap();
    let svc = guard.layer(inner());
    // Warm up (loads nothing remote: the key set is static; fills the cache if any).
    let resp = rt
        .block_on(svc.clone().oneshot(request(token, body)))
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    svc
}

/// `iters` requests through `svc`, one after the other.
async fn run<S, R>(mut svc: S, token: &str, body: &'static str, iters: u64)
where
    S: Service<Request<Full<Bytes>>, Response = R, Error = Infallible>,
{
    for _ in 0..iters {
        let svc = svc.ready().await.unwrap();
        let resp = svc.call(request(token, body)).await.unwrap();
        std::hint::black_box(resp);
    }
}

fn bench_svc<S, R>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    name: &str,
    svc: S,
    token: &str,
    body: &'static str,
) where
    S: Service<Request<Full<Bytes>>, Response = R, Error = Infallible> + Clone,
{
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let svc = svc.clone();
                let start = Instant::now();
                run(svc, token, body, iters).await;
                start.elapsed()
            })
        })
    });
}

struct Setup {
    rt: tokio::runtime::Runtime,
    jwks: JwkSet,
    token: String,
}

impl Setup {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        let jwks = JwkSet {
            keys: vec![key.public_jwk().clone()],
        };
        let token = token(&key);
        Self { rt, jwks, token }
    }

    fn jwt(&self) -> JwtVerifier {
        JwtVerifier::from_jwks(ISSUER, RESOURCE, self.jwks.clone()).unwrap()
    }
}

fn any() -> ScopePolicy {
    ScopePolicy::new().default_scopes("mcp")
}

fn mcp() -> ScopePolicy {
    ScopePolicy::new()
        .default_scopes("mcp")
        .tool("search", "search")
        .public_handshake()
}

fn guard(c: &mut Criterion) {
    let s = Setup::new();
    let (rt, t) = (&s.rt, s.token.as_str());
    let svc = guarded(rt, CachedVerifier::new(s.jwt()), any(), t, BODY);
    bench_svc(c, rt, "guard/es256/cache_hit", svc, t, BODY);
    let svc = guarded(rt, s.jwt(), any(), t, BODY);
    bench_svc(c, rt, "guard/es256/cache_miss", svc, t, BODY);
    let svc = guarded(rt, CachedVerifier::new(s.jwt()), mcp(), t, BODY);
    bench_svc(c, rt, "guard/es256/cache_hit_tools_call", svc, t, BODY);
    let svc = guarded(rt, CachedVerifier::new(s.jwt()), mcp(), t, BODY_200B);
    bench_svc(c, rt, "guard/tools_call_200b/guarded", svc, t, BODY_200B);
    let svc = tower::service_fn(trivial::<Full<Bytes>>);
    bench_svc(c, rt, "guard/tools_call_200b/unguarded", svc, t, BODY_200B);
}

/// A DPoP-bound request (RFC 9449 §7): the token as `DPoP` with its proof.
fn dpop_request(token: &str, proof: &str, body: &'static str) -> Request<Full<Bytes>> {
    Request::post("/mcp")
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

/// The guard with DPoP-bound tokens: a fresh proof per request (made before the clock starts,
/// so the figure is the guard's cost: proof verification, `ath`, the replay cache), next to the
/// bearer `guard/es256/cache_hit` figure.
fn guard_dpop(c: &mut Criterion) {
    use mcp_oauth_core::dpop::{self, NewProof};
    let s = Setup::new();
    let issuer_key = SigningKey::generate(Algorithm::ES256).unwrap();
    let client_key = SigningKey::generate(Algorithm::ES256).unwrap();
    let jwks = JwkSet {
        keys: vec![issuer_key.public_jwk().clone()],
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": "alice", "aud": RESOURCE, "exp": now + 3600, "iat": now,
        "jti": "bench", "client_id": "bench-client", "scope": "mcp search",
        "cnf": { "jkt": client_key.kid() },
    });
    let token = issuer_key.sign("at+jwt", &claims).unwrap();
    let verifier = JwtVerifier::from_jwks(ISSUER, RESOURCE, jwks).unwrap();
    let guard = RequireBearerLayer::builder(RESOURCE, CachedVerifier::new(verifier))
        .policy(any())
        .dpop(mcp_oauth_resource::dpop::DpopSettings {
            max_replay_entries: 50_000_000,
            ..Default::default()
        })
        .build()
        .unwrap();
    let svc = guard.layer(inner());
    let counter = std::cell::Cell::new(0u64);
    let proof = || {
        counter.set(counter.get() + 1);
        let jti = format!("bench-{}", counter.get());
        dpop::sign(
            &client_key,
            &NewProof {
                method: "POST",
                url: RESOURCE,
                iat: now,
                jti: &jti,
                access_token: Some(&token),
                nonce: None,
            },
        )
        .unwrap()
    };
    let resp =
        s.rt.block_on(svc.clone().oneshot(dpop_request(&token, &proof(), BODY)))
            .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    c.bench_function("guard/es256/dpop_cache_hit", |b| {
        b.iter_custom(|iters| {
            let proofs: Vec<String> = (0..iters).map(|_| proof()).collect();
            s.rt.block_on(async {
                let mut svc = svc.clone();
                let start = Instant::now();
                for p in &proofs {
                    let ready = svc.ready().await.unwrap();
                    let resp = ready.call(dpop_request(&token, p, BODY)).await.unwrap();
                    std::hint::black_box(resp);
                }
                start.elapsed()
            })
        })
    });
}

/// One case, `iters` times, for callgrind (see the module documentation).
#[inline(never)]
fn measured_loop<S, R>(
    rt: &tokio::runtime::Runtime,
    svc: S,
    token: &str,
    body: &'static str,
    iters: u64,
) where
    S: Service<Request<Full<Bytes>>, Response = R, Error = Infallible>,
{
    rt.block_on(run(svc, token, body, iters));
}

fn profile(spec: &str) {
    let (case, iters) = spec.split_once(':').unwrap_or((spec, "100000"));
    let iters: u64 = iters.parse().expect("GUARD_PROFILE=<case>:<iterations>");
    let s = Setup::new();
    let (rt, t) = (&s.rt, s.token.as_str());
    match case {
        "hit" => {
            let svc = guarded(rt, CachedVerifier::new(s.jwt()), any(), t, BODY);
            measured_loop(rt, svc, t, BODY, iters);
        }
        "miss" => {
            let svc = guarded(rt, s.jwt(), any(), t, BODY);
            measured_loop(rt, svc, t, BODY, iters);
        }
        "hit_tools_call" => {
            let svc = guarded(rt, CachedVerifier::new(s.jwt()), mcp(), t, BODY);
            measured_loop(rt, svc, t, BODY, iters);
        }
        "guarded" => {
            let svc = guarded(rt, CachedVerifier::new(s.jwt()), mcp(), t, BODY_200B);
            measured_loop(rt, svc, t, BODY_200B, iters);
        }
        "unguarded" => {
            let svc = tower::service_fn(trivial::<Full<Bytes>>);
            measured_loop(rt, svc, t, BODY_200B, iters);
        }
        other => {
            eprintln!("unknown GUARD_PROFILE case `{other}`");
            std::process::exit(2);
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = guard, guard_dpop
}
fn main() {
    if let Ok(spec) = std::env::var("GUARD_PROFILE") {
        profile(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
