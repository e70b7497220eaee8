//! Criterion benchmarks of the per-request protocol work: JWT signing (token issuance), JWT
//! verification (bearer validation), the PKCE check, and `WWW-Authenticate` build and parse.
//!
//! Run: `cargo bench -p mcp-oauth-core --bench hot_paths`. Method and results: bench/README.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use mcp_oauth_core::challenge::{self, BearerChallenge};
use mcp_oauth_core::jose::{Algorithm, SigningKey, decoding_key};
use mcp_oauth_core::pkce;
use serde::{Deserialize, Serialize};
use std::hint::black_box;

#[derive(Serialize, Deserialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
    iat: i64,
    jti: &'a str,
    client_id: &'a str,
    scope: &'a str,
}

const CLAIMS: Claims<'static> = Claims {
    iss: "https://auth.example.com",
    sub: "ci-bot",
    aud: "https://mcp.example.com/mcp",
    exp: 4_000_000_000,
    iat: 1_800_000_000,
    jti: "3q2-7wAAAAA3q2-7wAAAA",
    client_id: "ci-bot",
    scope: "mcp:tools files:read",
};

fn signing(c: &mut Criterion) {
    for alg in [Algorithm::ES256, Algorithm::EdDSA, Algorithm::RS256] {
        let key = SigningKey::generate(alg).unwrap();
        c.bench_function(&format!("sign access token {alg:?}"), |b| {
            b.iter(|| key.sign("at+jwt", black_box(&CLAIMS)).unwrap())
        });
    }
}

fn verification(c: &mut Criterion) {
    for alg in [Algorithm::ES256, Algorithm::EdDSA] {
        let key = SigningKey::generate(alg).unwrap();
        let token = key.sign("at+jwt", &CLAIMS).unwrap();
        let dk = decoding_key(key.public_jwk()).unwrap();
        let mut v = jsonwebtoken::Validation::new(alg);
        v.set_audience(&["https://mcp.example.com/mcp"]);
        v.set_issuer(&["https://auth.example.com"]);
        c.bench_function(&format!("verify access token {alg:?}"), |b| {
            b.iter(|| {
                jsonwebtoken::decode::<serde_json::Value>(black_box(&token), &dk, &v).unwrap()
            })
        });
    }
}

fn pkce_check(c: &mut Criterion) {
    let (verifier, challenge) = pkce::generate();
    c.bench_function("pkce verify S256", |b| {
        b.iter(|| pkce::verify_s256(black_box(&verifier), black_box(&challenge)).unwrap())
    });
}

fn www_authenticate(c: &mut Criterion) {
    let ch = BearerChallenge {
        resource_metadata: Some(
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp".into(),
        ),
        scope: Some("mcp:tools files:read".into()),
        ..Default::default()
    }
    .with_error(
        mcp_oauth_core::ErrorCode::InsufficientScope,
        "the tool needs files:read",
    );
    c.bench_function("WWW-Authenticate build", |b| {
        b.iter(|| black_box(&ch).to_string())
    });
    let header = ch.to_string();
    c.bench_function("WWW-Authenticate parse", |b| {
        b.iter(|| challenge::find_bearer([black_box(header.as_str())]).unwrap())
    });
}

criterion_group!(benches, signing, verification, pkce_check, www_authenticate);
criterion_main!(benches);
