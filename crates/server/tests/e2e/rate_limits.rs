//! Per-IP and per-client budgets of `/token`, `/authorize` and `/login`: `429` with
//! `Retry-After`, JSON `slow_down` at the token endpoint, a page for the browser endpoints.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::Value;

async fn cc(s: &TestServer, secret: &str) -> reqwest::Response {
    s.post_basic(
        "/token",
        M2M_CLIENT,
        secret,
        &[
            ("grant_type", "client_credentials"),
            ("resource", &s.resource),
        ],
    )
    .await
}

#[tokio::test]
async fn token_endpoint_limits_per_client_and_per_ip() {
    let s = TestServer::start_with(|c| {
        c.token_rate_limit_per_client = 3;
        c.token_rate_limit_per_ip = 6;
    })
    .await;
    let secret = s.m2m_secret.clone();
    for _ in 0..3 {
        assert_eq!(cc(&s, &secret).await.status(), StatusCode::OK);
    }
    let r = cc(&s, &secret).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "20");
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"], "slow_down");
    // A wrong secret does not spend the client's budget (the per-client check follows
    // authentication), but it does spend the address's.
    for _ in 0..2 {
        assert_eq!(
            cc(&s, "not-the-secret").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let r = cc(&s, "not-the-secret").await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "per IP: 6 a minute"
    );
    assert!(r.headers().contains_key("retry-after"));
    // Refilled as time passes (the server's clock).
    s.clock.advance(60);
    assert_eq!(cc(&s, &secret).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn authorize_and_login_limits_per_ip() {
    let s = TestServer::start_with(|c| {
        c.authorize_rate_limit_per_ip = 2;
        c.login_rate_limit_per_ip = 1;
    })
    .await;
    let url = s.authorize_url(&s.authorize_query("mcp:tools"));
    let mut b = Browser::new(&s);
    let page = b.get(&url).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page.hidden("csrf_token");
    let aq = page.hidden("authorize_query");
    assert_eq!(b.get(&url).await.status, StatusCode::OK);
    let limited = b.get(&url).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers["retry-after"], "30");
    assert!(limited.body.contains("Too many requests"));
    let form = [
        ("csrf_token", csrf.as_str()),
        ("authorize_query", aq.as_str()),
        ("username", "alice"),
        ("password", "not-her-password"),
    ];
    assert_eq!(
        b.post("/login", &form).await.status,
        StatusCode::UNAUTHORIZED
    );
    let limited = b.post("/login", &form).await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers["retry-after"], "60");
    s.clock.advance(60);
    assert_eq!(b.get(&url).await.status, StatusCode::OK);
}

#[tokio::test]
async fn zero_means_no_limit() {
    let s = TestServer::start_with(|c| {
        c.token_rate_limit_per_client = 0;
        c.token_rate_limit_per_ip = 0;
    })
    .await;
    let secret = s.m2m_secret.clone();
    for _ in 0..20 {
        assert_eq!(cc(&s, &secret).await.status(), StatusCode::OK);
    }
}
