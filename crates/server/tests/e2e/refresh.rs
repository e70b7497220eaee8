//! Refresh-token rotation, reuse detection and the grace window.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::Value;

async fn refresh(s: &TestServer, rt: &str) -> reqwest::Response {
    s.post_form(
        "/token",
        &[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC_CLIENT),
            ("refresh_token", rt),
            ("resource", &s.resource),
        ],
    )
    .await
}

#[tokio::test]
async fn rotation_and_reuse_detection() {
    let s = TestServer::start().await;
    let t = s.tokens("mcp:tools").await;
    let rt1 = t["refresh_token"].as_str().unwrap().to_owned();
    let r = refresh(&s, &rt1).await;
    assert_eq!(r.status(), StatusCode::OK);
    let t2: Value = r.json().await.unwrap();
    let rt2 = t2["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt1, rt2, "rotated on every use");
    assert_eq!(
        claims(t2["access_token"].as_str().unwrap())["aud"],
        s.resource
    );
    assert_eq!(t2["scope"], "mcp:tools");
    let r = refresh(&s, &rt2).await;
    assert_eq!(r.status(), StatusCode::OK);
    let t3: Value = r.json().await.unwrap();
    let rt3 = t3["refresh_token"].as_str().unwrap().to_owned();
    // Past the grace window, presenting rt1 again is reuse: the family dies.
    s.clock.advance(60);
    let r = refresh(&s, &rt1).await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    let r = refresh(&s, &rt3).await;
    assert_eq!(
        error_of(r).await.1,
        "invalid_grant",
        "the newest token died with its family"
    );
    let i = s.introspect(t3["access_token"].as_str().unwrap()).await;
    assert_eq!(
        i["active"], false,
        "access tokens of a revoked family are inactive"
    );
}

#[tokio::test]
async fn grace_window_gives_the_same_successor() {
    let s = TestServer::start().await;
    let t = s.tokens("mcp:tools").await;
    let rt1 = t["refresh_token"].as_str().unwrap().to_owned();
    let a: Value = refresh(&s, &rt1).await.json().await.unwrap();
    s.clock.advance(5);
    let r = refresh(&s, &rt1).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a retry inside the grace window succeeds"
    );
    let b: Value = r.json().await.unwrap();
    assert_eq!(a["refresh_token"], b["refresh_token"], "same successor");
    // The successor still works.
    let r = refresh(&s, a["refresh_token"].as_str().unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    // And now a retry of rt1 is reuse even inside the window: its successor was used.
    let r = refresh(&s, &rt1).await;
    assert_eq!(error_of(r).await.1, "invalid_grant");
}

#[tokio::test]
async fn refresh_scope_and_resource_rules() {
    let s = TestServer::start().await;
    let t = s.tokens("mcp:tools files:read").await;
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    // Widening is refused; narrowing works.
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", PUBLIC_CLIENT),
                ("refresh_token", &rt),
                ("scope", "mcp:admin"),
            ],
        )
        .await;
    assert_eq!(error_of(r).await.1, "invalid_scope");
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", PUBLIC_CLIENT),
                ("refresh_token", &rt),
                ("resource", &s.other_resource),
            ],
        )
        .await;
    assert_eq!(error_of(r).await.1, "invalid_target");
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", PUBLIC_CLIENT),
                ("refresh_token", &rt),
                ("scope", "files:read"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let t2: Value = r.json().await.unwrap();
    assert_eq!(t2["scope"], "files:read");
    // The grant keeps its full scope for the next refresh.
    let r = refresh(&s, t2["refresh_token"].as_str().unwrap()).await;
    let t3: Value = r.json().await.unwrap();
    assert_eq!(t3["scope"], "files:read mcp:tools");
}

#[tokio::test]
async fn another_client_cannot_use_or_burn_a_refresh_token() {
    let s = TestServer::start().await;
    let t = s.tokens("mcp:tools").await;
    let rt = t["refresh_token"].as_str().unwrap().to_owned();
    let r = s
        .post_basic(
            "/token",
            CONF_CLIENT,
            &s.conf_secret,
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        )
        .await;
    assert_eq!(error_of(r).await.1, "invalid_grant");
    let r = refresh(&s, &rt).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "the owner's token was not rotated by the attempt"
    );
}

#[tokio::test]
async fn expired_refresh_token_is_refused() {
    let s = TestServer::start_with(|c| c.refresh_token_ttl = 100).await;
    let t = s.tokens("mcp:tools").await;
    s.clock.advance(101);
    let r = refresh(&s, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(error_of(r).await.1, "invalid_grant");
}
