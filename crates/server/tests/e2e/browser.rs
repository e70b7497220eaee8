//! The login and consent pages in a real headless Chromium.

use crate::common::*;
use crate::webdriver::{Browser, require};
use axum::extract::RawQuery;
use axum::routing::get;
use std::sync::{Arc, Mutex};

/// A loopback "native app" listener that records the redirect it receives.
pub(crate) async fn callback_listener()
-> (u16, Arc<Mutex<Option<String>>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(None));
    let s2 = seen.clone();
    let app = axum::Router::new().route(
        "/callback",
        get(move |RawQuery(q): RawQuery| {
            let s2 = s2.clone();
            async move {
                *s2.lock().unwrap() = q;
                axum::response::Html("<p>Signed in. You can close this tab.</p>")
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (port, seen, task)
}

async fn run_flow(dev: bool, shot: &str) {
    let Some((chrome, driver)) = require() else {
        return;
    };
    let s = TestServer::start_with(|c| c.dev = dev).await;
    let (port, seen, cb) = callback_listener().await;
    let mut q = s.authorize_query("mcp:tools files:read");
    q[2].1 = format!("http://127.0.0.1:{port}/callback");
    let b = Browser::start(&chrome, &driver).await;
    b.goto(&s.authorize_url(&q)).await;
    let login = b.wait_source("Sign in").await;
    assert!(login.contains("Public &lt;App&gt;"), "client name shown");
    b.type_into("#username", "alice").await;
    b.type_into("#password", "wonderland").await;
    b.click("button[name=login]").await;
    let consent = b.wait_source("Authorize").await;
    assert!(consent.contains("Use tools") && consent.contains("Read files"));
    assert!(
        consent.contains(&format!("127.0.0.1:{port}")),
        "redirect host shown"
    );
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    b.screenshot(&dir.join(shot)).await;
    b.click("button[name=approve]").await;
    let landed = b.wait_url(|u| u.contains("/callback?")).await;
    assert!(landed.starts_with(&format!("http://127.0.0.1:{port}/callback?")));
    b.quit().await;
    cb.abort();
    let query = seen.lock().unwrap().clone().expect("callback received");
    let url = format!("http://x/?{query}");
    assert_eq!(query_param(&url, "state").as_deref(), Some("st-123"));
    assert_eq!(query_param(&url, "iss").as_deref(), Some(s.base.as_str()));
    let code = query_param(&url, "code").unwrap();
    let r = s
        .exchange_as(
            PUBLIC_CLIENT,
            &code,
            &format!("http://127.0.0.1:{port}/callback"),
        )
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_consent_in_chromium_dev_cookie() {
    run_flow(true, "consent-dev.png").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_consent_in_chromium_secure_cookie_on_loopback() {
    // Outside --dev the cookie is `__Host-…; Secure`; Chromium treats loopback as a secure
    // context, so the flow still works on http://127.0.0.1.
    run_flow(false, "consent.png").await;
}
