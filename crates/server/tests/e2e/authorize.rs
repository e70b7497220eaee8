//! The authorization code flow through the login and consent forms.

use crate::common::*;
use reqwest::StatusCode;

#[tokio::test]
async fn code_flow_with_login_and_consent() {
    let s = TestServer::start().await;
    let loc = s
        .browser_authorize(
            &s.authorize_query("mcp:tools files:read"),
            "alice",
            "wonderland",
        )
        .await;
    assert!(loc.starts_with(PUBLIC_REDIRECT), "{loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
    assert_eq!(
        query_param(&loc, "iss").as_deref(),
        Some(s.base.as_str()),
        "RFC 9207 iss"
    );
    let code = query_param(&loc, "code").unwrap();
    let r = s.exchange(&code).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let t: serde_json::Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 900);
    assert_eq!(t["scope"], "files:read mcp:tools");
    assert!(t["refresh_token"].as_str().unwrap().len() >= 43);
    let at = t["access_token"].as_str().unwrap();
    let h = header(at);
    assert_eq!(h["typ"], "at+jwt");
    assert_eq!(h["alg"], "ES256");
    let c = claims(at);
    assert_eq!(c["iss"], s.base);
    assert_eq!(c["aud"], s.resource);
    assert_eq!(c["client_id"], PUBLIC_CLIENT);
    assert_eq!(c["scope"], "files:read mcp:tools");
    let alice = s.store().get_user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(c["sub"], alice.id);
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);
    assert!(c["jti"].as_str().unwrap().len() >= 16);
    let i = s.introspect(at).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["username"], "alice");
    assert_eq!(i["aud"], s.resource);
}

#[tokio::test]
async fn consent_is_remembered_per_user_client_resource_and_scopes() {
    let s = TestServer::start().await;
    let mut b = Browser::new(&s);
    let q = s.authorize_query("mcp:tools");
    let page = b.get(&s.authorize_url(&q)).await;
    let aq = page.hidden("authorize_query");
    let consent = b.log_in(&page, "alice", "wonderland").await;
    assert_eq!(consent.status, StatusCode::OK);
    assert!(
        consent.body.contains("Use tools"),
        "scope description shown"
    );
    assert!(
        consent.body.contains("127.0.0.1:4567"),
        "redirect host shown"
    );
    assert!(
        consent.body.contains("Public &lt;App&gt;"),
        "client name shown, escaped"
    );
    assert!(consent.body.contains("Test MCP"), "resource shown");
    assert!(consent.body.contains("name=\"approve\"") && consent.body.contains("name=\"deny\""));
    let csrf2 = consent.hidden("csrf_token");
    let done = b
        .post(
            "/consent",
            &[
                ("csrf_token", &csrf2),
                ("authorize_query", &aq),
                ("approve", "1"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    // Same request again: straight to the redirect.
    let again = b.get(&s.authorize_url(&q)).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert!(query_param(again.location.as_deref().unwrap(), "code").is_some());
    // More scopes: consent is asked again.
    let wider = b
        .get(&s.authorize_url(&s.authorize_query("mcp:tools mcp:admin")))
        .await;
    assert_eq!(wider.status, StatusCode::OK);
    assert!(wider.body.contains("Administer"));
}

#[tokio::test]
async fn deny_redirects_access_denied() {
    let s = TestServer::start().await;
    let mut b = Browser::new(&s);
    let q = s.authorize_query("mcp:tools");
    let page = b.get(&s.authorize_url(&q)).await;
    let aq = page.hidden("authorize_query");
    let consent = b.log_in(&page, "alice", "wonderland").await;
    let done = b
        .post(
            "/consent",
            &[
                ("csrf_token", &consent.hidden("csrf_token")),
                ("authorize_query", &aq),
                ("deny", "1"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    let loc = done.location.unwrap();
    assert_eq!(query_param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&loc, "state").as_deref(), Some("st-123"));
    assert_eq!(query_param(&loc, "iss").as_deref(), Some(s.base.as_str()));
}

#[tokio::test]
async fn pages_forbid_framing_and_carry_csrf() {
    let s = TestServer::start().await;
    let mut b = Browser::new(&s);
    let page = b
        .get(&s.authorize_url(&s.authorize_query("mcp:tools")))
        .await;
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:4567"),
        "{csp}"
    );
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert!(
        page.body.contains("<label for=\"username\">") && page.body.contains("name=\"password\"")
    );
    let cookie = page.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    // Wrong CSRF token: refused, nothing happens.
    let aq = page.hidden("authorize_query");
    let r = b
        .post(
            "/login",
            &[
                ("csrf_token", "forged"),
                ("authorize_query", &aq),
                ("username", "alice"),
                ("password", "wonderland"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // No session cookie at all: refused.
    let mut stranger = Browser::new(&s);
    let r = stranger
        .post(
            "/login",
            &[
                ("csrf_token", &page.hidden("csrf_token")),
                ("authorize_query", &aq),
                ("username", "alice"),
                ("password", "wonderland"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn secure_cookie_outside_dev_mode() {
    let s = TestServer::start_with(|c| c.dev = false).await;
    let mut b = Browser::new(&s);
    let page = b
        .get(&s.authorize_url(&s.authorize_query("mcp:tools")))
        .await;
    let cookie = page.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("__Host-mcp-oauth-session="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("Path=/") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert!(!cookie.contains("Domain="), "{cookie}");
}

#[tokio::test]
async fn wrong_password_and_throttling() {
    let s = TestServer::start_with(|c| c.login_free_attempts = 2).await;
    let mut b = Browser::new(&s);
    let page = b
        .get(&s.authorize_url(&s.authorize_query("mcp:tools")))
        .await;
    for _ in 0..2 {
        let r = b.log_in(&page, "alice", "nope").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.body.contains("incorrect"));
    }
    let r = b.log_in(&page, "alice", "nope").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Now backed off: even the right password waits.
    let r = b.log_in(&page, "alice", "wonderland").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key("retry-after"));
    s.clock.advance(3);
    let r = b.log_in(&page, "alice", "wonderland").await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "after the back-off the right password works"
    );
}

#[tokio::test]
async fn loopback_redirect_any_port_but_nothing_else() {
    let s = TestServer::start().await;
    for (uri, ok) in [
        ("http://127.0.0.1:1/callback", true),
        ("http://127.0.0.1/callback", true),
        ("http://127.0.0.1:5/other", false),
        ("http://localhost:5/callback", false),
        ("http://127.0.0.1:5/callback?x=1", false),
        ("https://127.0.0.1:5/callback", false),
    ] {
        let mut q = s.authorize_query("mcp:tools");
        q[2].1 = uri.into();
        let r = s.http.get(s.authorize_url(&q)).send().await.unwrap();
        if ok {
            assert_eq!(r.status(), StatusCode::OK, "{uri}");
        } else {
            assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{uri}");
            assert!(
                r.headers().get("location").is_none(),
                "never redirect to {uri}"
            );
        }
    }
}

#[tokio::test]
async fn restricted_scopes_need_a_role_and_the_token_gets_the_intersection() {
    let s = TestServer::start().await;
    // Before any request, so no cached copy of the resource is in the way.
    mcp_oauth_server::admin::roles::update_resource(
        s.store().as_ref(),
        &s.resource,
        None,
        None,
        &["mcp:admin=admin".into()],
        &[],
    )
    .await
    .unwrap();
    mcp_oauth_server::admin::roles::change_user_roles(
        s.store().as_ref(),
        "bob",
        &["admin".into()],
        &[],
    )
    .await
    .unwrap();

    // alice holds no role: the consent page lists mcp:admin as not available, with nothing
    // to tick, and approving (whatever the form says) grants the rest.
    let q = s.authorize_query("mcp:tools mcp:admin");
    let mut b = Browser::new(&s);
    let login = b.get(&s.authorize_url(&q)).await;
    let aq = login.hidden("authorize_query");
    let consent = b
        .post(
            "/login",
            &[
                ("csrf_token", &login.hidden("csrf_token")),
                ("authorize_query", &aq),
                ("username", "alice"),
                ("password", "wonderland"),
            ],
        )
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    let text = html_unescape(&consent.body);
    let (granted, unavailable) = text.split_once("not available to your account").unwrap();
    assert!(
        granted.contains("mcp:tools") && !granted.contains("mcp:admin"),
        "{text}"
    );
    assert!(
        unavailable.contains("mcp:admin") && unavailable.contains("admin"),
        "{text}"
    );
    assert!(!consent.body.contains("type=\"checkbox\""));
    let done = b
        .post(
            "/consent",
            &[
                ("csrf_token", &consent.hidden("csrf_token")),
                ("authorize_query", &aq),
                ("approve", "1"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let code = query_param(&done.location.unwrap(), "code").unwrap();
    let t: serde_json::Value = s.exchange(&code).await.json().await.unwrap();
    assert_eq!(t["scope"], "mcp:tools", "{t}");
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["scope"],
        "mcp:tools"
    );

    // Asking only for what alice may not approve: access_denied, to this administrator's client.
    let loc = s
        .browser_authorize(&s.authorize_query("mcp:admin"), "alice", "wonderland")
        .await;
    assert_eq!(
        query_param(&loc, "error").as_deref(),
        Some("access_denied"),
        "{loc}"
    );
    assert!(query_param(&loc, "code").is_none());

    // bob holds the role: he gets both.
    let loc = s
        .browser_authorize(&s.authorize_query("mcp:tools mcp:admin"), "bob", "builder")
        .await;
    let code = query_param(&loc, "code").unwrap();
    let t: serde_json::Value = s.exchange(&code).await.json().await.unwrap();
    assert_eq!(t["scope"], "mcp:admin mcp:tools", "{t}");
}
