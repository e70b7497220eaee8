//! The guard with a JWT verifier against a live issuer.

use crate::support::*;
use axum::http::StatusCode;
use mcp_oauth_core::clock::TestClock;
use mcp_oauth_core::jose::{Algorithm, EncodingKey, Header, SigningKey};
use mcp_oauth_resource::{JwtVerifier, MultiIssuerVerifier, RequireBearerLayer, ScopePolicy};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn jwt_verifier(issuer: &Issuer, resource: &str, clock: &TestClock) -> JwtVerifier {
    JwtVerifier::builder(issuer.url.clone(), resource)
        .insecure_allow_http(true)
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap()
}

async fn guarded_by(issuer: &Issuer, clock: &TestClock, policy: ScopePolicy) -> Guarded {
    guarded(|resource| {
        RequireBearerLayer::builder(resource, jwt_verifier(issuer, resource, clock))
            .policy(policy)
            .build()
            .unwrap()
    })
    .await
}

#[tokio::test]
async fn no_token_gets_a_challenge_without_error() {
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let g = guarded_by(&issuer, &clock, ScopePolicy::new()).await;
    let r = rpc(&g.base, None, &tools_list()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers["www-authenticate"],
        format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            g.base
        )
    );
    assert_eq!(
        r.headers["access-control-expose-headers"],
        "WWW-Authenticate"
    );
    assert!(r.body.get("error").is_none());

    // With a policy, the challenge names the scopes this request needs.
    let g = guarded_by(&issuer, &clock, ScopePolicy::new().default_scopes("mcp")).await;
    let r = rpc(&g.base, None, &tools_list()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let c = r.challenge();
    assert_eq!(c.error, None);
    assert_eq!(c.scope.as_deref(), Some("mcp"));
    // A GET (SSE stream) without a token too.
    let r = send(reqwest::Client::new().get(format!("{}/mcp", g.base))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error(), None);
    // Another scheme is no bearer token.
    let r = send(
        reqwest::Client::new()
            .post(format!("{}/mcp", g.base))
            .basic_auth("u", Some("p")),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error(), None);
}

#[tokio::test]
async fn valid_token_reaches_the_service_with_the_principal() {
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let g = guarded_by(&issuer, &clock, ScopePolicy::new().default_scopes("mcp")).await;
    let token = issuer.token(&g.resource, "mcp files:read");
    let body = tools_list();
    let r = rpc(&g.base, Some(&token), &body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["subject"], "alice");
    assert_eq!(r.body["client_id"], "client-1");
    assert_eq!(r.body["issuer"], issuer.url);
    assert_eq!(r.body["scopes"], "files:read mcp");
    // The body reached the service unchanged.
    assert_eq!(r.body["body"], serde_json::to_string(&body).unwrap());
    // Lower-case scheme, GET.
    let r = send(
        reqwest::Client::new()
            .get(format!("{}/mcp", g.base))
            .header("authorization", format!("bearer {token}")),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(issuer.jwks_fetches(), 1, "keys are cached");
}

#[tokio::test]
async fn bad_tokens_get_invalid_token() {
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let g = guarded_by(&issuer, &clock, ScopePolicy::new()).await;
    let aud = g.resource.clone();
    let key = &issuer.key;
    let signed = |claims: serde_json::Value| key.sign("at+jwt", &claims).unwrap();
    let mut cases: Vec<(&str, String)> = Vec::new();

    let mut c = issuer.claims(&aud, "mcp");
    c["exp"] = json!(NOW - 120);
    cases.push(("expired", signed(c)));

    let mut c = issuer.claims(&aud, "mcp");
    c["iss"] = json!("http://127.0.0.1:1/evil");
    cases.push(("wrong iss", signed(c)));

    cases.push((
        "wrong aud",
        signed(issuer.claims("http://127.0.0.1:1/other", "mcp")),
    ));
    cases.push((
        "aud with trailing slash",
        signed(issuer.claims(&format!("{aud}/"), "mcp")),
    ));

    let header = json!({"alg": "none", "typ": "at+jwt", "kid": key.kid()});
    let payload = issuer.claims(&aud, "mcp");
    cases.push((
        "alg none",
        format!(
            "{}.{}.",
            b64(header.to_string().as_bytes()),
            b64(payload.to_string().as_bytes())
        ),
    ));

    // HS256 "signed" with the public key as the shared secret (the classic confusion attack).
    let public = serde_json::to_vec(key.public_jwk()).unwrap();
    let mut h = Header::new(Algorithm::HS256);
    h.typ = Some("at+jwt".into());
    h.kid = Some(key.kid().to_owned());
    let hs = jsonwebtoken::encode(
        &h,
        &issuer.claims(&aud, "mcp"),
        &EncodingKey::from_secret(&public),
    )
    .unwrap();
    cases.push(("HS256 with public key bytes", hs));

    let stranger = SigningKey::generate(Algorithm::ES256).unwrap();
    cases.push((
        "unknown kid",
        stranger
            .sign("at+jwt", &issuer.claims(&aud, "mcp"))
            .unwrap(),
    ));
    cases.push((
        "typ JWT (an ID token)",
        key.sign("JWT", &issuer.claims(&aud, "mcp")).unwrap(),
    ));
    cases.push(("garbage", "not-a-jwt".into()));

    for (name, token) in cases {
        let r = rpc(&g.base, Some(&token), &tools_list()).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}");
        let c = r.challenge();
        assert_eq!(c.error.as_deref(), Some("invalid_token"), "{name}");
        assert!(c.resource_metadata.is_some(), "{name}");
        assert_eq!(r.body["error"], "invalid_token", "{name}");
    }
}

#[tokio::test]
async fn malformed_or_misplaced_credentials_get_invalid_request() {
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let g = guarded_by(&issuer, &clock, ScopePolicy::new()).await;
    let token = issuer.token(&g.resource, "mcp");
    let url = format!("{}/mcp", g.base);
    let client = reqwest::Client::new();
    let cases = [
        (
            "duplicated header",
            client
                .post(&url)
                .header("authorization", format!("Bearer {token}"))
                .header("authorization", format!("Bearer {token}")),
        ),
        (
            "bearer without token",
            client.post(&url).header("authorization", "Bearer"),
        ),
        (
            "not token68",
            client.post(&url).header("authorization", "Bearer a b c"),
        ),
        (
            "token in the query",
            client.post(format!("{url}?access_token={token}")),
        ),
        (
            "token in query and header",
            client
                .post(format!("{url}?access_token={token}"))
                .bearer_auth(&token),
        ),
        (
            "token in a form body",
            client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("access_token={token}")),
        ),
    ];
    for (name, req) in cases {
        let r = send(req).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name}");
        assert_eq!(r.error().as_deref(), Some("invalid_request"), "{name}");
    }
    // A form body without a token, with a valid header, passes unchanged.
    let r = send(
        client
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("a=1&b=2"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["body"], "a=1&b=2");
}

#[tokio::test]
async fn key_rotation_is_picked_up_without_a_failed_request() {
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let g = guarded_by(&issuer, &clock, ScopePolicy::new()).await;
    let r = rpc(
        &g.base,
        Some(&issuer.token(&g.resource, "mcp")),
        &tools_list(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(issuer.jwks_fetches(), 1);

    let next = Arc::new(SigningKey::generate(Algorithm::ES256).unwrap());
    issuer.publish(next.clone());
    let token = next
        .sign("at+jwt", &issuer.claims(&g.resource, "mcp"))
        .unwrap();
    let r = rpc(&g.base, Some(&token), &tools_list()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(issuer.jwks_fetches(), 2, "one refetch for the new kid");
    let r = rpc(&g.base, Some(&token), &tools_list()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn unknown_kid_refetches_are_rate_limited() {
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let g = guarded_by(&issuer, &clock, ScopePolicy::new()).await;
    let good = issuer.token(&g.resource, "mcp");
    assert_eq!(
        rpc(&g.base, Some(&good), &tools_list()).await.status,
        StatusCode::OK
    );
    assert_eq!(issuer.jwks_fetches(), 1);

    let junk = |_: usize| {
        SigningKey::generate(Algorithm::ES256)
            .unwrap()
            .sign("at+jwt", &issuer.claims(&g.resource, "mcp"))
            .unwrap()
    };
    // A burst of unknown kids, some concurrent: one refetch.
    let tokens: Vec<String> = (0..8).map(junk).collect();
    let list = tools_list();
    let replies =
        futures::future::join_all(tokens.iter().map(|t| rpc(&g.base, Some(t), &list))).await;
    for r in &replies {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.error().as_deref(), Some("invalid_token"));
    }
    assert_eq!(issuer.jwks_fetches(), 2);
    // Valid tokens keep working meanwhile.
    assert_eq!(
        rpc(&g.base, Some(&good), &tools_list()).await.status,
        StatusCode::OK
    );

    clock.advance(29);
    assert_eq!(
        rpc(&g.base, Some(&junk(0)), &tools_list()).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(issuer.jwks_fetches(), 2, "still inside the interval");
    clock.advance(2);
    assert_eq!(
        rpc(&g.base, Some(&junk(0)), &tools_list()).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        issuer.jwks_fetches(),
        3,
        "one more refetch after the interval"
    );
}

#[tokio::test]
async fn two_independent_issuers() {
    let a = Issuer::start().await;
    let b = Issuer::start().await;
    let clock = test_clock();
    let g = guarded(|resource| {
        let multi = MultiIssuerVerifier::new()
            .with_issuer(a.url.clone(), jwt_verifier(&a, resource, &clock))
            .unwrap()
            .with_issuer(b.url.clone(), jwt_verifier(&b, resource, &clock))
            .unwrap();
        RequireBearerLayer::new(resource, multi).unwrap()
    })
    .await;
    let r = rpc(&g.base, Some(&a.token(&g.resource, "mcp")), &tools_list()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["issuer"], a.url);
    let r = rpc(&g.base, Some(&b.token(&g.resource, "mcp")), &tools_list()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["issuer"], b.url);
    // Claims B as issuer but is signed with A's key.
    let forged = a.key.sign("at+jwt", &b.claims(&g.resource, "mcp")).unwrap();
    let r = rpc(&g.base, Some(&forged), &tools_list()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // An issuer nobody trusts.
    let c = Issuer::start().await;
    let r = rpc(&g.base, Some(&c.token(&g.resource, "mcp")), &tools_list()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        c.jwks_fetches(),
        0,
        "an untrusted issuer is never contacted"
    );
}

#[tokio::test]
async fn unreachable_issuer_gets_503_not_401_or_500() {
    // A port that was just free: nothing listens there.
    let (l, dead) = listener().await;
    drop(l);
    let clock = test_clock();
    let g = guarded(|resource| {
        let v = JwtVerifier::builder(dead.clone(), resource)
            .insecure_allow_http(true)
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
        RequireBearerLayer::new(resource, v).unwrap()
    })
    .await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let token = key
        .sign(
            "at+jwt",
            &json!({"iss": dead, "sub": "a", "aud": g.resource, "exp": NOW + 60, "iat": NOW}),
        )
        .unwrap();
    for _ in 0..2 {
        let r = rpc(&g.base, Some(&token), &tools_list()).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.body["error"], "temporarily_unavailable");
        assert!(r.headers.get("retry-after").is_some());
    }
}

#[tokio::test]
async fn issuer_metadata_must_name_the_configured_issuer() {
    let issuer = Issuer::start().await;
    let clock = test_clock();
    // Configured with a trailing slash: the metadata's `issuer` differs, so it is not used.
    let configured = format!("{}/", issuer.url);
    let g = guarded(|resource| {
        let v = JwtVerifier::builder(configured.clone(), resource)
            .insecure_allow_http(true)
            .clock(Arc::new(clock.clone()))
            .refetch_interval(Duration::from_secs(30))
            .build()
            .unwrap();
        RequireBearerLayer::new(resource, v).unwrap()
    })
    .await;
    let r = rpc(
        &g.base,
        Some(&issuer.token(&g.resource, "mcp")),
        &tools_list(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn cors_preflight_is_not_challenged() {
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let g = guarded_by(&issuer, &clock, ScopePolicy::new().default_scopes("mcp")).await;
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, format!("{}/mcp", g.base))
        .header("origin", "http://localhost:6274")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        );
    let r = send(preflight).await;
    assert_ne!(r.status, StatusCode::UNAUTHORIZED);
    // A bare OPTIONS is not a preflight and is guarded like anything else.
    let r =
        send(reqwest::Client::new().request(reqwest::Method::OPTIONS, format!("{}/mcp", g.base)))
            .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn withdrawn_keys_stop_working_after_the_max_age() {
    let issuer = Issuer::start().await;
    let clock = test_clock();
    let g = guarded_by(&issuer, &clock, ScopePolicy::new()).await;
    let mut long = issuer.claims(&g.resource, "mcp");
    long["exp"] = json!(NOW + 3600);
    let old = issuer.key.sign("at+jwt", &long).unwrap();
    assert_eq!(
        rpc(&g.base, Some(&old), &tools_list()).await.status,
        StatusCode::OK
    );

    let next = Arc::new(SigningKey::generate(Algorithm::ES256).unwrap());
    issuer.publish(next.clone());
    issuer.withdraw(issuer.key.kid());
    // Still cached: the old key works until the key set is refreshed.
    clock.advance(599);
    assert_eq!(
        rpc(&g.base, Some(&old), &tools_list()).await.status,
        StatusCode::OK
    );
    assert_eq!(issuer.jwks_fetches(), 1);
    clock.advance(2);
    let r = rpc(&g.base, Some(&old), &tools_list()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error().as_deref(), Some("invalid_token"));
    assert!(issuer.jwks_fetches() >= 2);
    let fresh = next.sign("at+jwt", &long).unwrap();
    assert_eq!(
        rpc(&g.base, Some(&fresh), &tools_list()).await.status,
        StatusCode::OK
    );
}
