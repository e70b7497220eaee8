//! Federated sign-in in a real headless Chromium: an MCP client's authorization URL, our login
//! page with only "Continue with …" buttons (`local_login = false`), our consent for the MCP
//! client before forwarding, node-oidc-provider's own login and consent pages, back to our
//! callback, the code at the client's redirect; then the provider's `access_denied` read on our
//! failure page. The browser's console must stay free of CSP violations and errors throughout.

use crate::browser::callback_listener;
use crate::common::{PUBLIC_CLIENT, TestServer, query_param};
use crate::idp::Idp;
use crate::upstream::setup_with;
use crate::webdriver::{Browser, require};
use serde_json::Value;

/// Two upstream blocks and no password form.
async fn federated_only() -> Option<(TestServer, Idp)> {
    setup_with(
        &[("corp", "Corp SSO"), ("partners", "Partners")],
        &[],
        |c| {
            c.local_login = false;
        },
    )
    .await
}

/// A console entry that is a CSP violation.
pub(crate) fn csp_violation(e: &Value) -> bool {
    let m = e["message"].as_str().unwrap_or_default();
    m.contains("Content Security Policy") || m.contains("Content-Security-Policy")
}

/// The console's errors (level `SEVERE`) and CSP violations since the last read, except those
/// `allowed` says are expected; printed in full when any remain.
pub(crate) async fn console_trouble(b: &Browser, allowed: impl Fn(&Value) -> bool) -> Vec<Value> {
    b.console_log()
        .await
        .into_iter()
        .filter(|e| e["level"] == "SEVERE" || csp_violation(e))
        .filter(|e| csp_violation(e) || !allowed(e))
        .collect()
}

/// node-oidc-provider's development pages `@import` a web font from fonts.googleapis.com,
/// which this machine cannot reach: their failure is theirs, not a page of ours.
pub(crate) fn provider_font(e: &Value) -> bool {
    e["source"] == "network"
        && e["message"]
            .as_str()
            .is_some_and(|m| m.contains("fonts.googleapis.com"))
}

/// The provider's and the test client's pages have no icon: the browser's `/favicon.ico`
/// there fails (ours declare theirs inline, so a favicon request to us is an error).
pub(crate) fn foreign_favicon(srv: &TestServer) -> impl Fn(&Value) -> bool + '_ {
    move |e| {
        e["message"].as_str().is_some_and(|m| {
            m.contains("/favicon.ico - ") && !m.starts_with(&format!("{}/", srv.base))
        })
    }
}

/// Up to the provider's login page: our login page, our consent page (approved).
async fn to_provider(srv: &TestServer, idp: &Idp, b: &Browser, redirect: &str, shots: bool) {
    let mut q = srv.authorize_query("mcp:tools");
    q[2].1 = redirect.to_owned();
    b.goto(&srv.authorize_url(&q)).await;
    let login = b.wait_source("Continue with Corp SSO").await;
    assert!(
        login.contains("Continue with Partners"),
        "one button a block"
    );
    assert!(
        !login.contains("type=\"password\"") && !login.contains("id=\"username\""),
        "local_login = false: no password form"
    );
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    if shots {
        b.screenshot(&dir.join("federated-login.png")).await;
    }
    assert_eq!(console_trouble(b, |_| false).await, Vec::<Value>::new());
    b.click("form[action$='/upstream/corp/start'] button").await;
    let consent = b.wait_source("Allow and continue with Corp SSO").await;
    assert!(
        consent.contains("Public &lt;App&gt;"),
        "our consent names the MCP client"
    );
    if shots {
        b.screenshot(&dir.join("federated-consent.png")).await;
    }
    assert_eq!(console_trouble(b, |_| false).await, Vec::<Value>::new());
    // The form posts to us and we redirect to the provider: Chromium enforces our
    // `form-action` on that redirect too, so a CSP without the provider stops here.
    b.click("button[name=approve]").await;
    b.wait_url(|u| u.starts_with(&format!("{}/interaction/", idp.issuer)))
        .await;
    b.wait_source("name=\"login\"").await;
}

/// A browser on the provider's login page, come through our pages; the test client's listener
/// waiting for the redirect.
struct AtProvider {
    srv: TestServer,
    idp: Idp,
    b: Browser,
    redirect: String,
    seen: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    cb: tokio::task::JoinHandle<()>,
}

/// [`AtProvider`], or `None` (skipped) without Chromium or the provider; `shots` takes the
/// screenshots of our pages on the way.
async fn at_provider(shots: bool) -> Option<AtProvider> {
    let (chrome, driver) = require()?;
    let (srv, idp) = federated_only().await?;
    let (port, seen, cb) = callback_listener().await;
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let b = Browser::start(&chrome, &driver).await;
    to_provider(&srv, &idp, &b, &redirect, shots).await;
    Some(AtProvider {
        srv,
        idp,
        b,
        redirect,
        seen,
        cb,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn federated_sign_in_in_chromium() {
    let Some(AtProvider {
        srv,
        idp: _idp,
        b,
        redirect,
        seen,
        cb,
    }) = at_provider(true).await
    else {
        return;
    };
    // node-oidc-provider's own login page, then its consent page.
    b.type_into("input[name=login]", "ann").await;
    b.type_into("input[name=password]", "any").await;
    b.click("button[type=submit]").await;
    b.wait_source("value=\"consent\"").await;
    b.click("button[type=submit]").await;
    let landed = b.wait_url(|u| u.starts_with(&format!("{redirect}?"))).await;
    let theirs = foreign_favicon(&srv);
    assert_eq!(
        console_trouble(&b, |e| provider_font(e) || theirs(e)).await,
        Vec::<Value>::new()
    );
    b.quit().await;
    cb.abort();
    let query = seen.lock().unwrap().clone().expect("callback received");
    let url = format!("http://x/?{query}");
    assert_eq!(
        query_param(&url, "state").as_deref(),
        Some("st-123"),
        "{landed}"
    );
    assert_eq!(query_param(&url, "iss").as_deref(), Some(srv.base.as_str()));
    let code = query_param(&url, "code").expect("a code");
    let r = srv.exchange_as(PUBLIC_CLIENT, &code, &redirect).await;
    assert_eq!(r.status(), 200);
    assert!(
        srv.store()
            .get_upstream_link("corp", "ann")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_providers_access_denied_read_in_chromium() {
    // `_idp`, not `_`: bound, the provider lives to the end of the test.
    let Some(AtProvider {
        srv,
        idp: _idp,
        b,
        redirect: _,
        seen,
        cb,
    }) = at_provider(false).await
    else {
        return;
    };
    // The provider's "[ Cancel ]": it answers our callback with `error=access_denied`.
    b.click("a[href$='/abort']").await;
    let page = b.wait_source("Sign-in refused").await;
    assert!(b.url().await.contains("/upstream/corp/callback?"));
    assert!(
        page.contains("access_denied") && page.contains("Corp SSO"),
        "{page}"
    );
    let theirs = foreign_favicon(&srv);
    // The page's own 400 is the one expected network entry; nothing else may be logged.
    let own_status = |e: &Value| {
        e["source"] == "network"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("/upstream/corp/callback") && m.contains("400"))
    };
    assert_eq!(
        console_trouble(&b, |e| provider_font(e) || own_status(e) || theirs(e)).await,
        Vec::<Value>::new()
    );
    b.quit().await;
    cb.abort();
    assert!(seen.lock().unwrap().is_none(), "nothing reached the client");
    assert!(
        srv.store()
            .get_upstream_link("corp", "ann")
            .await
            .unwrap()
            .is_none(),
        "nothing written"
    );
}
