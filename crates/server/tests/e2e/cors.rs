//! CORS: the endpoints a browser-based client calls with `fetch` answer preflights and carry
//! `Access-Control-Allow-Origin`; the pages, introspection and the operator endpoints never do.

use crate::common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The MCP Inspector's default page origin.
const INSPECTOR: &str = "http://localhost:6274";

async fn preflight(s: &TestServer, path: &str, method: &str, headers: &str) -> reqwest::Response {
    s.http
        .request(Method::OPTIONS, s.url(path))
        .header("origin", INSPECTOR)
        .header("access-control-request-method", method)
        .header("access-control-request-headers", headers)
        .send()
        .await
        .unwrap()
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).map(|v| v.to_str().unwrap())
}

fn lists(value: Option<&str>, item: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|x| x.trim().eq_ignore_ascii_case(item)))
}

#[tokio::test]
async fn browser_endpoints_answer_preflights_from_any_origin() {
    let s = TestServer::start().await;
    for (path, method, headers) in [
        ("/token", "POST", "content-type"),
        ("/register", "POST", "content-type,authorization"),
        ("/register/some-client", "PUT", "authorization,content-type"),
        ("/register/some-client", "DELETE", "authorization"),
        ("/revoke", "POST", "content-type"),
        (
            "/.well-known/oauth-authorization-server",
            "GET",
            "mcp-protocol-version",
        ),
        (
            "/.well-known/openid-configuration",
            "GET",
            "mcp-protocol-version",
        ),
        ("/jwks", "GET", "mcp-protocol-version"),
    ] {
        let r = preflight(&s, path, method, headers).await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{method} {path}");
        assert_eq!(
            header(&r, "access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
        assert!(
            lists(header(&r, "access-control-allow-methods"), method),
            "{path}: {:?}",
            header(&r, "access-control-allow-methods")
        );
        for h in headers.split(',') {
            assert!(
                lists(header(&r, "access-control-allow-headers"), h),
                "{path}: {h}"
            );
        }
        assert!(
            header(&r, "access-control-allow-credentials").is_none(),
            "never credentials mode"
        );
        assert!(
            r.bytes().await.unwrap().is_empty(),
            "a preflight has no body"
        );
    }
}

#[tokio::test]
async fn answers_and_errors_carry_cors_headers_and_expose_the_challenge() {
    let s = TestServer::start().await;
    let m = s
        .http
        .get(s.url("/.well-known/oauth-authorization-server"))
        .header("origin", INSPECTOR)
        .send()
        .await
        .unwrap();
    assert_eq!(m.status(), StatusCode::OK);
    assert_eq!(header(&m, "access-control-allow-origin"), Some("*"));

    // A refused client authentication: 401 with a Basic challenge the page may read.
    let r = s
        .http
        .post(s.url("/token"))
        .header("origin", INSPECTOR)
        .basic_auth("no-such-client", Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&r, "access-control-allow-origin"), Some("*"));
    assert!(lists(
        header(&r, "access-control-expose-headers"),
        "www-authenticate"
    ));
    assert!(r.headers().contains_key("www-authenticate"));

    // A refused registration.
    let r = s
        .http
        .post(s.url("/register"))
        .header("origin", INSPECTOR)
        .json(&json!({"redirect_uris": ["javascript:alert(1)"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(header(&r, "access-control-allow-origin"), Some("*"));

    // A browser client registers (as the MCP Inspector does) and the answer is readable.
    let r = s
        .http
        .post(s.url("/register"))
        .header("origin", INSPECTOR)
        .json(&json!({
            "client_name": "MCP Inspector",
            "redirect_uris": ["http://localhost:6274/oauth/callback"],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(header(&r, "access-control-allow-origin"), Some("*"));
    let reg: Value = r.json().await.unwrap();
    assert!(reg["client_id"].is_string());
}

#[tokio::test]
async fn pages_introspection_and_operator_endpoints_never_send_cors() {
    let s = TestServer::start().await;
    let authorize = s.authorize_url(&s.authorize_query("mcp:tools"));
    let r = s
        .http
        .get(&authorize)
        .header("origin", INSPECTOR)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the login page");
    assert!(header(&r, "access-control-allow-origin").is_none());
    for path in [
        "/authorize",
        "/login",
        "/consent",
        "/introspect",
        "/metrics",
        "/healthz",
        "/readyz",
    ] {
        let r = preflight(&s, path, "POST", "content-type").await;
        assert!(
            r.headers()
                .keys()
                .all(|k| !k.as_str().starts_with("access-control-")),
            "{path}: {:?}",
            r.headers()
        );
        assert_ne!(r.status(), StatusCode::NO_CONTENT, "{path}");
    }
    let r = s
        .http
        .post(s.url("/introspect"))
        .header("origin", INSPECTOR)
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert!(header(&r, "access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_configured_origin_list_narrows_cors_to_those_origins() {
    let s = TestServer::start_with(|c| {
        c.cors_allowed_origins = vec!["HTTP://LOCALHOST:6274".into()];
    })
    .await;
    let r = preflight(&s, "/token", "POST", "content-type").await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(header(&r, "access-control-allow-origin"), Some(INSPECTOR));
    assert!(lists(header(&r, "vary"), "origin"));

    let other = s
        .http
        .request(Method::OPTIONS, s.url("/token"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(header(&other, "access-control-allow-origin").is_none());
    let other = s
        .http
        .get(s.url("/jwks"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    assert!(header(&other, "access-control-allow-origin").is_none());
    assert!(lists(header(&other, "vary"), "origin"));
}
