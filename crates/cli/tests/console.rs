//! The web console (issue 16) in headless Chromium against `serve --dev --demo`: sign in with
//! PKCE; withdraw another client's authorization and watch its next refresh fail; create an API
//! key, use it through the demo's guard, revoke it and get `401`; a client named `<script>` is
//! shown as text; the playground signs in for the demo MCP server (its own PKCE flow, in a
//! pop-up), lists the tools and calls `calculator`; no CSP violation in the browser's log for the
//! whole run. With `MCP_OAUTH_CONSOLE_SHOTS=DIR` it also saves the README's screenshots there.
//!
//! Skipped loudly without Chromium and chromedriver; failed if `MCP_OAUTH_REQUIRE_BROWSER` is set.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/bin.rs"]
mod bin;
#[path = "common/pages.rs"]
mod pages;
#[path = "../../server/tests/e2e/webdriver.rs"]
mod webdriver;

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// `serve --dev --demo`, killed by its pid on drop.
struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &str) -> Serve {
    let mut child = Command::new(bin::mcp_oauth())
        .args([
            "serve",
            "--demo",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            data,
        ])
        .env("MCP_OAUTH_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("serve exited").unwrap();
        if let Some(rest) = line.strip_prefix("mcp-oauth listening on ") {
            break rest.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Serve { child, base }
}

fn cli(data: &str, args: &[&str]) -> Value {
    let out = Command::new(bin::mcp_oauth())
        .args(args)
        .args(["--data-dir", data, "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A grant of `client_id` for the demo user, through the real pages; returns its refresh token.
async fn grant_for(base: &str, client_id: &str) -> String {
    tokens_for(base, client_id).await.1
}

/// A grant of `client_id` for the demo user; returns its access and refresh tokens.
async fn tokens_for(base: &str, client_id: &str) -> (String, String) {
    let mcp = format!("{base}/mcp");
    let mut u = url::Url::parse(&format!("{base}/authorize")).unwrap();
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", "http://127.0.0.1:9/callback")
        .append_pair("scope", "mcp:tools")
        .append_pair("resource", &mcp)
        .append_pair("state", "s")
        .append_pair("code_challenge", CHALLENGE)
        .append_pair("code_challenge_method", "S256");
    let location = pages::sign_in(u.as_str(), "demo", "demo").await;
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let t: Value = reqwest::Client::new()
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client_id),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/callback"),
            ("code_verifier", VERIFIER),
            ("resource", &mcp),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        t["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned(),
        t["refresh_token"]
            .as_str()
            .expect("a refresh token")
            .to_owned(),
    )
}

async fn refresh_status(base: &str, client_id: &str, refresh: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", client_id),
            ("refresh_token", refresh),
        ])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// The status of an MCP `initialize` with `key` in `X-API-Key`.
async fn initialize_with_key(mcp: &str, key: &str) -> u16 {
    initialize(mcp, "x-api-key", key.to_owned()).await
}

/// The status of an MCP `initialize` with the header `name: value`.
async fn initialize(mcp: &str, name: &str, value: String) -> u16 {
    reqwest::Client::new()
        .post(mcp)
        .header(name, value)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_chromium() {
    let Some((chrome, driver)) = webdriver::require() else {
        return;
    };
    let shots = std::env::var_os("MCP_OAUTH_CONSOLE_SHOTS").map(std::path::PathBuf::from);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let server = serve(&data);
    let base = server.base.clone();
    let mcp = format!("{base}/mcp");

    // Two other clients the demo user authorized: the demo client, and one named `<script>`.
    let evil = cli(
        &data,
        &[
            "clients",
            "add",
            "--name",
            "<script>window.pwned=1</script>",
            "--public",
            "--redirect-uri",
            "http://127.0.0.1/callback",
        ],
    );
    let evil_id = evil["client_id"].as_str().unwrap().to_owned();
    let demo_refresh = grant_for(&base, "demo-client").await;
    grant_for(&base, &evil_id).await;

    // The console's API resource is never the default one: a request without `resource`
    // still means the demo MCP server, the only other resource.
    let bot = cli(
        &data,
        &[
            "clients",
            "add",
            "--name",
            "bot",
            "--client-id",
            "bot",
            "--grant",
            "client_credentials",
            "--scope",
            "mcp:tools",
        ],
    );
    let t: Value = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth("bot", bot["client_secret"].as_str())
        .form(&[("grant_type", "client_credentials"), ("scope", "mcp:tools")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let payload = t["access_token"]
        .as_str()
        .expect("a token")
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], mcp.as_str(), "{claims}");

    let b = webdriver::Browser::start(&chrome, &driver).await;
    // Sign in with PKCE on the real pages.
    b.goto(&format!("{base}/console/")).await;
    b.wait_for(
        "return document.getElementById('signin-btn') && !document.getElementById('signin').hidden",
    )
    .await;
    b.click("#signin-btn").await;
    b.wait_url(|u| u.contains("/authorize")).await;
    b.type_into("input[name=username]", "demo").await;
    b.type_into("input[name=password]", "demo").await;
    b.click("button[name=login]").await;
    b.wait_source("name=\"approve\"").await;
    b.click("button[name=approve]").await;
    b.wait_url(|u| u == format!("{base}/console/")).await;
    b.wait_for("return document.querySelectorAll('#auth-list li.authorization').length >= 3")
        .await;
    let status = b
        .execute(
            "return document.getElementById('status').textContent",
            json!([]),
        )
        .await;
    assert_eq!(status, "Signed in as demo");
    assert_eq!(
        b.execute(
            "return localStorage.length + sessionStorage.length",
            json!([])
        )
        .await,
        json!(0),
        "no token (nor a spent verifier) kept in storage"
    );

    // My sessions: this browser and the one `grant_for` signed in with; sign out of the others.
    b.wait_for("return document.querySelectorAll('#session-list li').length >= 2")
        .await;
    b.click("#signout-others").await;
    let left = b.wait_for(
        "const l = [...document.querySelectorAll('#session-list li strong')].map(e => e.textContent); \
         return l.length === 1 && l[0]",
    ).await;
    assert_eq!(left, "This browser");

    // The `<script>` name is text, and nothing ran.
    let shown = b.execute(
        "const li = document.querySelector(`li[data-client='${arguments[0]}'] .client-name`); \
         return [li.textContent, document.querySelectorAll('main script').length, window.pwned === undefined]",
        json!([evil_id]),
    ).await;
    assert_eq!(shown, json!(["<script>window.pwned=1</script>", 0, true]));
    if let Some(d) = &shots {
        b.screenshot(&d.join("console-authorizations.png")).await;
    }

    // Withdraw the demo client's authorization: its next refresh fails.
    assert_eq!(
        refresh_status(&base, "demo-client", &demo_refresh).await.0,
        200,
        "works before"
    );
    let demo_refresh = {
        // The rotation above spent the old token; take a fresh grant to withdraw.
        grant_for(&base, "demo-client").await
    };
    b.click("nav button[data-view=keys]").await;
    b.click("nav button[data-view=authorizations]").await;
    b.wait_for(
        "return document.querySelectorAll(\"li[data-client='demo-client'] button\").length >= 1",
    )
    .await;
    // One at a time (the demo client holds two grants): each answer reloads the list.
    let count = "return document.querySelectorAll(\"li[data-client='demo-client']\").length";
    let mut left = b.execute(count, json!([])).await.as_u64().unwrap();
    assert!(left >= 1);
    while left > 0 {
        b.click("li[data-client='demo-client'] button").await;
        b.wait_for(&format!(
            "return document.querySelectorAll(\"li[data-client='demo-client']\").length < {left}"
        ))
        .await;
        left = b.execute(count, json!([])).await.as_u64().unwrap();
    }
    let status = b
        .execute(
            "return document.getElementById('status').textContent",
            json!([]),
        )
        .await;
    assert!(
        status.as_str().unwrap().starts_with("Withdrawn"),
        "{status}"
    );
    let (code, body) = refresh_status(&base, "demo-client", &demo_refresh).await;
    assert_eq!(
        (code, body["error"].clone()),
        (400, json!("invalid_grant")),
        "{body}"
    );

    // An API key, made in the console, through the guard; revoked: 401.
    b.click("nav button[data-view=keys]").await;
    b.wait_for("return document.querySelector('#key-scopes input[value=\"mcp:tools\"]')")
        .await;
    b.type_into("#key-label", "nightly report").await;
    b.click("#key-scopes input[value=\"mcp:tools\"]").await;
    b.click("#key-form button[type=submit]").await;
    let key = b
        .wait_for("return document.getElementById('key-value').textContent")
        .await;
    let key = key.as_str().unwrap().to_owned();
    assert!(key.starts_with("mcpk_"), "{key}");
    assert_eq!(initialize_with_key(&mcp, &key).await, 200);
    if let Some(d) = &shots {
        b.screenshot(&d.join("console-keys.png")).await;
    }
    b.wait_for("return document.querySelector('li.api-key button')")
        .await;
    b.click("li.api-key button").await;
    b.wait_for("return document.querySelector('li.api-key .key-state').textContent === 'Revoked'")
        .await;
    assert_eq!(
        initialize_with_key(&mcp, &key).await,
        401,
        "revoked at once"
    );

    // The playground: its own PKCE flow for the demo MCP server, in a pop-up; calculator.
    b.click("nav button[data-view=playground]").await;
    let (_, main) = b.windows().await;
    b.click("#pg-connect button[type=submit]").await;
    let popup = {
        let mut found = None;
        for _ in 0..100 {
            let (all, _) = b.windows().await;
            if let Some(h) = all.into_iter().find(|h| *h != main) {
                found = Some(h);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        found.expect("the sign-in window opened")
    };
    b.switch_to(&popup).await;
    b.wait_source("name=\"approve\"").await;
    b.click("button[name=approve]").await;
    b.switch_to(&main).await;
    b.wait_for("return document.querySelector('button[data-tool=calculator]')")
        .await;
    b.click("button[data-tool=calculator]").await;
    b.execute(
        "document.getElementById('arg-operation').value = 'multiply'",
        json!([]),
    )
    .await;
    b.type_into("#arg-a", "6").await;
    b.type_into("#arg-b", "7").await;
    b.click("#pg-call button[type=submit]").await;
    let answer = b.wait_for("const t = document.getElementById('pg-answer').textContent; return t.includes('42') && t").await;
    assert!(answer.as_str().unwrap().contains("42"), "{answer}");
    let logged = b
        .execute(
            "return document.querySelectorAll('#pg-log li').length",
            json!([]),
        )
        .await;
    assert!(
        logged.as_u64().unwrap() >= 5,
        "each request and answer shown: {logged}"
    );
    if let Some(d) = &shots {
        b.screenshot(&d.join("console-playground.png")).await;
        b.resize(390, 844).await;
        b.click("nav button[data-view=keys]").await;
        b.wait_for("return document.querySelector('#key-scopes input')")
            .await;
        b.screenshot(&d.join("console-phone.png")).await;
    }

    // Administration (the demo user holds the role `admin`): clients as text, a new user,
    // the audit log filtered by kind.
    b.resize(900, 900).await;
    b.click("#nav-admin").await;
    let name = b.wait_for(&format!(
        "const e = document.querySelector(\"#adm-clients li[data-client='{evil_id}'] .title\"); return e && e.textContent"
    )).await;
    assert_eq!(name, "<script>window.pwned=1</script>");
    b.type_into("#adm-username", "carol").await;
    b.type_into("#adm-password", "correct horse").await;
    b.click("#adm-user-form button[type=submit]").await;
    b.wait_for("return document.querySelector(\"#adm-users li[data-user='carol']\")")
        .await;
    let users = cli(&data, &["users", "list"]);
    assert!(users.to_string().contains("carol"), "{users}");
    b.execute(
        "document.getElementById('adm-audit-kind').value = 'api_key_revoked'",
        json!([]),
    )
    .await;
    b.click("#adm-audit-form button[type=submit]").await;
    let kinds = b
        .wait_for(
            "const l = [...document.querySelectorAll('#adm-audit li')].map(e => e.dataset.kind); \
         return l.length > 0 && l.every(k => k === 'api_key_revoked') && l.length",
        )
        .await;
    assert_eq!(kinds, json!(1), "one key was revoked");
    assert_eq!(
        b.execute("return window.pwned === undefined", json!([]))
            .await,
        json!(true)
    );
    if let Some(d) = &shots {
        b.screenshot(&d.join("console-admin.png")).await;
    }

    // Every form field of every view has a label (screen readers name it).
    let unlabelled = b.execute(
        "return [...document.querySelectorAll('input, select')].filter(e => e.labels.length === 0).map(e => e.id || e.name)",
        json!([]),
    ).await;
    assert_eq!(unlabelled, json!([]), "fields without a label");

    // No CSP violation during the whole run (the probe shows the log is read at all).
    b.execute("console.error('console-test probe')", json!([]))
        .await;
    let log = b.browser_log().await;
    assert!(
        log.iter().any(|m| m.contains("console-test probe")),
        "{log:?}"
    );
    let csp: Vec<&String> = log
        .iter()
        .filter(|m| m.contains("Content Security Policy") || m.contains("Refused to"))
        .collect();
    assert!(csp.is_empty(), "CSP violations: {csp:?}");
    b.quit().await;
    drop(server);
}
