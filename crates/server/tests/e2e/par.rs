//! Pushed authorization requests (RFC 9126): `/par`, the `request_uri` at `/authorize`, and
//! every way to misuse one.

use crate::common::*;
use crate::registration::registered;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The authorization parameters of the public client, without `client_id`.
fn pushed_params(s: &TestServer) -> Vec<(String, String)> {
    s.authorize_query("mcp:tools")
        .into_iter()
        .filter(|(k, _)| k != "client_id")
        .collect()
}

async fn push(s: &TestServer, client_id: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form: Vec<(String, String)> = pushed_params(s);
    form.push(("client_id".into(), client_id.into()));
    for (k, v) in extra {
        form.push(((*k).into(), (*v).into()));
    }
    let r = s.http.post(s.url("/par")).form(&form).send().await.unwrap();
    assert!(r.status().as_u16() < 500, "{}", r.status());
    r
}

async fn request_uri(s: &TestServer) -> String {
    let r = push(s, PUBLIC_CLIENT, &[]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["expires_in"], 60);
    v["request_uri"].as_str().unwrap().to_owned()
}

fn by_reference(client_id: &str, uri: &str) -> Vec<(String, String)> {
    vec![
        ("client_id".into(), client_id.into()),
        ("request_uri".into(), uri.into()),
    ]
}

#[tokio::test]
async fn a_pushed_request_yields_one_code() {
    let s = TestServer::start().await;
    let uri = request_uri(&s).await;
    assert!(uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    let loc = s
        .browser_authorize(&by_reference(PUBLIC_CLIENT, &uri), "alice", "wonderland")
        .await;
    assert!(loc.starts_with(PUBLIC_REDIRECT), "{loc}");
    assert_eq!(
        query_param(&loc, "state").as_deref(),
        Some("st-123"),
        "the pushed state"
    );
    let code = query_param(&loc, "code").unwrap();
    assert_eq!(s.exchange(&code).await.status(), StatusCode::OK);

    // The same request_uri again: refused when it would yield a second code.
    let mut b = Browser::new(&s);
    let page = b
        .get(&s.authorize_url(&by_reference(PUBLIC_CLIENT, &uri)))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let done = b.log_in(&page, "alice", "wonderland").await;
    assert_eq!(done.status, StatusCode::BAD_REQUEST, "{}", done.body);
    assert!(done.body.contains("already used"), "{}", done.body);
    assert!(done.location.is_none(), "no code");
}

#[tokio::test]
async fn misused_request_uris_are_refused_on_a_page() {
    let s = TestServer::start().await;
    let uri = request_uri(&s).await;
    let mut b = Browser::new(&s);
    // Another client's request_uri.
    let page = b
        .get(&s.authorize_url(&by_reference(CONF_CLIENT, &uri)))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("another client"), "{}", page.body);
    // Without client_id.
    let page = b
        .get(&s.authorize_url(&[("request_uri".into(), uri.clone())]))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    // Tampered with, or made up.
    // The last character changed to one it is not (a fixed letter would leave
    // the 1 in 64 URIs that already end with it untouched).
    let last = if uri.ends_with('A') { 'B' } else { 'A' };
    let tampered = format!("{}{last}", &uri[..uri.len() - 1]);
    assert_ne!(tampered, uri);
    for bad in [
        tampered.as_str(),
        "urn:ietf:params:oauth:request_uri:abc",
        "https://evil.example/r",
    ] {
        let page = b
            .get(&s.authorize_url(&by_reference(PUBLIC_CLIENT, bad)))
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(page.location.is_none(), "never a redirect");
    }
    // Expired.
    s.clock.advance(61);
    let page = b
        .get(&s.authorize_url(&by_reference(PUBLIC_CLIENT, &uri)))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("expired"), "{}", page.body);
}

#[tokio::test]
async fn the_push_itself_is_checked() {
    let s = TestServer::start().await;
    // A confidential client must authenticate.
    let r = push(&s, CONF_CLIENT, &[]).await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    // A request_uri cannot be pushed.
    let r = push(&s, PUBLIC_CLIENT, &[("request_uri", "urn:x")]).await;
    assert_eq!(error_of(r).await.1, "invalid_request");
    // A bad request is answered to the client, as JSON.
    let form = [
        ("client_id", PUBLIC_CLIENT),
        ("response_type", "code"),
        ("redirect_uri", PUBLIC_REDIRECT),
    ];
    let r = s.post_form("/par", &form).await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    let form = [
        ("client_id", PUBLIC_CLIENT),
        ("response_type", "code"),
        ("redirect_uri", "https://evil.example/cb"),
    ];
    let r = s.post_form("/par", &form).await;
    assert_eq!(
        error_of(r).await.1,
        "invalid_request",
        "unregistered redirect"
    );

    let m: Value = s.get_json("/.well-known/oauth-authorization-server").await;
    assert_eq!(m["pushed_authorization_request_endpoint"], s.url("/par"));
    assert_eq!(m["require_pushed_authorization_requests"], false);
}

#[tokio::test]
async fn pushing_can_be_required_per_server_and_per_client() {
    let s = TestServer::start_with(|c| c.require_pushed_authorization_requests = true).await;
    let mut b = Browser::new(&s);
    let page = b
        .get(&s.authorize_url(&s.authorize_query("mcp:tools")))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("must push"), "{}", page.body);
    let uri = request_uri(&s).await;
    let loc = s
        .browser_authorize(&by_reference(PUBLIC_CLIENT, &uri), "alice", "wonderland")
        .await;
    assert!(query_param(&loc, "code").is_some());
    let m: Value = s.get_json("/.well-known/oauth-authorization-server").await;
    assert_eq!(m["require_pushed_authorization_requests"], true);

    let s = TestServer::start().await;
    let c = registered(
        &s,
        &json!({
            "client_name": "par app",
            "redirect_uris": [PUBLIC_REDIRECT],
            "token_endpoint_auth_method": "none",
            "require_pushed_authorization_requests": true,
        }),
    )
    .await;
    let id = c["client_id"].as_str().unwrap();
    let mut q = s.authorize_query("mcp:tools");
    q[1].1 = id.to_owned();
    let page = Browser::new(&s).get(&s.authorize_url(&q)).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("must push"), "{}", page.body);
    let r = push(&s, id, &[]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_slow_sign_in_keeps_a_pushed_request_for_the_sign_in_session_only() {
    let s = TestServer::start().await;
    let uri = request_uri(&s).await;
    let mut b = Browser::new(&s);
    let page = b
        .get(&s.authorize_url(&by_reference(PUBLIC_CLIENT, &uri)))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let carried = page.hidden("authorize_query");
    assert!(
        !carried.contains(&uri),
        "the forms carry the request sealed for them, not the client's request_uri"
    );

    // The person takes five minutes to sign in: the push has expired, the sign-in has not.
    s.clock.advance(300);
    let consent = b.log_in(&page, "alice", "wonderland").await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    let csrf = consent.hidden("csrf_token");
    let approve = [
        ("csrf_token", csrf.as_str()),
        ("authorize_query", carried.as_str()),
        ("approve", "1"),
    ];
    let done = b.post("/consent", &approve).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let loc = done.location.unwrap();
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
    let code = query_param(&loc, "code").unwrap();
    assert_eq!(s.exchange(&code).await.status(), StatusCode::OK);

    // Still one push, one code: the carried request again, long after the push expired.
    s.clock.advance(600);
    let again = b.post("/consent", &approve).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    assert!(again.body.contains("already used"), "{}", again.body);
    assert!(again.location.is_none(), "no second code");

    // The client's request_uri itself is no good in a form, and the carried one is no good at
    // /authorize, even in time.
    let uri = request_uri(&s).await;
    let mut fresh = Browser::new(&s);
    let page = fresh
        .get(&s.authorize_url(&by_reference(PUBLIC_CLIENT, &uri)))
        .await;
    let csrf = page.hidden("csrf_token");
    let raw = serde_urlencoded::to_string(by_reference(PUBLIC_CLIENT, &uri)).unwrap();
    let form = [
        ("csrf_token", csrf.as_str()),
        ("authorize_query", raw.as_str()),
        ("username", "alice"),
        ("password", "wonderland"),
    ];
    let refused = fresh.post("/login", &form).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.location.is_none());
    let carried: Vec<(String, String)> =
        serde_urlencoded::from_str(&page.hidden("authorize_query")).unwrap();
    let at_authorize = fresh.get(&s.authorize_url(&carried)).await;
    assert_eq!(at_authorize.status, StatusCode::BAD_REQUEST);
    assert!(at_authorize.location.is_none(), "never a redirect");

    // Past the sign-in window the carried request is refused too, even in a signed-in session
    // (which outlives the window).
    let r = push(&s, PUBLIC_CLIENT, &[("prompt", "consent")]).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    let uri = v["request_uri"].as_str().unwrap();
    let consent = b
        .get(&s.authorize_url(&by_reference(PUBLIC_CLIENT, uri)))
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    let csrf = consent.hidden("csrf_token");
    let carried = consent.hidden("authorize_query");
    s.clock.advance(60 + 1800);
    let late = b
        .post(
            "/consent",
            &[
                ("csrf_token", csrf.as_str()),
                ("authorize_query", carried.as_str()),
                ("approve", "1"),
            ],
        )
        .await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.body);
    assert!(late.body.contains("expired"), "{}", late.body);
    assert!(late.location.is_none(), "no code");
}
