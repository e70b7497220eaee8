//! The MCP OAuth client end to end: `mcp-oauth-client` (through its rmcp adapter) and the
//! `mcp-oauth` client commands against our authorization server and our guard, over real HTTP on
//! 127.0.0.1:0; and against servers that hang, lie or answer garbage.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/bin.rs"]
mod bin;
mod cli_ux;
mod dpop;
#[path = "../common/login.rs"]
mod login;
#[path = "../common/pages.rs"]
mod pages;
/// A private dbus-daemon + gnome-keyring-daemon, shared with the client crate's keychain tests.
#[path = "../../../client/tests/support/secret_service.rs"]
mod secret_service;
mod support;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use mcp_oauth_client::transport::OAuthHttpClient;
use mcp_oauth_client::{
    ClientConfig, CredentialStore, Error, FileStore, MemoryStore, TokenManager,
};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use serde_json::json;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use support::*;

fn call(name: &str, args: serde_json::Value) -> CallToolRequestParams {
    let serde_json::Value::Object(m) = args else {
        panic!("args must be an object")
    };
    CallToolRequestParams::new(name.to_owned()).with_arguments(m)
}

fn text(r: &rmcp::model::CallToolResult) -> String {
    r.content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

/// Login through the real forms (dynamic registration, PKCE, resource), a tool call, step-up to
/// `mcp:admin` on 403 insufficient_scope, refresh after expiry, logout with revocation visible
/// at introspection.
#[tokio::test]
async fn login_step_up_refresh_and_logout_through_the_real_pages() {
    let env = Env::start().await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let prompt = Arc::new(FormPrompt::default());
    let manager = env.manager_with(store.clone(), prompt.clone());
    let transport = OAuthHttpClient::new(manager.clone(), &env.mcp_url)
        .unwrap()
        .into_transport();
    let client = ().serve(transport).await.unwrap();

    // tools/list: 401 → discovery → DCR → login and consent pages → token.
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 2);
    assert_eq!(prompt.logins.load(Ordering::SeqCst), 1);
    let r = client
        .call_tool(call("echo", json!({"text": "hi"})))
        .await
        .unwrap();
    assert_eq!(text(&r), "hi");
    let (_, first) = store.tokens_for_server(&env.mcp_url).await.unwrap()[0].clone();
    assert_eq!(first.scope.as_deref(), Some("mcp:tools"));

    // admin_reset needs mcp:admin: 403 insufficient_scope → step-up (the union) → retry.
    let r = client
        .call_tool(call("admin_reset", json!({})))
        .await
        .unwrap();
    assert_eq!(text(&r), "reset");
    assert_eq!(prompt.logins.load(Ordering::SeqCst), 2);
    let stored = store.tokens_for_server(&env.mcp_url).await.unwrap();
    assert_eq!(stored.len(), 1);
    let (_, stepped) = stored[0].clone();
    assert_eq!(stepped.scope.as_deref(), Some("mcp:admin mcp:tools"));

    // Past expiry the next call refreshes (rotation) without a login.
    env.clock.advance(3600);
    let r = client
        .call_tool(call("echo", json!({"text": "later"})))
        .await
        .unwrap();
    assert_eq!(text(&r), "later");
    assert_eq!(env.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(prompt.logins.load(Ordering::SeqCst), 2);
    let (_, refreshed) = store.tokens_for_server(&env.mcp_url).await.unwrap()[0].clone();
    assert_ne!(
        refreshed.access_token.expose(),
        stepped.access_token.expose()
    );
    assert_ne!(
        refreshed.refresh_token.as_ref().unwrap().expose(),
        stepped.refresh_token.as_ref().unwrap().expose()
    );
    let _ = client.cancel().await;

    // Logout revokes at the AS (refresh token, then access token) and forgets.
    let at = refreshed.access_token.expose().to_owned();
    let rt = refreshed
        .refresh_token
        .as_ref()
        .unwrap()
        .expose()
        .to_owned();
    assert_eq!(env.introspect(&rt).await["active"], true);
    let out = manager.revoke_and_forget(&env.mcp_url).await.unwrap();
    assert_eq!(out.len(), 1);
    assert!(matches!(out[0].outcome, Ok(true)), "{:?}", out[0].outcome);
    assert!(store.all_tokens().await.unwrap().is_empty());
    assert_eq!(env.introspect(&rt).await["active"], false);
    assert_eq!(env.introspect(&at).await["active"], false);
}

/// Ten concurrent requests with an expired token cause exactly one refresh; so do two managers
/// (two "processes") sharing one credentials file.
#[tokio::test]
async fn expired_token_is_refreshed_once_in_a_process_and_across_two() {
    let env = Env::start().await;
    let path = env.dir.path().join("creds").join("credentials.json");
    let store_a: Arc<dyn CredentialStore> = Arc::new(FileStore::new(&path));
    let a = env.manager(store_a);
    let first = a.bearer_token(&env.mcp_url).await.unwrap();

    env.clock.advance(3600);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let a = a.clone();
            let url = env.mcp_url.clone();
            tokio::spawn(async move { a.bearer_token(&url).await.unwrap() })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap());
    }
    assert_eq!(env.refreshes.load(Ordering::SeqCst), 1);
    assert!(tokens.iter().all(|t| t == &tokens[0] && t != &first));

    // Two managers on one file: their in-process locks are separate, the file lock is shared.
    let b = env.manager(Arc::new(FileStore::new(&path)));
    let a2 = env.manager(Arc::new(FileStore::new(&path)));
    env.clock.advance(3600);
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let m = if i % 2 == 0 { a2.clone() } else { b.clone() };
            let url = env.mcp_url.clone();
            tokio::spawn(async move { m.bearer_token(&url).await.unwrap() })
        })
        .collect();
    let mut tokens2 = Vec::new();
    for t in tasks {
        tokens2.push(t.await.unwrap());
    }
    assert_eq!(env.refreshes.load(Ordering::SeqCst), 2);
    assert!(tokens2.iter().all(|t| t == &tokens2[0] && t != &tokens[0]));
    // And the refreshed token works at the guarded server.
    let r = env
        .http
        .post(&env.mcp_url)
        .bearer_auth(&tokens2[0])
        .header("accept", "application/json, text/event-stream")
        .json(
            &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"}}}),
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// A small server on 127.0.0.1:0; returns its base URL and the task.
async fn serve(app: Router) -> (String, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (base, task)
}

fn quick_manager(store: Arc<dyn CredentialStore>) -> TokenManager {
    TokenManager::builder(
        ClientConfig::new()
            .allow_insecure_http(true)
            .timeout(Duration::from_millis(500))
            .legacy_fallback(false),
    )
    .store(store)
    .prompt(Arc::new(FormPrompt::default()))
    .build()
    .unwrap()
}

/// A 401 pointing at `prm`, served at `/.well-known/oauth-protected-resource/mcp`.
fn protected(prm: serde_json::Value, as_doc: Option<serde_json::Value>) -> Router {
    let mut app = Router::new()
        .route(
            "/mcp",
            post(|| async {
                (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer")],
                )
            }),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(move || {
                let prm = prm.clone();
                async move { axum::Json(prm) }
            }),
        );
    if let Some(doc) = as_doc {
        app = app.route(
            "/.well-known/oauth-authorization-server",
            get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc) }
            }),
        );
    }
    app
}

/// Servers that hang, lie about the resource or the issuer, or answer garbage: a clear error and
/// nothing stored.
#[tokio::test]
async fn hanging_lying_and_garbage_servers_fail_clearly_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.json");
    let store: Arc<dyn CredentialStore> = Arc::new(FileStore::new(&path));
    let m = quick_manager(store.clone());

    // Hangs: accepts connections and never answers.
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang_url = format!("http://{}/mcp", hang.local_addr().unwrap());
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = hang.accept().await {
            held.push(s);
        }
    });
    let e = m.bearer_token(&hang_url).await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e}");
    assert!(e.to_string().contains("timed out"), "{e}");
    holder.abort();

    // Lies about the resource.
    let (base, t1) = serve(protected(
        json!({"resource": "https://elsewhere.example/mcp", "authorization_servers": ["https://as.example"]}),
        None,
    ))
    .await;
    let e = m.bearer_token(&format!("{base}/mcp")).await.unwrap_err();
    assert!(matches!(e, Error::ResourceMismatch { .. }), "{e}");
    assert!(e.to_string().contains("elsewhere.example"), "{e}");
    t1.abort();

    // Lies about the issuer: the AS metadata names another issuer.
    let (base, t3) = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let app = protected(
            json!({"resource": format!("{base}/mcp"), "authorization_servers": [base.clone()]}),
            Some(json!({
                "issuer": "https://evil.example",
                "authorization_endpoint": format!("{base}/authorize"),
                "token_endpoint": format!("{base}/token"),
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"]
            })),
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        (base, task)
    };
    let e = m.bearer_token(&format!("{base}/mcp")).await.unwrap_err();
    assert!(
        matches!(e, Error::AuthorizationServerMetadataNotFound { .. }),
        "{e}"
    );
    assert!(e.to_string().contains("issuer mismatch"), "{e}");
    t3.abort();

    // Garbage: the metadata is not JSON.
    let app = Router::new()
        .route(
            "/mcp",
            post(|| async {
                (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer")],
                )
            }),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(|| async {
                ([(header::CONTENT_TYPE, "application/json")], "{not json").into_response()
            }),
        )
        .route(
            "/.well-known/oauth-protected-resource",
            get(|| async { "<html>" }),
        );
    let (base, t4) = serve(app).await;
    let e = m.bearer_token(&format!("{base}/mcp")).await.unwrap_err();
    assert!(matches!(e, Error::ResourceMetadataNotFound { .. }), "{e}");
    assert!(e.to_string().contains("not"), "{e}");
    t4.abort();

    assert!(store.all_tokens().await.unwrap().is_empty());
    assert!(!path.exists(), "nothing may be written");
}

/// `token --client-credentials` prints a token the guard accepts; `status --json` lists it
/// redacted; the credentials file is 0600; `logout` revokes it.
#[tokio::test]
async fn cli_token_client_credentials_status_and_logout() {
    let env = Env::start().await;
    let creds = env.dir.path().join("cli").join("credentials.json");
    let secret = env.m2m_secret.clone();
    let creds2 = creds.clone();
    let run = move |args: &[&str]| {
        // umask 000: the credentials file must still never be readable by others.
        let out = Command::new("sh")
            .arg("-c")
            .arg("umask 000; exec \"$0\" \"$@\"")
            .arg(crate::bin::mcp_oauth())
            .args(args)
            .arg("--credentials")
            .arg(&creds2)
            .env("M2M_SECRET", &secret)
            .env_remove("MCP_OAUTH_CREDENTIALS")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let url = env.mcp_url.clone();
    // The command runs on a blocking thread: it waits for its process.
    let cli = |args: Vec<&str>| {
        let run = run.clone();
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        async move {
            tokio::task::spawn_blocking(move || {
                run(&args.iter().map(String::as_str).collect::<Vec<_>>())
            })
            .await
            .unwrap()
        }
    };
    let m2m = [
        "--client-credentials",
        "--client-id",
        M2M_CLIENT,
        "--client-secret-env",
        "M2M_SECRET",
    ];
    let (ok, stdout, stderr) = cli([&["token", url.as_str()][..], &m2m].concat()).await;
    assert!(ok, "{stderr}");
    let token = stdout.trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT on stdout: {stdout}");
    assert!(!stderr.contains(&token));
    assert_eq!(env.introspect(&token).await["active"], true);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&creds).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        let dir_mode = std::fs::metadata(creds.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o077, 0, "{dir_mode:o}");
    }

    // The stored token is reused (no second token request is needed to print it).
    let (ok, again, stderr) = cli([&["token", url.as_str()][..], &m2m].concat()).await;
    assert!(ok, "{stderr}");
    assert_eq!(again.trim(), token);

    let (ok, status, stderr) = cli(vec!["status", "--json"]).await;
    assert!(ok, "{stderr}");
    assert!(!status.contains(&token), "status must not print the token");
    assert!(!status.contains(&env.m2m_secret));
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["tokens"][0]["server_url"], url);
    assert_eq!(v["tokens"][0]["client_id"], M2M_CLIENT);
    assert_eq!(v["tokens"][0]["issuer"], env.base);
    assert_eq!(v["tokens"][0]["access_token"], "[redacted]");

    // tools and call act as an MCP client with the stored token.
    let (ok, out, stderr) = cli([&["tools", url.as_str(), "--json"][..], &m2m].concat()).await;
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["name"], "echo", "{out}");
    let echo = [
        "call",
        url.as_str(),
        "echo",
        "--args",
        r#"{"text":"from the cli"}"#,
    ];
    let (ok, out, stderr) = cli([&echo[..], &m2m].concat()).await;
    assert!(ok, "{stderr}");
    assert_eq!(out.trim(), "from the cli");
    assert!(!stderr.contains(&token) && !out.contains(&token));

    let logout = ["logout", url.as_str(), "--json"];
    let (ok, out, stderr) = cli([&logout[..], &m2m[1..]].concat()).await;
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["forgotten"][0]["revoked"], true, "{out}");
    assert_eq!(env.introspect(&token).await["active"], false);
    let (_, status, _) = cli(vec!["status", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["tokens"].as_array().unwrap().len(), 0);
}

/// `--store keychain` as processes: `token --client-credentials` stores its token in a private
/// gnome-keyring (not in a file), `status --json` lists it redacted from a new process, `logout`
/// revokes and forgets it; with no Secret Service on the bus the command fails with the clear
/// error, quickly.
#[tokio::test]
async fn cli_token_status_logout_with_the_keychain_store() {
    let env = Env::start().await;
    let Some(mut ss) = secret_service::SecretService::start_bus(&env.dir.path().join("keyring"))
    else {
        return;
    };
    ss.start_keyring(true);
    let config_home = env.dir.path().join("config");
    let secret = env.m2m_secret.clone();
    let address = ss.address.clone();
    let run = move |args: &[&str]| {
        let out = Command::new(crate::bin::mcp_oauth())
            .args(args)
            .args(["--store", "keychain"])
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .env("XDG_CONFIG_HOME", &config_home)
            .env("M2M_SECRET", &secret)
            .env_remove("MCP_OAUTH_CREDENTIALS")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let m2m = [
        "--client-credentials",
        "--client-id",
        M2M_CLIENT,
        "--client-secret-env",
        "M2M_SECRET",
    ];
    let url = env.mcp_url.clone();
    let (ok, stdout, stderr) = tokio::task::spawn_blocking({
        let (run, url) = (run.clone(), url.clone());
        move || run(&[&["token", url.as_str()][..], &m2m[..]].concat())
    })
    .await
    .unwrap();
    assert!(ok, "{stderr}");
    let token = stdout.trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT on stdout: {stdout}");
    assert_eq!(env.introspect(&token).await["active"], true);
    let file = env.dir.path().join("config/mcp-oauth/credentials.json");
    assert!(
        !file.exists(),
        "the keychain store writes no credentials file"
    );

    let (ok, status, stderr) = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&["status", "--json"])
    })
    .await
    .unwrap();
    assert!(ok, "{stderr}");
    assert!(!status.contains(&token) && !status.contains(&env.m2m_secret));
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["tokens"].as_array().unwrap().len(), 1, "{status}");
    assert_eq!(v["tokens"][0]["server_url"], url);
    assert_eq!(v["tokens"][0]["client_id"], M2M_CLIENT);
    assert_eq!(v["tokens"][0]["access_token"], "[redacted]");

    // A second `token` reuses the stored one.
    let (ok, again, stderr) = tokio::task::spawn_blocking({
        let (run, url) = (run.clone(), url.clone());
        move || run(&[&["token", url.as_str()][..], &m2m[..]].concat())
    })
    .await
    .unwrap();
    assert!(ok, "{stderr}");
    assert_eq!(again.trim(), token);

    let (ok, out, stderr) = tokio::task::spawn_blocking({
        let (run, url) = (run.clone(), url.clone());
        move || run(&[&["logout", url.as_str(), "--json"][..], &m2m[1..]].concat())
    })
    .await
    .unwrap();
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["forgotten"][0]["revoked"], true, "{out}");
    assert_eq!(env.introspect(&token).await["active"], false);
    let (ok, status, stderr) = tokio::task::spawn_blocking({
        let run = run.clone();
        move || run(&["status", "--json"])
    })
    .await
    .unwrap();
    assert!(ok, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&status).unwrap();
    assert_eq!(v["tokens"].as_array().unwrap().len(), 0, "{status}");

    // No Secret Service on the bus: a clear error, no hang.
    ss.stop_keyring();
    let started = std::time::Instant::now();
    let (ok, out, stderr) = tokio::task::spawn_blocking(move || run(&["status", "--json"]))
        .await
        .unwrap();
    assert!(!ok, "{out}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(
        format!("{out}{stderr}").contains("no Secret Service on the session bus"),
        "{out}{stderr}"
    );
}

/// `login --no-browser` as a process: it prints the authorization URL, the user signs in on the
/// real pages, the redirect URL is pasted on stdin; then `tools` uses the stored token.
#[tokio::test]
async fn cli_login_no_browser_then_tools() {
    let env = Env::start().await;
    let creds = env.dir.path().join("login").join("credentials.json");
    let (out, stderr) =
        login::login_pasting(&env.mcp_url, creds.to_str().unwrap(), |url| async move {
            sign_in(&url).await
        })
        .await;
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("Logged in to"), "{stdout}");
    assert!(
        !stderr.contains("code="),
        "no authorization code is printed"
    );
    assert!(stdout.contains("mcp:tools"), "{stdout}");

    let url = env.mcp_url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(crate::bin::mcp_oauth())
            .args(["tools", &url, "--credentials"])
            .arg(&creds)
            .env_remove("MCP_OAUTH_CREDENTIALS")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("echo") && stdout.contains("admin_reset"),
        "{stdout}"
    );
}

/// Two `mcp-oauth token` processes on one credentials file whose access token has expired: the
/// file lock lets exactly one refresh at the authorization server, and both print that token.
#[tokio::test]
async fn two_cli_processes_share_one_refresh() {
    let env = Env::start().await;
    let path = env.dir.path().join("two").join("credentials.json");
    let m = env.manager(Arc::new(FileStore::new(&path)));
    m.bearer_token(&env.mcp_url).await.unwrap();
    // Expire the stored access token (the processes run on the real clock).
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut expired = 0;
    fn expire(v: &mut serde_json::Value, n: &mut usize) {
        match v {
            serde_json::Value::Object(map) => {
                if map.contains_key("access_token") && map.contains_key("expires_at") {
                    map.insert("expires_at".into(), json!(1));
                    *n += 1;
                }
                for x in map.values_mut() {
                    expire(x, n);
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| expire(x, n)),
            _ => {}
        }
    }
    expire(&mut doc, &mut expired);
    assert_eq!(expired, 1, "one stored token: {doc}");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let before = env.refreshes.load(Ordering::SeqCst);
    let spawn = || {
        Command::new(crate::bin::mcp_oauth())
            .args(["token", &env.mcp_url, "--credentials"])
            .arg(&path)
            .env_remove("MCP_OAUTH_CREDENTIALS")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = tokio::task::spawn_blocking(move || {
        (a.wait_with_output().unwrap(), b.wait_with_output().unwrap())
    })
    .await
    .unwrap();
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let (ta, tb) = (
        String::from_utf8(a.stdout).unwrap(),
        String::from_utf8(b.stdout).unwrap(),
    );
    assert_eq!(
        ta.trim(),
        tb.trim(),
        "both processes print the one refreshed token"
    );
    assert_eq!(
        env.refreshes.load(Ordering::SeqCst) - before,
        1,
        "exactly one refresh across the two processes"
    );
}
