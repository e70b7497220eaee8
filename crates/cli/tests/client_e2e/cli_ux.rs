//! The client commands as a person (or a script) meets them: quiet output without colour codes
//! in a pipe, one-line errors (the causes with `-v`), `$BROWSER`, a run without a terminal that
//! fails at once, the sign-in timeout, the scope of the challenge, help without server options,
//! hints for renamed flags, the admin commands' database line, `status`/`logout` wording, and
//! tokens kept per identity, and `login --dpop`.

use crate::support::*;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

/// Runs `mcp-oauth args` with stdin closed (no terminal), `envs` set, at most `limit`; a process
/// still running then is killed by its pid and the test fails.
pub fn run_in(cwd: &Path, args: &[&str], envs: &[(&str, &str)], limit: Duration) -> Out {
    let start = Instant::now();
    let mut cmd = Command::new(crate::bin::mcp_oauth());
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("MCP_OAUTH_CREDENTIALS")
        .env_remove("MCP_OAUTH_DATA_DIR")
        .env_remove("MCP_OAUTH_LOG")
        .env_remove("BROWSER")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "mcp-oauth {args:?} still ran after {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Out {
        ok: out.status.success(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        took: start.elapsed(),
    }
}

async fn run(cwd: &Path, args: &[&str], envs: &[(&str, &str)], limit: Duration) -> Out {
    let cwd = cwd.to_path_buf();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let e: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_in(&cwd, &a, &e, limit)
    })
    .await
    .unwrap()
}

const MINUTE: Duration = Duration::from_secs(60);

fn m2m<'a>(url: &'a str, creds: &'a str) -> Vec<&'a str> {
    vec![
        url,
        "--client-credentials",
        "--client-id",
        M2M_CLIENT,
        "--client-secret-env",
        "M2M_SECRET",
        "--credentials",
        creds,
    ]
}

/// The claims of a JWT (not verified: the test only reads who it is for).
fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A `$BROWSER` that writes the URL it is given to `file` and exits 0.
fn recording_browser(dir: &Path) -> (String, PathBuf) {
    let file = dir.join("opened-url");
    let script = dir.join("browser.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n", file.display()),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    (script.display().to_string(), file)
}

async fn wait_for_file(file: &Path) -> String {
    for _ in 0..500 {
        if let Ok(s) = std::fs::read_to_string(file)
            && s.ends_with('\n')
        {
            return s.trim().to_owned();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the browser was never started");
}

/// No INFO lines of the libraries and no colour codes when the output is a pipe.
#[tokio::test]
async fn client_output_in_a_pipe_has_no_log_lines_and_no_colour() {
    let env = Env::start().await;
    let creds = env.dir.path().join("c.json").display().to_string();
    let secret = env.m2m_secret.clone();
    let envs = [("M2M_SECRET", secret.as_str())];
    let dir = env.dir.path();
    for cmd in ["token", "tools"] {
        let args = [&[cmd][..], &m2m(&env.mcp_url, &creds)[..]].concat();
        let out = run(dir, &args, &envs, MINUTE).await;
        assert!(out.ok, "{}", out.stderr);
        assert!(!out.stderr.contains("INFO"), "{cmd}: {}", out.stderr);
        assert!(!out.stderr.contains('\u{1b}'), "{cmd}: {:?}", out.stderr);
        assert!(!out.stdout.contains('\u{1b}'), "{cmd}: {:?}", out.stdout);
    }
    // -v shows our own info lines, still without colour.
    let args = [&["tools", "-v"][..], &m2m(&env.mcp_url, &creds)[..]].concat();
    let out = run(dir, &args, &envs, MINUTE).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(!out.stderr.contains('\u{1b}'), "{:?}", out.stderr);
}

/// A server whose PRM names a resource the authorization server does not know.
async fn unregistered_resource(env: &Env) -> (String, tokio::task::JoinHandle<()>) {
    challenging_resource(env, &[], None).await
}

/// A resource server at `/mcp` that challenges every request (with `challenge_scope`, if any) and
/// publishes its PRM (`scopes_supported` when `scopes` is not empty), naming `env`'s issuer.
async fn challenging_resource(
    env: &Env,
    scopes: &[&str],
    challenge_scope: Option<&str>,
) -> (String, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    let mcp = format!("{base}/mcp");
    let mut prm = json!({"resource": mcp, "authorization_servers": [env.base]});
    if !scopes.is_empty() {
        prm["scopes_supported"] = json!(scopes);
    }
    let mut challenge =
        format!("Bearer resource_metadata=\"{base}/.well-known/oauth-protected-resource/mcp\"");
    if let Some(scope) = challenge_scope {
        challenge.push_str(&format!(", scope=\"{scope}\""));
    }
    let app = Router::new()
        .route(
            "/mcp",
            post(move || {
                let c = challenge.clone();
                async move { (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, c)]) }
            }),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(move || {
                let prm = prm.clone();
                async move { axum::Json(prm) }
            }),
        );
    let task = tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (mcp, task)
}

/// One line that says what to do; the causes only with -v; no Rust type names, no repetition;
/// a URL without a scheme says so.
#[tokio::test]
async fn errors_are_one_line_and_v_adds_the_causes() {
    let env = Env::start().await;
    let (url, _task) = unregistered_resource(&env).await;
    let creds = env.dir.path().join("c.json").display().to_string();
    let secret = env.m2m_secret.clone();
    let envs = [("M2M_SECRET", secret.as_str())];
    let dir = env.dir.path();
    let args = [&["token"][..], &m2m(&url, &creds)[..]].concat();
    let out = run(dir, &args, &envs, MINUTE).await;
    assert!(!out.ok);
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].starts_with("error: cannot get a token for"),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].contains(&format!("register it: `mcp-oauth resources add {url}`")),
        "{}",
        lines[0]
    );
    assert!(!lines[0].contains("::"), "{}", lines[0]);
    assert_eq!(
        lines[0].matches("invalid_target").count(),
        1,
        "{}",
        lines[0]
    );

    let args = [&["token", "-v"][..], &m2m(&url, &creds)[..]].concat();
    let out = run(dir, &args, &envs, MINUTE).await;
    assert!(!out.ok);
    assert!(out.stderr.lines().count() > 1, "{}", out.stderr);
    assert!(out.stderr.contains("caused by:"), "{}", out.stderr);

    let out = run(dir, &["token", "127.0.0.1:9/mcp"], &[], MINUTE).await;
    assert!(!out.ok);
    assert!(out.stderr.contains("scheme is missing"), "{}", out.stderr);
    assert!(!out.stderr.contains("only https"), "{}", out.stderr);
}

/// `login` opens `$BROWSER` with the authorization URL; the loopback page reports the outcome.
#[tokio::test]
async fn login_opens_the_browser_named_by_browser_env() {
    let env = Env::start().await;
    let (browser, opened) = recording_browser(env.dir.path());
    let creds = env.dir.path().join("c.json").display().to_string();
    let url = env.mcp_url.clone();
    let dir = env.dir.path().to_path_buf();
    let login = tokio::spawn(async move {
        run(
            &dir,
            &["login", &url, "--credentials", &creds],
            &[("BROWSER", &browser)],
            MINUTE,
        )
        .await
    });
    let auth_url = wait_for_file(&opened).await;
    assert!(auth_url.contains("/authorize?"), "{auth_url}");
    let location = sign_in(&auth_url).await;
    let page = reqwest::get(&location).await.unwrap().text().await.unwrap();
    let out = login.await.unwrap();
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stdout.contains("Logged in to"), "{}", out.stdout);
    assert!(page.contains("Authorization complete"), "{page}");
}

/// `login --dpop`: the stored token is bound to a key kept beside it; `token` prints it, `tools`
/// proves the key on every request, and the same token sent as a bearer token is refused.
#[tokio::test]
async fn login_with_dpop_binds_the_token_and_tools_prove_the_key() {
    let env = Env::start().await;
    // The binary's proofs carry the real time, which the servers check within a minute.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    env.clock.set(now as i64);
    let (browser, opened) = recording_browser(env.dir.path());
    let creds_path = env.dir.path().join("c.json");
    let creds = creds_path.display().to_string();
    let url = env.mcp_url.clone();
    let dir = env.dir.path().to_path_buf();
    let login = {
        let creds = creds.clone();
        tokio::spawn(async move {
            run(
                &dir,
                &["login", &url, "--dpop", "--credentials", &creds],
                &[("BROWSER", &browser)],
                MINUTE,
            )
            .await
        })
    };
    let auth_url = wait_for_file(&opened).await;
    let location = sign_in(&auth_url).await;
    reqwest::get(&location).await.unwrap();
    let out = login.await.unwrap();
    assert!(out.ok, "{}", out.stderr);

    let dir = env.dir.path();
    let out = run(
        dir,
        &["token", &env.mcp_url, "--credentials", &creds],
        &[],
        MINUTE,
    )
    .await;
    assert!(out.ok, "{}", out.stderr);
    let token = out.stdout.trim().to_owned();
    let jkt = claims(&token)["cnf"]["jkt"].clone();
    assert!(jkt.as_str().is_some_and(|j| j.len() == 43), "bound: {jkt}");
    let file = std::fs::read_to_string(&creds_path).unwrap();
    assert!(file.contains("dpop_key"), "the key is kept with the token");

    let out = run(
        dir,
        &["tools", &env.mcp_url, "--credentials", &creds],
        &[],
        MINUTE,
    )
    .await;
    assert!(out.ok, "tools proves the key: {}", out.stderr);
    assert!(!out.stdout.trim().is_empty(), "{}", out.stdout);

    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "thief", "version": "1"}}});
    let r = reqwest::Client::new()
        .post(&env.mcp_url)
        .bearer_auth(&token)
        .header(header::ACCEPT, "application/json, text/event-stream")
        .json(&initialize)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "a bound token is no bearer token"
    );
}

/// Without a terminal and without `$BROWSER`, `login` and a `tools` that would have to sign in
/// fail at once, naming the commands that work; a browser that never comes back times out.
#[tokio::test]
async fn unattended_runs_fail_fast_and_the_wait_has_a_timeout() {
    let env = Env::start().await;
    let creds = env.dir.path().join("c.json").display().to_string();
    let dir = env.dir.path();
    for cmd in ["login", "tools", "call"] {
        let mut args = vec![cmd, env.mcp_url.as_str()];
        if cmd == "call" {
            args.push("echo");
        }
        args.extend(["--credentials", &creds]);
        let out = run(dir, &args, &[], Duration::from_secs(20)).await;
        assert!(!out.ok, "{cmd}");
        assert!(
            out.took < Duration::from_secs(10),
            "{cmd} took {:?}",
            out.took
        );
        assert!(out.stderr.contains("--no-browser"), "{cmd}: {}", out.stderr);
        assert!(
            out.stderr.contains("--client-credentials"),
            "{cmd}: {}",
            out.stderr
        );
        assert_eq!(out.stderr.lines().count(), 1, "{cmd}: {}", out.stderr);
    }
    // A browser that starts but never signs in: the wait ends after --timeout.
    let out = run(
        dir,
        &[
            "login",
            &env.mcp_url,
            "--credentials",
            &creds,
            "--timeout",
            "2",
        ],
        &[("BROWSER", "true")],
        Duration::from_secs(30),
    )
    .await;
    assert!(!out.ok);
    assert!(out.took < Duration::from_secs(15), "{:?}", out.took);
    assert!(out.stderr.contains("within 2 s"), "{}", out.stderr);
}

/// The scope asked for is the challenge's, not everything the metadata lists.
#[tokio::test]
async fn login_asks_for_the_scope_of_the_challenge() {
    let env = Env::start().await;
    let (mcp, _task) =
        challenging_resource(&env, &["mcp:tools", "mcp:admin"], Some("mcp:tools")).await;
    // The AS knows the resource: the client pushes its request (RFC 9126), which /par checks.
    let scopes = ["mcp:tools=Use tools", "mcp:admin=Administer"]
        .iter()
        .map(|s| mcp_oauth_server::admin::parse_scope_def(s).unwrap())
        .collect();
    mcp_oauth_server::admin::add_resource(env.store.as_ref(), &mcp, "Challenging", scopes, 0)
        .await
        .unwrap();
    let (browser, opened) = recording_browser(env.dir.path());
    let creds = env.dir.path().join("c.json").display().to_string();
    let dir = env.dir.path().to_path_buf();
    let creds_file = creds.clone();
    let login = tokio::spawn(async move {
        run(
            &dir,
            &["login", &mcp, "--credentials", &creds, "--timeout", "10"],
            &[("BROWSER", &browser)],
            MINUTE,
        )
        .await
    });
    let auth_url = url::Url::parse(&wait_for_file(&opened).await).unwrap();
    let has = |name: &str| auth_url.query_pairs().any(|(k, _)| k == name);
    assert!(
        has("request_uri") && !has("scope"),
        "pushed, by reference: {auth_url}"
    );
    // The person signs in; the token has the challenge's scope, not every scope supported.
    let location = sign_in(auth_url.as_str()).await;
    let _ = reqwest::get(&location).await;
    let out = login.await.unwrap();
    assert!(out.ok, "{}", out.stderr);
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(&creds_file).unwrap()).unwrap();
    assert!(
        stored.to_string().contains(r#""scope":"mcp:tools""#),
        "{stored}"
    );
}

/// Client commands list only their own options; server and admin commands keep theirs; a
/// renamed flag gets a hint.
#[tokio::test]
async fn help_shows_each_command_its_own_options() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in ["login", "token", "logout", "status", "tools", "call"] {
        let out = run(dir.path(), &[cmd, "--help"], &[], MINUTE).await;
        assert!(out.ok, "{cmd}");
        for server_only in ["--data-dir", "--database", "--config"] {
            assert!(!out.stdout.contains(server_only), "{cmd}: {}", out.stdout);
        }
    }
    for cmd in ["logout", "status"] {
        let out = run(dir.path(), &[cmd, "--help"], &[], MINUTE).await;
        assert!(
            !out.stdout.contains("--no-browser"),
            "{cmd}: {}",
            out.stdout
        );
        assert!(
            !out.stdout.contains("--client-credentials"),
            "{cmd}: {}",
            out.stdout
        );
    }
    for cmd in [&["serve", "--help"][..], &["users", "add", "--help"][..]] {
        let out = run(dir.path(), cmd, &[], MINUTE).await;
        assert!(out.stdout.contains("--data-dir"), "{cmd:?}: {}", out.stdout);
    }
    let out = run(dir.path(), &["serve", "--port", "8080"], &[], MINUTE).await;
    assert!(!out.ok);
    assert!(out.stderr.contains("--addr"), "{}", out.stderr);
}

/// Admin commands say which database they used, and do not create a new empty one unasked.
#[tokio::test]
async fn admin_commands_name_their_database_and_refuse_to_create_one_unasked() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["users", "list"], &[], MINUTE).await;
    assert!(!out.ok);
    assert!(out.stderr.contains("mcp-oauth-data"), "{}", out.stderr);
    assert!(out.stderr.contains("--data-dir"), "{}", out.stderr);
    assert!(
        !dir.path().join("mcp-oauth-data").exists(),
        "nothing was created"
    );

    let out = run(
        dir.path(),
        &["users", "list", "--data-dir", "state"],
        &[],
        MINUTE,
    )
    .await;
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stderr.contains("database: "), "{}", out.stderr);
    assert!(out.stderr.contains("mcp-oauth.db"), "{}", out.stderr);
    assert!(!out.stderr.contains("INFO"), "{}", out.stderr);
    // Now it exists: the default directory is used without a question.
    std::fs::rename(dir.path().join("state"), dir.path().join("mcp-oauth-data")).unwrap();
    let out = run(dir.path(), &["users", "list"], &[], MINUTE).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(out.stderr.contains("database: "), "{}", out.stderr);
}

/// `status` tells what is kept even when there is no token; `logout` says what it revoked at
/// which issuer.
#[tokio::test]
async fn status_and_logout_say_what_they_found() {
    let env = Env::start().await;
    let creds_path = env.dir.path().join("c.json");
    std::fs::write(
        &creds_path,
        json!({"version": 1, "tokens": [], "registrations": [{
            "issuer": env.base, "client_id": "kept-client",
            "token_endpoint_auth_method": "none", "redirect_uris": []}]})
        .to_string(),
    )
    .unwrap();
    let creds = creds_path.display().to_string();
    let dir = env.dir.path();
    let out = run(dir, &["status", "--credentials", &creds], &[], MINUTE).await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        !out.stdout.contains("No stored credentials"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("kept-client"), "{}", out.stdout);

    let secret = env.m2m_secret.clone();
    let envs = [("M2M_SECRET", secret.as_str())];
    let args = [&["token"][..], &m2m(&env.mcp_url, &creds)[..]].concat();
    assert!(run(dir, &args, &envs, MINUTE).await.ok);
    let out = run(
        dir,
        &[
            "logout",
            &env.mcp_url,
            "--client-id",
            M2M_CLIENT,
            "--client-secret-env",
            "M2M_SECRET",
            "--credentials",
            &creds,
        ],
        &envs,
        MINUTE,
    )
    .await;
    assert!(out.ok, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("Revoked the token for {}", env.mcp_url)),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!(" at {} and forgot it.", env.base)),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(" from "), "{}", out.stdout);
}

/// A person's token stored by `login` never answers a machine's `--client-credentials` request
/// (nor an entry of an old file without a grant).
#[tokio::test]
async fn a_machine_never_gets_the_token_of_a_person() {
    let env = Env::start().await;
    let creds_path = env.dir.path().join("c.json");
    let creds = creds_path.display().to_string();
    // Sign in as alice with --no-browser (the redirect pasted on stdin).
    let (out, _) =
        crate::login::login_pasting(
            &env.mcp_url,
            &creds,
            |url| async move { sign_in(&url).await },
        )
        .await;
    assert!(out.status.success());

    let secret = env.m2m_secret.clone();
    let envs = [("M2M_SECRET", secret.as_str())];
    let dir = env.dir.path();
    let args = [&["token"][..], &m2m(&env.mcp_url, &creds)[..]].concat();
    let out = run(dir, &args, &envs, MINUTE).await;
    assert!(out.ok, "{}", out.stderr);
    let c = claims(out.stdout.trim());
    assert_eq!(c["client_id"], M2M_CLIENT, "{c}");
    assert_eq!(c["sub"], M2M_CLIENT, "{c}");

    // The person's token is still there, beside the machine's.
    let out = run(
        dir,
        &["status", "--json", "--credentials", &creds],
        &[],
        MINUTE,
    )
    .await;
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let grants: Vec<&str> = v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["grant"].as_str().unwrap_or("-"))
        .collect();
    assert!(grants.contains(&"authorization_code"), "{v}");
    assert!(grants.contains(&"client_credentials"), "{v}");

    // An entry of an older file (no grant) for the machine's client is not handed out either.
    let mut file: Value =
        serde_json::from_str(&std::fs::read_to_string(&creds_path).unwrap()).unwrap();
    for t in file["tokens"].as_array_mut().unwrap() {
        t.as_object_mut().unwrap().remove("grant");
        t["access_token"] = json!("legacy.token.value");
        t["expires_at"] = json!(i64::MAX / 4);
    }
    std::fs::write(&creds_path, file.to_string()).unwrap();
    let out = run(dir, &args, &envs, MINUTE).await;
    assert!(out.ok, "{}", out.stderr);
    assert_ne!(out.stdout.trim(), "legacy.token.value");
    assert_eq!(claims(out.stdout.trim())["client_id"], M2M_CLIENT);
}
