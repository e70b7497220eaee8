//! Discovery documents.

use crate::common::TestServer;
use mcp_oauth_core::jose::JwkSet;
use serde_json::Value;

#[tokio::test]
async fn oauth_and_openid_metadata_advertise_what_is_implemented() {
    let s = TestServer::start().await;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let r = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let m: Value = r.json().await.unwrap();
        assert_eq!(m["issuer"], s.base);
        assert_eq!(m["authorization_endpoint"], s.url("/authorize"));
        assert_eq!(m["token_endpoint"], s.url("/token"));
        assert_eq!(m["revocation_endpoint"], s.url("/revoke"));
        assert_eq!(m["introspection_endpoint"], s.url("/introspect"));
        assert_eq!(m["jwks_uri"], s.url("/jwks"));
        assert_eq!(
            m["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
        let grants = m["grant_types_supported"].as_array().unwrap();
        for g in ["authorization_code", "refresh_token", "client_credentials"] {
            assert!(grants.iter().any(|x| x == g), "{g}");
        }
        let scopes = m["scopes_supported"].as_array().unwrap();
        assert!(scopes.iter().any(|x| x == "mcp:tools"));
        // Open registration by default (tests/e2e/registration.rs covers `off`).
        assert_eq!(m["registration_endpoint"], s.url("/register"));
    }
    let oidc: Value = s.get_json("/.well-known/openid-configuration").await;
    assert_eq!(
        oidc["subject_types_supported"],
        serde_json::json!(["public"])
    );
}

#[tokio::test]
async fn jwks_publishes_the_signing_key() {
    let s = TestServer::start().await;
    let jwks: JwkSet = s.get_json("/jwks").await;
    assert_eq!(jwks.keys.len(), 1);
    let tokens = s.tokens("mcp:tools").await;
    let at = tokens["access_token"].as_str().unwrap();
    let kid = crate::common::header(at)["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let jwk = jwks.find(&kid).expect("token kid is published");
    let key = mcp_oauth_core::jose::decoding_key(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&[s.resource.as_str()]);
    v.set_issuer(&[s.base.as_str()]);
    v.validate_exp = false;
    jsonwebtoken::decode::<Value>(at, &key, &v).expect("signature verifies with the published key");
}

#[tokio::test]
async fn issuer_with_a_path_is_served_path_inserted_and_appended() {
    // The server listens at the root but claims an issuer with a path.
    let s = TestServer::start_with(|c| c.issuer = format!("{}/tenant1", c.issuer)).await;
    let issuer = format!("{}/tenant1", s.base);
    for path in [
        "/.well-known/oauth-authorization-server/tenant1",
        "/.well-known/openid-configuration/tenant1",
        "/tenant1/.well-known/openid-configuration",
    ] {
        let r = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let m: Value = r.json().await.unwrap();
        assert_eq!(m["issuer"], issuer);
        assert_eq!(m["token_endpoint"], format!("{issuer}/token"));
    }
    let r = s
        .http
        .get(s.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        404,
        "root metadata is not served for a path issuer"
    );
}

#[tokio::test]
async fn health() {
    let s = TestServer::start().await;
    let r = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// `/readyz` answers 200 while the database answers and 503 (with no detail) once it does not.
#[tokio::test]
async fn readiness_follows_the_database() {
    use mcp_oauth_server::store::sqlite::SqliteStore;
    use mcp_oauth_server::{AuthorizationServer, ServerConfig, keys::kek::Kek};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ready.db"))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let config = ServerConfig::new(base.clone()).validate().unwrap();
    let server = AuthorizationServer::new(
        config,
        Arc::new(store.clone()),
        Kek::generate().unwrap(),
        Arc::new(mcp_oauth_core::clock::SystemClock),
    )
    .await
    .unwrap();
    let app = server.router();
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    let http = reqwest::Client::new();
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ok");
    store.pool().close().await;
    let r = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        serde_json::json!({"status": "unavailable"})
    );
    task.abort();
}

#[tokio::test]
async fn metrics_count_tokens_and_latency() {
    let s = TestServer::start().await;
    let _ = s.tokens("mcp:tools").await;
    let r = s
        .post_basic(
            "/token",
            crate::common::M2M_CLIENT,
            "wrong",
            &[("grant_type", "client_credentials")],
        )
        .await;
    assert_eq!(r.status(), 401);
    let r = s.http.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = r.text().await.unwrap();
    for needle in [
        "mcp_oauth_token_requests_total{grant=\"authorization_code\",outcome=\"ok\"} 1",
        "mcp_oauth_token_requests_total{grant=\"client_credentials\",outcome=\"invalid_client\"} 1",
        "mcp_oauth_http_request_duration_seconds_count{endpoint=\"token\"} 2",
        "mcp_oauth_http_request_duration_seconds_count{endpoint=\"consent\"} 1",
        "mcp_oauth_db_pool_connections ",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

#[tokio::test]
async fn metrics_are_not_public_outside_dev() {
    // No token configured, not dev: the main listener does not serve them at all.
    let s = TestServer::start_with(|c| c.dev = false).await;
    let r = s.http.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // The separate listener's router serves them.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = s.server.metrics_router();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let r = s
        .http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    task.abort();

    // With a token: required, compared exactly.
    let s = TestServer::start_with(|c| {
        c.dev = false;
        c.metrics_token = Some("m3trics-token".into());
    })
    .await;
    let r = s.http.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    for wrong in ["m3trics-toke", "m3trics-token2", ""] {
        let r = s
            .http
            .get(s.url("/metrics"))
            .bearer_auth(wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{wrong}");
    }
    let r = s
        .http
        .get(s.url("/metrics"))
        .bearer_auth("m3trics-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("mcp_oauth_"));
}
