//! The device authorization grant (RFC 8628) end to end: `/device_authorization`, the device
//! page in headless Chromium (sign-in, the prefilled code confirmed, consent), polling at
//! `/token` (pending, `slow_down`, denied, expired, redeemed once, concurrent polls, another
//! client's code), guessing user codes against the limit, CSRF, DCR and metadata.

use crate::common::*;
use crate::webdriver::{Browser as Chromium, require};
use mcp_oauth_core::token::grant_type;
use mcp_oauth_server::admin::{self, NewClient};
use mcp_oauth_server::audit::{AuditFilter, AuditKind};
use reqwest::StatusCode;
use serde_json::Value;

pub(crate) const DEVICE_CLIENT: &str = "tv-app";
const OTHER_DEVICE_CLIENT: &str = "other-tv-app";

/// A public client registered for the device grant (and refresh tokens).
pub(crate) async fn device_client(s: &TestServer, id: &str) {
    admin::add_client(
        s.store().as_ref(),
        NewClient {
            name: format!("Device <{id}>"),
            grant_types: vec![
                grant_type::DEVICE_CODE.into(),
                grant_type::REFRESH_TOKEN.into(),
            ],
            public: true,
            client_id: Some(id.into()),
            ..Default::default()
        },
        s.state.now(),
    )
    .await
    .unwrap();
}

async fn server() -> TestServer {
    let s = TestServer::start().await;
    device_client(&s, DEVICE_CLIENT).await;
    device_client(&s, OTHER_DEVICE_CLIENT).await;
    s
}

/// `POST /device_authorization` for `client` and the test resource.
pub(crate) async fn start(s: &TestServer, client: &str, scope: &str) -> Value {
    let r = s
        .post_form(
            "/device_authorization",
            &[
                ("client_id", client),
                ("scope", scope),
                ("resource", &s.resource),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    r.json().await.unwrap()
}

pub(crate) async fn poll(s: &TestServer, client: &str, device_code: &str) -> reqwest::Response {
    s.post_form(
        "/token",
        &[
            ("grant_type", grant_type::DEVICE_CODE),
            ("client_id", client),
            ("device_code", device_code),
        ],
    )
    .await
}

pub(crate) async fn poll_error(
    s: &TestServer,
    client: &str,
    device_code: &str,
) -> (StatusCode, String) {
    error_of(poll(s, client, device_code).await).await
}

pub(crate) fn code_of(v: &Value) -> String {
    v["device_code"].as_str().unwrap().to_owned()
}

/// A person at a cookie-keeping HTTP client, using the page's real forms and CSRF tokens.
struct Person<'a> {
    s: &'a TestServer,
    http: reqwest::Client,
    cookie: Option<String>,
}

impl<'a> Person<'a> {
    /// Signed in as `user` (through the device page's own sign-in), from `from` (a loopback
    /// address: `127.0.0.1`, `127.0.0.2`, …).
    async fn signed_in(s: &'a TestServer, user: &str, password: &str, from: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(from.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap();
        let mut p = Self {
            s,
            http,
            cookie: None,
        };
        let page = p.get("/device").await;
        assert!(page.body.contains("Connect a device"), "{}", page.body);
        let csrf = page.hidden("csrf_token");
        let back = p
            .post(
                "/device/login",
                &[
                    ("csrf_token", &csrf),
                    ("user_code", ""),
                    ("username", user),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(back.status, StatusCode::SEE_OTHER, "{}", back.body);
        assert_eq!(back.location.as_deref(), Some("/device"));
        p
    }

    async fn read(&mut self, r: reqwest::Response) -> Page {
        assert!(r.status().as_u16() < 500, "server error: {}", r.status());
        for v in r.headers().get_all("set-cookie") {
            self.cookie = Some(v.to_str().unwrap().split(';').next().unwrap().to_owned());
        }
        crate::idp::answer(r).await
    }

    async fn get(&mut self, path: &str) -> Page {
        let mut req = self.http.get(self.s.url(path));
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let r = req.send().await.unwrap();
        self.read(r).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut req = self.http.post(self.s.url(path)).form(form);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let r = req.send().await.unwrap();
        self.read(r).await
    }

    /// The code page's CSRF token.
    async fn csrf(&mut self) -> String {
        self.get("/device").await.hidden("csrf_token")
    }

    /// Enters `user_code` on the code page.
    async fn enter(&mut self, user_code: &str) -> Page {
        let csrf = self.csrf().await;
        self.post(
            "/device",
            &[
                ("csrf_token", &csrf),
                ("user_code", user_code),
                ("lookup", "1"),
            ],
        )
        .await
    }

    /// Enters the code, then approves or denies on the consent page.
    async fn decide(&mut self, user_code: &str, approve: bool) -> Page {
        let consent = self.enter(user_code).await;
        assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
        assert!(consent.body.contains("Authorize"), "{}", consent.body);
        let csrf = consent.hidden("csrf_token");
        let code = consent.hidden("user_code");
        let button = if approve { "approve" } else { "deny" };
        self.post(
            "/device",
            &[("csrf_token", &csrf), ("user_code", &code), (button, "1")],
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_registration_and_the_authorization_response() {
    let s = server().await;
    let m: Value = s.get_json("/.well-known/oauth-authorization-server").await;
    assert_eq!(
        m["device_authorization_endpoint"],
        s.url("/device_authorization")
    );
    assert!(
        m["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from(grant_type::DEVICE_CODE))
    );

    let v = start(&s, DEVICE_CLIENT, "mcp:tools").await;
    let user_code = v["user_code"].as_str().unwrap();
    let shape = regex_like_user_code(user_code);
    assert!(shape, "XXXX-XXXX of BCDFGHJKLMNPQRSTVWXZ: {user_code}");
    assert_eq!(v["verification_uri"], s.url("/device"));
    assert_eq!(
        v["verification_uri_complete"],
        format!("{}?user_code={user_code}", s.url("/device"))
    );
    assert_eq!(v["expires_in"], 600);
    assert_eq!(v["interval"], 5);
    assert!(code_of(&v).len() >= 43, "256-bit device code");
    // Neither code is stored as itself.
    let dump = serde_json::to_string(&s.store().list_audit(&AuditFilter::default()).await.unwrap())
        .unwrap();
    assert!(!dump.contains(&code_of(&v)) && !dump.contains(user_code));

    // Refusals, in RFC 6749 §5.2 shape.
    let refused = |form: Vec<(&'static str, String)>| {
        let s = &s;
        async move {
            let f: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            error_of(s.post_form("/device_authorization", &f).await).await
        }
    };
    assert_eq!(
        refused(vec![("client_id", PUBLIC_CLIENT.into())]).await,
        (StatusCode::BAD_REQUEST, "unauthorized_client".into()),
        "a client not registered for the device grant"
    );
    assert_eq!(
        refused(vec![
            ("client_id", DEVICE_CLIENT.into()),
            ("resource", "https://elsewhere.example/mcp".into())
        ])
        .await,
        (StatusCode::BAD_REQUEST, "invalid_target".into())
    );
    assert_eq!(
        refused(vec![
            ("client_id", DEVICE_CLIENT.into()),
            ("resource", s.resource.clone()),
            ("scope", "no:such".into())
        ])
        .await,
        (StatusCode::BAD_REQUEST, "invalid_scope".into())
    );
    assert_eq!(
        refused(vec![("client_id", "nobody".into())]).await.1,
        "invalid_client"
    );
    assert_eq!(
        refused(vec![("client_id", CONF_CLIENT.into())]).await.1,
        "invalid_client",
        "a confidential client must authenticate"
    );
    assert_eq!(
        refused(vec![
            ("client_id", DEVICE_CLIENT.into()),
            ("scope", "a".into()),
            ("scope", "b".into())
        ])
        .await,
        (StatusCode::BAD_REQUEST, "invalid_request".into()),
        "a repeated parameter"
    );

    // Dynamic registration of a device client: no redirect URI, the device grant.
    let r = s
        .http
        .post(s.url("/register"))
        .json(&serde_json::json!({
            "client_name": "CLI in a container",
            "token_endpoint_auth_method": "none",
            "grant_types": [grant_type::DEVICE_CODE, "refresh_token"],
            "response_types": [],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let reg: Value = r.json().await.unwrap();
    let id = reg["client_id"].as_str().unwrap();
    let v = start(&s, id, "mcp:tools").await;
    assert!(v["user_code"].is_string());
    let events = s
        .store()
        .list_audit(&AuditFilter {
            kind: Some(AuditKind::DeviceAuthorizationIssued),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
}

fn regex_like_user_code(c: &str) -> bool {
    let b = c.as_bytes();
    b.len() == 9
        && b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, ch)| i == 4 || b"BCDFGHJKLMNPQRSTVWXZ".contains(ch))
}

/// The whole flow with the page in Chromium: the link with the code, sign-in, the code shown
/// for confirmation (nothing approved by opening the link), consent, then the tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_flow_in_chromium_with_the_prefilled_code_confirmed() {
    let Some((chrome, driver)) = require() else {
        return;
    };
    let s = server().await;
    let v = start(&s, DEVICE_CLIENT, "mcp:tools files:read").await;
    let device_code = code_of(&v);
    let user_code = v["user_code"].as_str().unwrap().to_owned();
    assert_eq!(
        poll_error(&s, DEVICE_CLIENT, &device_code).await,
        (StatusCode::BAD_REQUEST, "authorization_pending".into())
    );

    // The page's headers: no framing, no caching, a CSP.
    let r = s.http.get(s.url("/device")).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"));
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert_eq!(r.headers()["cache-control"], "no-store");

    let b = Chromium::start(&chrome, &driver).await;
    b.goto(v["verification_uri_complete"].as_str().unwrap())
        .await;
    b.wait_source("Connect a device").await;
    b.type_into("#username", "alice").await;
    b.type_into("#password", "wonderland").await;
    b.click("button[name=login]").await;
    let confirm = b.wait_source("Check that this is exactly the code").await;
    assert!(
        confirm.contains(&user_code),
        "the code from the link is shown for confirmation"
    );
    assert!(
        !confirm.contains("Allow"),
        "no consent before the code is confirmed"
    );
    // Opening the link and signing in approved nothing.
    s.clock.advance(5);
    assert_eq!(
        poll_error(&s, DEVICE_CLIENT, &device_code).await.1,
        "authorization_pending"
    );
    b.click("button[name=lookup]").await;
    let consent = b.wait_source("Authorize").await;
    assert!(
        consent.contains("Device &lt;tv-app&gt;"),
        "client name, escaped"
    );
    assert!(consent.contains(DEVICE_CLIENT), "client id shown");
    assert!(consent.contains(&s.resource) && consent.contains("Test MCP"));
    assert!(consent.contains("Use tools") && consent.contains("Read files"));
    assert!(consent.contains(&user_code));
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    b.screenshot(&dir.join("device-consent.png")).await;
    b.click("button[name=approve]").await;
    b.wait_source("Device connected").await;
    assert!(
        b.browser_log()
            .await
            .iter()
            .all(|l| !l.contains("Content Security Policy")),
        "no CSP violation"
    );
    b.quit().await;

    s.clock.advance(5);
    let r = poll(&s, DEVICE_CLIENT, &device_code).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "Bearer");
    let c = claims(t["access_token"].as_str().unwrap());
    assert_eq!(c["aud"], s.resource);
    assert_eq!(c["client_id"], DEVICE_CLIENT);
    assert_eq!(c["scope"], "files:read mcp:tools");
    let alice = s.store().get_user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(c["sub"], alice.id);
    assert_eq!(
        s.introspect(t["access_token"].as_str().unwrap()).await["active"],
        true
    );

    // Redeemed once: the device code is gone.
    s.clock.advance(5);
    assert_eq!(
        poll_error(&s, DEVICE_CLIENT, &device_code).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    // The refresh token rotates as the code grant's does.
    let refresh = t["refresh_token"].as_str().unwrap();
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", DEVICE_CLIENT),
                ("refresh_token", refresh),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let t2: Value = r.json().await.unwrap();
    assert_ne!(t2["refresh_token"], t["refresh_token"]);

    let kinds: Vec<AuditKind> = s
        .store()
        .list_audit(&AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for k in [
        AuditKind::DeviceAuthorizationIssued,
        AuditKind::DeviceApproved,
        AuditKind::DeviceCodeRedeemed,
    ] {
        assert!(kinds.contains(&k), "{k} audited");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_too_fast_slows_down_and_an_expired_code_is_expired() {
    let s = server().await;
    let v = start(&s, DEVICE_CLIENT, "mcp:tools").await;
    let dc = code_of(&v);
    let user_code = v["user_code"].as_str().unwrap().to_owned();
    assert_eq!(
        poll_error(&s, DEVICE_CLIENT, &dc).await,
        (StatusCode::BAD_REQUEST, "authorization_pending".into())
    );
    // At once again: slow_down (400, not 429), and the interval grows by 5 s.
    assert_eq!(
        poll_error(&s, DEVICE_CLIENT, &dc).await,
        (StatusCode::BAD_REQUEST, "slow_down".into())
    );
    s.clock.advance(5);
    assert_eq!(
        poll_error(&s, DEVICE_CLIENT, &dc).await.1,
        "slow_down",
        "the interval is 10 s now, remembered"
    );
    s.clock.advance(15);
    assert_eq!(
        poll_error(&s, DEVICE_CLIENT, &dc).await.1,
        "authorization_pending"
    );

    // Past `expires_in`: expired_token at /token, and the user code is unknown on the page.
    s.clock.advance(600);
    assert_eq!(
        poll_error(&s, DEVICE_CLIENT, &dc).await,
        (StatusCode::BAD_REQUEST, "expired_token".into())
    );
    let mut alice = Person::signed_in(&s, "alice", "wonderland", "127.0.0.1").await;
    let page = alice.enter(&user_code).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(
        page.body.contains("not valid, or it expired"),
        "{}",
        page.body
    );
    // The purge removes it; then it is simply unknown.
    s.server.maintain().await;
    assert_eq!(poll_error(&s, DEVICE_CLIENT, &dc).await.1, "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_gives_access_denied_once() {
    let s = server().await;
    let v = start(&s, DEVICE_CLIENT, "mcp:tools").await;
    let dc = code_of(&v);
    let mut bob = Person::signed_in(&s, "bob", "builder", "127.0.0.1").await;
    let done = bob.decide(v["user_code"].as_str().unwrap(), false).await;
    assert!(done.body.contains("Request denied"), "{}", done.body);
    assert_eq!(
        poll_error(&s, DEVICE_CLIENT, &dc).await,
        (StatusCode::BAD_REQUEST, "access_denied".into())
    );
    s.clock.advance(5);
    assert_eq!(poll_error(&s, DEVICE_CLIENT, &dc).await.1, "invalid_grant");
    // A decided code cannot be decided again.
    let again = bob.enter(v["user_code"].as_str().unwrap()).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    let denied = s
        .store()
        .list_audit(&AuditFilter {
            kind: Some(AuditKind::DeviceDenied),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(denied.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_polls_redeem_once_and_another_clients_code_is_refused() {
    let s = server().await;
    let v = start(&s, DEVICE_CLIENT, "mcp:tools").await;
    let dc = code_of(&v);
    let mut alice = Person::signed_in(&s, "alice", "wonderland", "127.0.0.1").await;
    assert!(
        alice
            .decide(v["user_code"].as_str().unwrap(), true)
            .await
            .body
            .contains("Device connected")
    );
    // Client B presents A's device code: refused, and nothing of A's changes.
    assert_eq!(
        poll_error(&s, OTHER_DEVICE_CLIENT, &dc).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    let polls = (0..20).map(|_| poll(&s, DEVICE_CLIENT, &dc));
    let answers = futures::future::join_all(polls).await;
    let mut ok = 0;
    for r in answers {
        match r.status() {
            StatusCode::OK => ok += 1,
            _ => assert_eq!(error_of(r).await.1, "invalid_grant"),
        }
    }
    assert_eq!(ok, 1, "exactly one of 20 concurrent polls gets tokens");
    let grants = s
        .store()
        .list_grants_for_user(
            &s.store()
                .get_user_by_name("alice")
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap();
    assert_eq!(grants.len(), 1, "one grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_on_the_poll_must_be_the_approved_one_and_dpop_binds() {
    let s = server().await;
    let v = start(&s, DEVICE_CLIENT, "mcp:tools").await;
    let mut alice = Person::signed_in(&s, "alice", "wonderland", "127.0.0.1").await;
    alice.decide(v["user_code"].as_str().unwrap(), true).await;
    let key = crate::dpop::key();
    let proof = crate::dpop::proof(&s, &key, None);
    let r = s
        .http
        .post(s.url("/token"))
        .header("DPoP", proof)
        .form(&[
            ("grant_type", grant_type::DEVICE_CODE),
            ("client_id", DEVICE_CLIENT),
            ("device_code", &code_of(&v)),
            ("resource", &s.resource),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "DPoP");
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["cnf"]["jkt"],
        key.kid()
    );

    // Another resource on the poll: invalid_target, and the grant it would have made is gone.
    let v = start(&s, DEVICE_CLIENT, "mcp:tools").await;
    alice.decide(v["user_code"].as_str().unwrap(), true).await;
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", grant_type::DEVICE_CODE),
                ("client_id", DEVICE_CLIENT),
                ("device_code", &code_of(&v)),
                ("resource", &s.other_resource),
            ],
        )
        .await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::BAD_REQUEST, "invalid_target".into())
    );
    assert_eq!(
        poll_error(&s, DEVICE_CLIENT, &code_of(&v)).await.1,
        "invalid_grant"
    );
}

/// RFC 8628 §5.1: user codes tried per address and per user are limited (5 a minute by
/// default), counted, and audited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_user_codes_is_stopped_by_the_limit() {
    let s = server().await;
    let v = start(&s, DEVICE_CLIENT, "mcp:tools").await;
    let right = v["user_code"].as_str().unwrap().to_owned();
    let mut mallory = Person::signed_in(&s, "bob", "builder", "127.0.0.1").await;
    let mut refused_as_wrong = 0;
    let mut throttled = 0;
    for guess in [
        "BBBB-BBBB",
        "CCCC-CCCC",
        "DDDD-DDDD",
        "FFFF-FFFF",
        "GGGG-GGGG",
        "HHHH-HHHH",
        "JJJJ-JJJJ",
    ] {
        let page = mallory.enter(guess).await;
        match page.status {
            StatusCode::BAD_REQUEST => refused_as_wrong += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(page.headers.contains_key("retry-after"));
                throttled += 1;
            }
            other => panic!("unexpected {other}: {}", page.body),
        }
    }
    assert_eq!(
        (refused_as_wrong, throttled),
        (5, 2),
        "5 tries a minute, then 429"
    );
    // While limited, even the right code is not looked up.
    assert_eq!(
        mallory.enter(&right).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The same user from another address: the per-user budget is spent too.
    let mut elsewhere = Person::signed_in(&s, "bob", "builder", "127.0.0.2").await;
    assert_eq!(
        elsewhere.enter(&right).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    let failed = s
        .store()
        .list_audit(&AuditFilter {
            kind: Some(AuditKind::DeviceUserCodeFailed),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 9, "every wrong or throttled try is audited");
    // Another user at another address is not affected; a minute later bob may try again.
    let mut alice = Person::signed_in(&s, "alice", "wonderland", "127.0.0.3").await;
    assert_eq!(alice.enter(&right).await.status, StatusCode::OK);
    s.clock.advance(60);
    assert_eq!(mallory.enter(&right).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_without_the_csrf_token_or_session_is_refused() {
    let s = server().await;
    let v = start(&s, DEVICE_CLIENT, "mcp:tools").await;
    let user_code = v["user_code"].as_str().unwrap().to_owned();
    let mut alice = Person::signed_in(&s, "alice", "wonderland", "127.0.0.1").await;
    let no_token = alice
        .post("/device", &[("user_code", &user_code), ("approve", "1")])
        .await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN);
    assert!(no_token.body.contains("CSRF"));
    let wrong = alice
        .post(
            "/device",
            &[
                ("csrf_token", "x".repeat(43).as_str()),
                ("user_code", &user_code),
                ("approve", "1"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    // Without any session (a cross-site form from elsewhere, no cookie).
    let bare = s
        .http
        .post(s.url("/device"))
        .form(&[("user_code", user_code.as_str()), ("approve", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), StatusCode::BAD_REQUEST);
    // A sign-in form without the token is refused before any password is checked.
    let login = s
        .http
        .post(s.url("/device/login"))
        .form(&[("username", "alice"), ("password", "wonderland")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::BAD_REQUEST);
    // Nothing was approved.
    assert_eq!(
        poll_error(&s, DEVICE_CLIENT, &code_of(&v)).await.1,
        "authorization_pending"
    );
}

/// Confidential device clients authenticate at both endpoints as at `/token`: a secret by
/// HTTP Basic, and `private_key_jwt` (RFC 7523), whose assertions are single use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confidential_clients_authenticate_with_a_secret_or_private_key_jwt() {
    use mcp_oauth_core::jose::{Algorithm, SigningKey};
    let s = server().await;
    let grants = vec![grant_type::DEVICE_CODE.to_owned(), "refresh_token".into()];
    let (_, secret) = admin::add_client(
        s.store().as_ref(),
        NewClient {
            name: "Kiosk".into(),
            grant_types: grants.clone(),
            client_id: Some("kiosk".into()),
            ..Default::default()
        },
        s.state.now(),
    )
    .await
    .unwrap();
    let secret = secret.unwrap().expose().to_owned();
    let form = [("resource", s.resource.as_str()), ("scope", "mcp:tools")];
    let r = s
        .post_basic("/device_authorization", "kiosk", &secret, &form)
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let r = s
        .post_basic("/device_authorization", "kiosk", "wrong", &form)
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.headers().contains_key("www-authenticate"));
    let mut alice = Person::signed_in(&s, "alice", "wonderland", "127.0.0.1").await;
    alice.decide(v["user_code"].as_str().unwrap(), true).await;
    let poll_form = [
        ("grant_type", grant_type::DEVICE_CODE),
        ("device_code", v["device_code"].as_str().unwrap()),
    ];
    let r = s.post_form("/token", &poll_form).await;
    assert_eq!(
        error_of(r).await.1,
        "invalid_client",
        "a confidential client must authenticate"
    );
    let r = s.post_basic("/token", "kiosk", &secret, &poll_form).await;
    assert_eq!(r.status(), 200);

    // private_key_jwt.
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    admin::add_client(
        s.store().as_ref(),
        NewClient {
            name: "Signed kiosk".into(),
            grant_types: grants,
            client_id: Some("signed-kiosk".into()),
            jwks: Some(serde_json::json!({ "keys": [key.public_jwk()] })),
            ..Default::default()
        },
        s.state.now(),
    )
    .await
    .unwrap();
    let now = s.state.now();
    let assertion = |jti: &str| {
        key.sign(
            "JWT",
            &serde_json::json!({
                "iss": "signed-kiosk", "sub": "signed-kiosk", "aud": s.base,
                "iat": now, "exp": now + 60, "jti": jti
            }),
        )
        .unwrap()
    };
    let a1 = assertion("device-1");
    let with = |a: &str| {
        vec![
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
            ),
            ("client_assertion", a.to_owned()),
            ("resource", s.resource.clone()),
        ]
    };
    let form: Vec<(&str, String)> = with(&a1);
    let f: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = s.post_form("/device_authorization", &f).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let r = s.post_form("/device_authorization", &f).await;
    assert_eq!(
        error_of(r).await.1,
        "invalid_client",
        "an assertion is single use"
    );
    alice.decide(v["user_code"].as_str().unwrap(), true).await;
    let a2 = assertion("device-2");
    let mut form = with(&a2);
    form.pop();
    form.push(("grant_type", grant_type::DEVICE_CODE.to_owned()));
    form.push(("device_code", v["device_code"].as_str().unwrap().to_owned()));
    let f: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = s.post_form("/token", &f).await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["client_id"],
        "signed-kiosk"
    );
}

/// `/device_authorization` shares `/token`'s budget per client address: `429 slow_down` JSON with
/// `Retry-After` when it is spent, before the body is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_authorization_is_rate_limited_per_address() {
    let s = TestServer::start_with(|c| c.token_rate_limit_per_ip = 2).await;
    device_client(&s, DEVICE_CLIENT).await;
    start(&s, DEVICE_CLIENT, "mcp:tools").await;
    start(&s, DEVICE_CLIENT, "mcp:tools").await;
    let r = s
        .post_form(
            "/device_authorization",
            &[("client_id", DEVICE_CLIENT), ("resource", &s.resource)],
        )
        .await;
    assert!(r.headers().contains_key("retry-after"));
    assert_eq!(
        error_of(r).await,
        (StatusCode::TOO_MANY_REQUESTS, "slow_down".into())
    );
    s.clock.advance(30);
    start(&s, DEVICE_CLIENT, "mcp:tools").await;
}

/// A client disabled after it started a device authorization is shown and approved nothing,
/// and cannot poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_client_is_approved_nothing() {
    // Disabled from outside this server (as `mcp-oauth clients disable` does): no record cache,
    // so the change is seen at once rather than within `record_cache_ttl_ms`.
    let s = TestServer::start_with(|c| c.record_cache_ttl_ms = 0).await;
    device_client(&s, DEVICE_CLIENT).await;
    let v = start(&s, DEVICE_CLIENT, "mcp:tools").await;
    let user_code = v["user_code"].as_str().unwrap().to_owned();
    let mut alice = Person::signed_in(&s, "alice", "wonderland", "127.0.0.1").await;
    admin::set_client_disabled(s.store().as_ref(), DEVICE_CLIENT, true, s.state.now())
        .await
        .unwrap();
    let page = alice.enter(&user_code).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("no longer registered"), "{}", page.body);
    let csrf = alice.csrf().await;
    let page = alice
        .post(
            "/device",
            &[
                ("csrf_token", &csrf),
                ("user_code", &user_code),
                ("approve", "1"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    let r = poll(&s, DEVICE_CLIENT, &code_of(&v)).await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    admin::set_client_disabled(s.store().as_ref(), DEVICE_CLIENT, false, s.state.now())
        .await
        .unwrap();
    assert_eq!(
        poll_error(&s, DEVICE_CLIENT, &code_of(&v)).await.1,
        "authorization_pending",
        "nothing was approved meanwhile"
    );
}
