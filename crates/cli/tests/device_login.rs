//! `mcp-oauth login --device` (RFC 8628) as a user runs it over SSH: against a real
//! `serve --dev --demo` process, the client registering itself for the device grant (DCR); the
//! verification page and the code it prints on stderr are used in headless Chromium (sign-in,
//! the prefilled code confirmed, Allow); then `token` and `tools` work with the stored tokens.
//! A denial ends `login` with a one-line error. A pre-registered client (`clients add --grant
//! …device_code`) with `--dpop`: the token is bound to the key, and `tools` proves it.
//!
//! Skipped loudly without Chromium and chromedriver; failed if `MCP_OAUTH_REQUIRE_BROWSER` is set.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/bin.rs"]
mod bin;
#[path = "../../server/tests/e2e/webdriver.rs"]
mod webdriver;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A child process (`serve`, `login`), killed by its pid on drop.
struct Proc(Option<Child>);

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `serve --dev --demo` polling at 1 s (so the test waits seconds, not minutes); its issuer.
fn serve(data: &std::path::Path) -> (Proc, String) {
    let mut child = Command::new(bin::mcp_oauth())
        .args([
            "serve",
            "--dev",
            "--demo",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data)
        .env("MCP_OAUTH_DEVICE_POLL_INTERVAL", "1")
        .env("MCP_OAUTH_LOG", "warn")
        .env_remove("MCP_OAUTH_KEK")
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
    (Proc(Some(child)), base)
}

/// What `login --device` printed before waiting: the page, the code, the link with the code.
struct Shown {
    verification_uri: String,
    user_code: String,
    complete: String,
}

/// Starts `login URL --device`; returns the process, what it showed, and a thread collecting
/// the rest of its stderr.
fn start_login(
    url: &str,
    creds: &str,
    extra: &[&str],
) -> (Proc, Shown, std::thread::JoinHandle<String>) {
    let mut child = Command::new(bin::mcp_oauth())
        .args(["login", url, "--device", "--credentials", creds])
        .args(extra)
        .env_remove("MCP_OAUTH_CREDENTIALS")
        .env_remove("BROWSER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let proc = Proc(Some(child));
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            if line.starts_with("Waiting for the approval")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(all.clone());
            }
        }
        all
    });
    let Ok(printed) = rx.recv_timeout(Duration::from_secs(60)) else {
        drop(proc);
        panic!("login printed no code: {}", reader.join().unwrap());
    };
    let lines: Vec<&str> = printed.lines().map(str::trim).collect();
    let after = |marker: &str| {
        let i = lines
            .iter()
            .position(|l| l.starts_with(marker))
            .unwrap_or_else(|| panic!("no `{marker}` in {printed}"));
        lines[i + 1..]
            .iter()
            .find(|l| !l.is_empty())
            .unwrap()
            .to_string()
    };
    let shown = Shown {
        verification_uri: after("To sign in, open this page"),
        user_code: after("and enter the code"),
        complete: after("Or open this link"),
    };
    (proc, shown, reader)
}

/// Waits (at most a minute) for the process to end; its output.
fn wait(mut p: Proc) -> std::process::Output {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while p.0.as_mut().unwrap().try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "login did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
    p.0.take().unwrap().wait_with_output().unwrap()
}

/// The user's side in Chromium: the link with the code, sign in, confirm the code, decide.
async fn decide_in_chromium(chrome: &str, driver: &str, shown: &Shown, approve: bool) {
    let b = webdriver::Browser::start(chrome, driver).await;
    b.goto(&shown.complete).await;
    b.wait_source("Connect a device").await;
    b.type_into("#username", "demo").await;
    b.type_into("#password", "demo").await;
    b.click("button[name=login]").await;
    let confirm = b.wait_source("Check that this is exactly the code").await;
    assert!(confirm.contains(&shown.user_code), "the code is prefilled");
    b.click("button[name=lookup]").await;
    b.wait_source("Authorize").await;
    if approve {
        b.click("button[name=approve]").await;
        b.wait_source("Device connected").await;
    } else {
        b.click("button[name=deny]").await;
        b.wait_source("Request denied").await;
    }
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_device_then_token_and_tools() {
    let Some((chrome, driver)) = webdriver::require() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (_serve, base) = serve(&tmp.path().join("data"));
    let url = format!("{base}/mcp");
    let creds = tmp.path().join("creds.json");
    let creds = creds.to_str().unwrap();

    let (login, shown, reader) = start_login(&url, creds, &[]);
    assert_eq!(shown.verification_uri, format!("{base}/device"));
    assert!(
        shown.user_code.len() == 9 && shown.user_code.as_bytes()[4] == b'-',
        "{}",
        shown.user_code
    );
    assert!(
        shown
            .complete
            .starts_with(&format!("{base}/device?user_code="))
    );
    decide_in_chromium(&chrome, &driver, &shown, true).await;
    let out = wait(login);
    let stderr = reader.join().unwrap();
    assert!(out.status.success(), "login failed: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(&format!("Logged in to {url}")), "{stdout}");

    // The stored tokens work: `token` prints one (without signing in again), `tools` lists.
    let token = Command::new(bin::mcp_oauth())
        .args(["token", &url, "--credentials", creds])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let access = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    assert_eq!(access.split('.').count(), 3, "a JWT: {access}");
    assert!(
        !stderr.contains(&access) && !stdout.contains(&access),
        "no token printed by login"
    );
    let file = std::fs::read_to_string(creds).unwrap();
    assert!(
        file.contains(&access),
        "the token stored like the browser login's"
    );
    let tools = Command::new(bin::mcp_oauth())
        .args(["tools", &url, "--credentials", creds])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        tools.status.success(),
        "{}",
        String::from_utf8_lossy(&tools.stderr)
    );
    assert!(String::from_utf8_lossy(&tools.stdout).contains("echo"));

    // A second device login reuses the device registration; the user denies: one clear line.
    let (login, shown, reader) = start_login(&url, creds, &[]);
    decide_in_chromium(&chrome, &driver, &shown, false).await;
    let out = wait(login);
    let stderr = reader.join().unwrap();
    assert!(!out.status.success());
    assert!(stderr.contains("denied"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_device_with_a_pre_registered_client_and_dpop() {
    let Some((chrome, driver)) = webdriver::require() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (_serve, base) = serve(&data);
    let added = Command::new(bin::mcp_oauth())
        .args([
            "clients",
            "add",
            "--name",
            "Terminal",
            "--public",
            "--client-id",
            "tty",
        ])
        .args(["--grant", "urn:ietf:params:oauth:grant-type:device_code"])
        .args(["--grant", "refresh_token", "--data-dir"])
        .arg(&data)
        .env_remove("MCP_OAUTH_KEK")
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let url = format!("{base}/mcp");
    let creds = tmp.path().join("creds.json");
    let creds = creds.to_str().unwrap();
    let (login, shown, reader) = start_login(&url, creds, &["--client-id", "tty", "--dpop"]);
    decide_in_chromium(&chrome, &driver, &shown, true).await;
    let out = wait(login);
    let stderr = reader.join().unwrap();
    assert!(out.status.success(), "login failed: {stderr}");
    let status = Command::new(bin::mcp_oauth())
        .args(["status", "--json", "--credentials", creds])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        status.contains("\"tty\""),
        "the pre-registered client: {status}"
    );
    let token = Command::new(bin::mcp_oauth())
        .args(["token", &url, "--client-id", "tty", "--credentials", creds])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let access = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    let payload = access.split('.').nth(1).unwrap();
    use base64::Engine;
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["client_id"], "tty");
    assert!(claims["cnf"]["jkt"].is_string(), "DPoP-bound: {claims}");
    let tools = Command::new(bin::mcp_oauth())
        .args(["tools", &url, "--client-id", "tty", "--credentials", creds])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        tools.status.success(),
        "{}",
        String::from_utf8_lossy(&tools.stderr)
    );
    assert!(String::from_utf8_lossy(&tools.stdout).contains("echo"));
}

/// A server whose authorization server has no `device_authorization_endpoint`: `login --device`
/// fails at once with a line that says so and names the browser login instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_device_without_the_endpoint_says_what_to_do() {
    use axum::routing::{any, get};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (b1, b2, b3) = (base.clone(), base.clone(), base.clone());
    let app = axum::Router::new()
        .route(
            "/mcp",
            any(move || {
                let b = b1.clone();
                async move {
                    (
                        axum::http::StatusCode::UNAUTHORIZED,
                        [(
                            "www-authenticate",
                            format!(
                                "Bearer resource_metadata=\"{b}/.well-known/oauth-protected-resource/mcp\""
                            ),
                        )],
                    )
                }
            }),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(move || {
                let b = b2.clone();
                async move {
                    axum::Json(serde_json::json!({
                        "resource": format!("{b}/mcp"),
                        "authorization_servers": [b],
                    }))
                }
            }),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(move || {
                let b = b3.clone();
                async move {
                    axum::Json(serde_json::json!({
                        "issuer": b,
                        "authorization_endpoint": format!("{b}/authorize"),
                        "token_endpoint": format!("{b}/token"),
                        "registration_endpoint": format!("{b}/register"),
                        "response_types_supported": ["code"],
                        "code_challenge_methods_supported": ["S256"],
                    }))
                }
            }),
        );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let tmp = tempfile::tempdir().unwrap();
    let creds = tmp.path().join("creds.json");
    let url = format!("{base}/mcp");
    let login_url = url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(bin::mcp_oauth())
            .args(["login", &login_url, "--device", "--credentials"])
            .arg(&creds)
            .env_remove("MCP_OAUTH_CREDENTIALS")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    server.abort();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("does not offer the device flow")
            && stderr.contains(&format!("`mcp-oauth login {url}`")),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}
