//! The device page's federated sign-in against a live OpenID provider (node-oidc-provider): the
//! code typed first, our consent naming the device's application and the provider, the
//! provider's own pages, back to our callback, which approves the device authorization for the
//! account that signed in; the poll's grant keeps the provider's tokens (token exchange reaches
//! the provider's userinfo with them). Then what a hostile party could try: wrong codes (counted
//! against the same guessing budget), an unknown provider, no CSRF token, a code decided while the
//! person was at the provider, the callback in another browser, a replayed callback; and the
//! whole flow in headless Chromium.

use crate::common::{TestServer, claims};
use crate::device::{DEVICE_CLIENT, code_of, device_client, poll, poll_error, start};
use crate::idp::{Answer, Browser, Idp};
use crate::upstream::{exchange, exchange_client, setup_with, userinfo};
use crate::upstream_browser::{console_trouble, foreign_favicon, provider_font};
use crate::webdriver::{Browser as Chromium, require};
use mcp_oauth_server::audit::{AuditFilter, AuditKind};
use reqwest::StatusCode;
use serde_json::Value;

/// Our server with the block `corp` ("Corp SSO") at a live provider, with or without the
/// password form, and the device client registered.
async fn server(local_login: bool) -> Option<(TestServer, Idp)> {
    let (s, idp) = setup_with(&[("corp", "Corp SSO")], &[], |c| {
        c.local_login = local_login;
    })
    .await?;
    device_client(&s, DEVICE_CLIENT).await;
    Some((s, idp))
}

/// The device page for `user_code` (as the link carries it), then its "Continue with Corp SSO":
/// the page, and the answer (our consent, or a refusal).
async fn continue_with(s: &TestServer, b: &Browser, user_code: &str) -> (Answer, Answer) {
    let page = b
        .get(&s.url(&format!("/device?user_code={user_code}")))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let action = page.form_action("Continue with Corp SSO");
    assert_eq!(action, "/device/upstream");
    let csrf = page.hidden("csrf_token");
    let consent = b
        .post(
            &s.url(&action),
            &[
                ("csrf_token", &csrf),
                ("user_code", user_code),
                ("upstream", "corp"),
            ],
        )
        .await;
    (page, consent)
}

/// Allow (or deny) on our consent page.
async fn decide(s: &TestServer, b: &Browser, consent: &Answer, button: &str) -> Answer {
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    b.post(
        &s.url("/device/upstream"),
        &[
            ("csrf_token", &consent.hidden("csrf_token")),
            ("user_code", &consent.hidden("user_code")),
            ("upstream", &consent.hidden("upstream")),
            (button, "1"),
        ],
    )
    .await
}

/// Our consent allowed, then the provider's pages as `login`: the URL it sends the browser
/// back to (our callback, not followed).
async fn through_provider(
    s: &TestServer,
    idp: &Idp,
    b: &Browser,
    user_code: &str,
    login: &str,
) -> String {
    let (_, consent) = continue_with(s, b, user_code).await;
    let go = decide(s, b, &consent, "approve").await;
    assert_eq!(go.status, StatusCode::SEE_OTHER, "{}", go.body);
    let auth = go.location.unwrap();
    assert!(auth.starts_with(&idp.issuer), "{auth}");
    b.sign_in_upstream(idp, &auth, login).await
}

fn audited(events: &Value, kind: &str) -> Vec<Value> {
    events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_is_approved_through_the_identity_provider() {
    let Some((s, idp)) = server(false).await else {
        return;
    };
    let v = start(&s, DEVICE_CLIENT, "mcp:tools").await;
    let user_code = v["user_code"].as_str().unwrap();
    let device_code = code_of(&v);
    let b = Browser::new();
    let (page, consent) = continue_with(&s, &b, user_code).await;
    assert!(
        !page.body.contains("type=\"password\""),
        "local_login = false: no password form"
    );
    assert!(
        page.body.contains(&format!("value=\"{user_code}\"")),
        "the code from the link, to compare with the device"
    );
    // Our consent, before the person is sent anywhere.
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(consent.body.contains("Allow and continue with Corp SSO"));
    assert!(
        consent.body.contains("Device &lt;tv-app&gt;"),
        "names the device's application, escaped: {}",
        consent.body
    );
    assert!(consent.body.contains(user_code), "shows the code");
    let csp = consent.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    let provider_origin = url::Url::parse(&idp.issuer)
        .unwrap()
        .origin()
        .ascii_serialization();
    assert!(
        csp.contains(&format!("form-action 'self' {provider_origin}")),
        "Allow may lead only to the provider: {csp}"
    );
    assert_eq!(
        poll_error(&s, DEVICE_CLIENT, &device_code).await.1,
        "authorization_pending"
    );

    let go = decide(&s, &b, &consent, "approve").await;
    assert_eq!(go.status, StatusCode::SEE_OTHER, "{}", go.body);
    let back = b
        .sign_in_upstream(&idp, go.location.as_deref().unwrap(), "ann")
        .await;
    let done = b.get(&back).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("Device connected"), "{}", done.body);
    // The callback again: its state was consumed.
    let replay = b.get(&back).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(replay.body.contains("already used"), "{}", replay.body);

    // The device's next poll (after its interval) gets tokens for the upstream account.
    s.clock.advance(10);
    let r = poll(&s, DEVICE_CLIENT, &device_code).await;
    assert_eq!(r.status(), 200);
    let tokens: Value = r.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert!(tokens["refresh_token"].is_string());
    let link = s
        .store()
        .get_upstream_link("corp", "ann")
        .await
        .unwrap()
        .expect("linked");
    let c = claims(access);
    assert_eq!(c["sub"], link.user_id.as_str());
    assert_eq!(c["aud"], s.resource.as_str());
    // Its grant keeps the provider's tokens: the MCP server exchanges the device's token for
    // the person's own token at the provider.
    let gid = c["gid"].as_str().unwrap();
    let kept = s
        .store()
        .get_grant_upstream_tokens(gid)
        .await
        .unwrap()
        .expect("kept with the grant");
    assert_eq!(kept.upstream_id, "corp");
    let secret = exchange_client(&s).await;
    let (status, got) = exchange(&s, "mcp-server", &secret, access, "corp").await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let me: Value = userinfo(&idp, got["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["sub"], "ann");
    // Spent.
    assert_eq!(
        poll_error(&s, DEVICE_CLIENT, &device_code).await.1,
        "invalid_grant"
    );

    // The audit trail: the upstream sign-in for the device's client, then the approval by the
    // account, and no secret in it.
    let events =
        serde_json::to_value(s.store().list_audit(&AuditFilter::default()).await.unwrap()).unwrap();
    let login = audited(&events, "login_succeeded");
    assert_eq!(login.len(), 1, "{events}");
    assert_eq!(login[0]["client_id"], DEVICE_CLIENT);
    assert_eq!(login[0]["detail"]["upstream"], "corp");
    let approved = audited(&events, "device_approved");
    assert_eq!(approved.len(), 1, "{events}");
    assert_eq!(approved[0]["user_id"], link.user_id.as_str());
    let dump = events.to_string();
    assert!(!dump.contains(&device_code) && !dump.contains(user_code));
    assert!(!dump.contains(access));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_pages_federated_sign_in_refuses_what_it_cannot_decide() {
    let Some((s, idp)) = server(true).await else {
        return;
    };
    let v = start(&s, DEVICE_CLIENT, "mcp:tools").await;
    let user_code = v["user_code"].as_str().unwrap().to_owned();
    let b = Browser::new();

    // With local accounts too, both ways are offered.
    let page = b.get(&s.url("/device")).await;
    assert!(
        page.body.contains("Continue with Corp SSO"),
        "{}",
        page.body
    );
    assert!(page.body.contains("type=\"password\""), "{}", page.body);
    let csrf = page.hidden("csrf_token");
    let post = |form: Vec<(&'static str, String)>| {
        let (b, s) = (&b, &s);
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            b.post(&s.url("/device/upstream"), &form).await
        }
    };
    // A code that matches nothing: the sign-in page again, saying so; audited.
    let wrong = post(vec![
        ("csrf_token", csrf.clone()),
        ("user_code", "BCDF-GHJK".into()),
        ("upstream", "corp".into()),
    ])
    .await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.body);
    assert!(wrong.body.contains("not valid"), "{}", wrong.body);
    assert!(wrong.body.contains("Continue with Corp SSO"));
    // An unknown provider.
    let unknown = post(vec![
        ("csrf_token", csrf.clone()),
        ("user_code", user_code.clone()),
        ("upstream", "nope".into()),
    ])
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
    // No CSRF token.
    let forged = post(vec![
        ("user_code", user_code.clone()),
        ("upstream", "corp".into()),
    ])
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    assert!(forged.body.contains("CSRF"), "{}", forged.body);
    assert!(forged.location.is_none());

    // The code denied (on another browser) while the person is at the provider: the callback
    // refuses before spending the provider's code, and nothing is approved or linked.
    let back = through_provider(&s, &idp, &b, &user_code, "bob").await;
    let other = Browser::new();
    let (_, consent) = continue_with(&s, &other, &user_code).await;
    let denied = decide(&s, &other, &consent, "deny").await;
    assert_eq!(denied.status, StatusCode::OK, "{}", denied.body);
    assert!(denied.body.contains("Request denied"), "{}", denied.body);
    let late = b.get(&back).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST, "{}", late.body);
    assert!(
        late.body.contains("approved or denied already"),
        "{}",
        late.body
    );
    assert!(
        s.store()
            .get_upstream_link("corp", "bob")
            .await
            .unwrap()
            .is_none(),
        "nothing written"
    );
    let device_code = code_of(&v);
    assert_eq!(
        poll_error(&s, DEVICE_CLIENT, &device_code).await.1,
        "access_denied"
    );

    // The callback opened in another browser than the one that was sent to the provider (a
    // minute later: the five look-ups above spent the address's budget of codes).
    s.clock.advance(60);
    let v2 = start(&s, DEVICE_CLIENT, "mcp:tools").await;
    let code2 = v2["user_code"].as_str().unwrap();
    let back = through_provider(&s, &idp, &Browser::new(), code2, "carol").await;
    let elsewhere = Browser::new().get(&back).await;
    assert_eq!(elsewhere.status, StatusCode::BAD_REQUEST);
    assert!(
        elsewhere.body.contains("another browser"),
        "{}",
        elsewhere.body
    );
    s.clock.advance(10);
    assert_eq!(
        poll_error(&s, DEVICE_CLIENT, &code_of(&v2)).await.1,
        "authorization_pending",
        "still to be approved"
    );

    let failed = s
        .store()
        .list_audit(&AuditFilter {
            kind: Some(AuditKind::DeviceUserCodeFailed),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!failed.is_empty(), "the wrong code was audited");
    assert!(
        failed.iter().all(|e| e.user_id.is_none()),
        "no one was signed in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_codes_before_a_federated_sign_in_is_throttled() {
    let Some((s, _idp)) = server(false).await else {
        return;
    };
    let b = Browser::new();
    let csrf = b.get(&s.url("/device")).await.hidden("csrf_token");
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let r = b
            .post(
                &s.url("/device/upstream"),
                &[
                    ("csrf_token", csrf.as_str()),
                    ("user_code", "BCDF-GHJK"),
                    ("upstream", "corp"),
                ],
            )
            .await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert!(r.headers.contains_key("retry-after"));
            assert!(r.body.contains("Too many codes tried"), "{}", r.body);
        }
        statuses.push(r.status.as_u16());
    }
    // The default budget: 5 a minute per address.
    assert_eq!(statuses, [400, 400, 400, 400, 400, 429, 429, 429]);
    // A live code is not looked up over the budget either.
    let v = start(&s, DEVICE_CLIENT, "mcp:tools").await;
    let r = b
        .post(
            &s.url("/device/upstream"),
            &[
                ("csrf_token", csrf.as_str()),
                ("user_code", v["user_code"].as_str().unwrap()),
                ("upstream", "corp"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_is_approved_through_the_identity_provider_in_chromium() {
    let Some((chrome, driver)) = require() else {
        return;
    };
    let Some((s, _idp)) = server(false).await else {
        return;
    };
    let v = start(&s, DEVICE_CLIENT, "mcp:tools").await;
    let b = Chromium::start(&chrome, &driver).await;
    b.goto(v["verification_uri_complete"].as_str().unwrap())
        .await;
    let page = b.wait_source("Continue with Corp SSO").await;
    assert!(!page.contains("type=\"password\""), "no password form");
    assert_eq!(console_trouble(&b, |_| false).await, Vec::<Value>::new());
    b.click("button[name=upstream][value=corp]").await;
    let consent = b.wait_source("Allow and continue with Corp SSO").await;
    assert!(consent.contains("Device &lt;tv-app&gt;"), "{consent}");
    assert_eq!(console_trouble(&b, |_| false).await, Vec::<Value>::new());
    // Chromium enforces our `form-action` on the redirect to the provider too.
    b.click("button[name=approve]").await;
    b.wait_source("name=\"login\"").await;
    b.type_into("input[name=login]", "ann").await;
    b.type_into("input[name=password]", "any").await;
    b.click("button[type=submit]").await;
    b.wait_source("value=\"consent\"").await;
    b.click("button[type=submit]").await;
    let done = b.wait_source("id=\"outcome\"").await;
    assert!(done.contains("Device connected"), "{done}");
    let theirs = foreign_favicon(&s);
    assert_eq!(
        console_trouble(&b, |e| provider_font(e) || theirs(e)).await,
        Vec::<Value>::new()
    );
    b.quit().await;
    s.clock.advance(10);
    let r = poll(&s, DEVICE_CLIENT, &code_of(&v)).await;
    assert_eq!(r.status(), 200);
}
