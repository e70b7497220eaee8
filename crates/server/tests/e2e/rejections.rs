//! Every rejection the specs demand, each in its RFC shape, none a 500.

use crate::common::*;
use reqwest::StatusCode;

fn without(q: &[(String, String)], name: &str) -> Vec<(String, String)> {
    q.iter().filter(|(k, _)| k != name).cloned().collect()
}

fn with(q: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut q = without(q, name);
    q.push((name.into(), value.into()));
    q
}

async fn authorize_error(s: &TestServer, q: &[(String, String)]) -> (String, Option<String>) {
    let r = s.http.get(s.authorize_url(q)).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "error is redirected to the client"
    );
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(loc.starts_with(PUBLIC_REDIRECT), "{loc}");
    assert_eq!(query_param(&loc, "iss").as_deref(), Some(s.base.as_str()));
    (
        query_param(&loc, "error").unwrap(),
        query_param(&loc, "state"),
    )
}

async fn authorize_page(s: &TestServer, url: &str) {
    let r = s.http.get(url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{url}");
    assert!(
        r.headers().get("location").is_none(),
        "no redirect for {url}"
    );
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn authorize_rejections() {
    let s = TestServer::start().await;
    let q = s.authorize_query("mcp:tools");
    assert_eq!(
        authorize_error(&s, &without(&q, "code_challenge")).await,
        ("invalid_request".into(), Some("st-123".into()))
    );
    // Each parameter set to a value (or left out, `None`): the error redirected to the client.
    for (name, value, error) in [
        ("code_challenge_method", None, "invalid_request"), // plain is the default: refused
        ("code_challenge_method", Some("plain"), "invalid_request"),
        ("code_challenge", Some("short"), "invalid_request"),
        ("response_type", Some("token"), "unsupported_response_type"),
        ("response_type", None, "invalid_request"),
        (
            "resource",
            Some("https://unknown.example/mcp"),
            "invalid_target",
        ),
        (
            "resource",
            Some("https://x.example/#frag"),
            "invalid_target",
        ),
        ("resource", None, "invalid_target"), // two resources: the client must choose
        ("scope", Some("unknown:scope"), "invalid_scope"),
        ("scope", Some("bad\"scope"), "invalid_scope"),
        ("prompt", Some("none"), "invalid_request"),
    ] {
        let query = match value {
            Some(v) => with(&q, name, v),
            None => without(&q, name),
        };
        let got = authorize_error(&s, &query).await.0;
        assert_eq!(got, error, "{name} = {value:?}");
    }
    // Duplicated parameter (not client or redirect): redirected invalid_request.
    let mut dup = q.clone();
    dup.push(("scope".into(), "mcp:admin".into()));
    assert_eq!(authorize_error(&s, &dup).await.0, "invalid_request");
    // Client or redirect in doubt: a page, never a redirect.
    authorize_page(&s, &s.authorize_url(&with(&q, "client_id", "nobody"))).await;
    authorize_page(&s, &s.authorize_url(&without(&q, "client_id"))).await;
    authorize_page(
        &s,
        &s.authorize_url(&with(&q, "redirect_uri", "https://evil.example/cb")),
    )
    .await;
    authorize_page(
        &s,
        &s.authorize_url(&with(
            &q,
            "redirect_uri",
            "http://127.0.0.1:4567/callback#frag",
        )),
    )
    .await;
    let mut dup = q.clone();
    dup.push(("redirect_uri".into(), "https://evil.example/cb".into()));
    authorize_page(&s, &s.authorize_url(&dup)).await;
    // A client not registered for the code grant.
    let mut m2m = with(&q, "client_id", M2M_CLIENT);
    m2m = without(&m2m, "redirect_uri");
    authorize_page(&s, &s.authorize_url(&m2m)).await;
}

#[tokio::test]
async fn code_exchange_rejections() {
    let s = TestServer::start().await;
    let base = |code: &str| {
        vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("client_id".to_owned(), PUBLIC_CLIENT.to_owned()),
            ("code".to_owned(), code.to_owned()),
            ("redirect_uri".to_owned(), PUBLIC_REDIRECT.to_owned()),
            ("code_verifier".to_owned(), VERIFIER.to_owned()),
        ]
    };
    let post = |form: Vec<(String, String)>| {
        let s = &s;
        async move {
            let f: Vec<(&str, &str)> = form.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            error_of(s.post_form("/token", &f).await).await
        }
    };
    // Wrong verifier: invalid_grant, and the code is spent.
    let code = s.code("mcp:tools").await;
    let wrong = "a".repeat(43);
    assert_eq!(
        post(with(&base(&code), "code_verifier", &wrong)).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    assert_eq!(
        post(base(&code)).await.1,
        "invalid_grant",
        "burned by the failed attempt"
    );
    // Malformed or missing verifier.
    let code = s.code("mcp:tools").await;
    assert_eq!(
        post(with(&base(&code), "code_verifier", "short")).await.1,
        "invalid_request"
    );
    assert_eq!(
        post(without(&base(&code), "code_verifier")).await.1,
        "invalid_request"
    );
    // Redirect mismatch.
    assert_eq!(
        post(with(
            &base(&code),
            "redirect_uri",
            "http://127.0.0.1:9999/callback"
        ))
        .await
        .1,
        "invalid_grant"
    );
    // Resource mismatch.
    let code = s.code("mcp:tools").await;
    assert_eq!(
        post(with(&base(&code), "resource", &s.other_resource))
            .await
            .1,
        "invalid_target"
    );
    // Code of another client.
    let code = s.code("mcp:tools").await;
    let r = s
        .post_basic(
            "/token",
            CONF_CLIENT,
            &s.conf_secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", PUBLIC_REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(error_of(r).await.1, "invalid_grant");
    // Expired code.
    let code = s.code("mcp:tools").await;
    s.clock.advance(61);
    assert_eq!(post(base(&code)).await.1, "invalid_grant");
    // Missing code, unknown code.
    assert_eq!(post(without(&base("x"), "code")).await.1, "invalid_request");
    assert_eq!(post(base("no-such-code")).await.1, "invalid_grant");
}

#[tokio::test]
async fn code_replay_revokes_what_it_issued() {
    let s = TestServer::start().await;
    let code = s.code("mcp:tools").await;
    let t: serde_json::Value = s.exchange(&code).await.json().await.unwrap();
    let (status, err) = error_of(s.exchange(&code).await).await;
    assert_eq!(
        (status, err.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert_eq!(
        s.introspect(t["access_token"].as_str().unwrap()).await["active"],
        false
    );
    assert_eq!(
        s.introspect(t["refresh_token"].as_str().unwrap()).await["active"],
        false
    );
}

#[tokio::test]
async fn token_endpoint_request_shape() {
    let s = TestServer::start().await;
    // Unsupported grant.
    let r = s
        .post_form(
            "/token",
            &[("grant_type", "password"), ("client_id", PUBLIC_CLIENT)],
        )
        .await;
    assert_eq!(error_of(r).await.1, "unsupported_grant_type");
    let r = s.post_form("/token", &[("client_id", PUBLIC_CLIENT)]).await;
    assert_eq!(error_of(r).await.1, "invalid_request");
    // Duplicated parameters.
    let r = s
        .http
        .post(s.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "invalid_request");
    // Not a form.
    let r = s
        .http
        .post(s.url("/token"))
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "invalid_request");
    // Malformed bytes.
    let r = s
        .http
        .post(s.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![0xff, 0xfe, b'=', b'%', b'z'])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    // Oversized body.
    let big = format!(
        "grant_type=client_credentials&pad={}",
        "a".repeat(100 * 1024)
    );
    let r = s
        .http
        .post(s.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_of(r).await.1, "invalid_request");
    // Wrong method.
    let r = s.http.get(s.url("/token")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    // Unknown path.
    let r = s.http.get(s.url("/nope")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

/// The bad requests of RFC 9700 §4.11.2's case: client and redirect URI are fine, something else
/// is wrong. `q` is a good query for some client.
fn bad_requests(q: &[(String, String)]) -> Vec<(&'static str, Vec<(String, String)>)> {
    let mut dup_state = q.to_vec();
    dup_state.push(("state".into(), "again".into()));
    vec![
        ("no PKCE", without(q, "code_challenge")),
        ("implicit", with(q, "response_type", "token")),
        (
            "unknown resource",
            with(q, "resource", "https://nowhere.example/mcp"),
        ),
        ("prompt=none", with(q, "prompt", "none")),
        ("a repeated state", dup_state),
    ]
}

/// An error page with the error code in it, never a redirect.
async fn unverified_error_page(s: &TestServer, q: &[(String, String)], what: &str) {
    let r = s.http.get(s.authorize_url(q)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{what}");
    assert!(r.headers().get("location").is_none(), "{what}: no redirect");
    let body = html_unescape(&r.text().await.unwrap());
    assert!(
        body.contains("invalid_request")
            || body.contains("unsupported_response_type")
            || body.contains("invalid_target"),
        "{what}: {body}"
    );
}

#[tokio::test]
async fn errors_never_redirect_to_self_registered_uris() {
    let s = TestServer::start().await;
    let reg = crate::registration::registered(
        &s,
        &serde_json::json!({
            "client_name": "Self-registered",
            "redirect_uris": [PUBLIC_REDIRECT],
            "token_endpoint_auth_method": "none",
        }),
    )
    .await;
    let mut q = s.authorize_query("mcp:tools");
    q[1].1 = reg["client_id"].as_str().unwrap().to_owned();
    for (what, bad) in bad_requests(&q) {
        unverified_error_page(&s, &bad, what).await;
    }
    // The good request still shows the login page.
    let r = s.http.get(s.authorize_url(&q)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // An administrator's client keeps the RFC 6749 §4.1.2.1 redirect.
    let admin_q = s.authorize_query("mcp:tools");
    for (what, bad) in bad_requests(&admin_q) {
        let (error, _) = authorize_error(&s, &bad).await;
        assert!(!error.is_empty(), "{what}");
    }
}
