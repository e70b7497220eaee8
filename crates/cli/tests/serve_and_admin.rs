//! The `mcp-oauth` binary as a user runs it: `serve` on SQLite (plain and TLS), the admin
//! commands with `--json`, and configuration errors that name their key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/bin.rs"]
mod bin;
#[path = "common/pages.rs"]
mod pages;

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `serve`, killed (by pid) on drop.
struct Serve {
    child: Child,
    addr: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path, extra: &[&str], envs: &[(&str, &str)]) -> Serve {
    let mut cmd = Command::new(bin::mcp_oauth());
    cmd.arg("serve")
        .arg("--addr")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data)
        .args(extra)
        .env_remove("MCP_OAUTH_KEK")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("mcp-oauth listening on ") {
                let _ = tx.send(rest.to_owned());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("serve printed its address");
    Serve { child, addr }
}

fn cli(data: &Path, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(bin::mcp_oauth())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("MCP_OAUTH_KEK")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(data: &Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let (ok, out, err) = cli(data, &a, None);
    assert!(ok, "{args:?}: {err}{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {out}"))
}

#[tokio::test]
async fn serve_dev_answers_metadata_and_keeps_state_private() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let s = serve(&data, &["--dev"], &[]);
    let m: Value = reqwest::get(format!("{}/.well-known/oauth-authorization-server", s.addr))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["issuer"], s.addr);
    assert_eq!(
        m["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700, "the data dir is created private");
        assert_eq!(mode(&data.join("kek")), 0o600);
        assert_eq!(mode(&data.join("mcp-oauth.db")), 0o600);
    }
    let dir = &data;
    // The demo data exists.
    let users = json(dir, &["users", "list"]);
    assert_eq!(users[0]["username"], "demo");
    let clients = json(dir, &["clients", "list"]);
    assert!(
        clients
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["client_id"] == "demo-client" && c["origin"] == "admin")
    );
}

#[tokio::test]
async fn admin_commands_and_client_credentials_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = serve(d, &[], &[]);
    let resource = format!("{}/mcp", s.addr);
    let r = json(
        d,
        &[
            "resources",
            "add",
            &resource,
            "--name",
            "Files",
            "--scope",
            "files:read=Read files",
            "--scope",
            "files:write",
        ],
    );
    assert_eq!(r["scopes"][1]["description"], "files:write");
    let (ok, out, _) = cli(
        d,
        &["users", "add", "carol", "--password-stdin", "--json"],
        Some("s3cret-pw\n"),
    );
    assert!(ok, "{out}");
    let c = json(
        d,
        &[
            "clients",
            "add",
            "--name",
            "Bot",
            "--grant",
            "client_credentials",
            "--scope",
            "files:read",
        ],
    );
    let id = c["client_id"].as_str().unwrap().to_owned();
    let secret = c["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(c["origin"], "admin");
    // The running server sees the new client at once.
    let http = reqwest::Client::new();
    let t: Value = http
        .post(format!("{}/token", s.addr))
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("resource", &resource),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(t["scope"], "files:read", "{t}");
    let shown = json(d, &["clients", "show", &id]);
    assert!(
        shown.get("client_secret").is_none(),
        "a secret is never shown again"
    );
    assert!(
        shown["last_used_at"].as_i64().is_some(),
        "last use recorded"
    );
    let rotated = json(d, &["clients", "rotate-secret", &id]);
    let rotated_at = std::time::Instant::now();
    assert_ne!(rotated["client_secret"], secret);
    let token_status = |secret: String| {
        let (http, url, id, resource) = (&http, format!("{}/token", s.addr), &id, &resource);
        async move {
            http.post(url)
                .basic_auth(id, Some(secret))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("resource", resource.as_str()),
                ])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // The running server keeps client records for `record_cache_ttl_ms` (1 s by default): a change
    // made by another process, as here, applies within that time.
    loop {
        let status = token_status(secret.clone()).await;
        if status == 401 {
            break;
        }
        assert_eq!(status, 200);
        assert!(
            rotated_at.elapsed() < std::time::Duration::from_secs(3),
            "the old secret still works 3 s after the rotation"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(token_status(new_secret).await, 200, "the new secret works");
    let keys = json(d, &["keys", "list"]);
    assert_eq!(keys.as_array().unwrap().len(), 1);
    let k = json(d, &["keys", "rotate", "--prepublish", "0"]);
    assert!(k["kid"].as_str().is_some());
    assert_eq!(json(d, &["keys", "list"]).as_array().unwrap().len(), 2);
    json(d, &["clients", "remove", &id]);
    let (ok, _, err) = cli(d, &["clients", "remove", &id], None);
    assert!(!ok && err.contains("not found"), "{err}");
    json(d, &["users", "remove", "carol"]);
    json(d, &["resources", "remove", &resource]);
    // Bad input is refused with a reason.
    let (ok, _, err) = cli(
        d,
        &[
            "clients",
            "add",
            "--name",
            "X",
            "--redirect-uri",
            "http://evil.example/cb",
        ],
        None,
    );
    assert!(!ok && err.contains("redirect URI"), "{err}");
    let (ok, _, err) = cli(d, &["resources", "add", "not a uri", "--name", "X"], None);
    assert!(!ok && err.contains("resource URI"), "{err}");
    let (ok, _, err) = cli(
        d,
        &["users", "add", "bad name", "--password-stdin"],
        Some("x\n"),
    );
    assert!(!ok && err.contains("username"), "{err}");
}

#[test]
fn configuration_errors_name_their_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cfg = d.join("bad.toml");
    std::fs::write(&cfg, "acces_token_ttl = 5\n").unwrap();
    let (ok, _, err) = cli(
        d,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "serve",
            "--addr",
            "127.0.0.1:0",
        ],
        None,
    );
    assert!(!ok && err.contains("acces_token_ttl"), "{err}");
    let out = Command::new(bin::mcp_oauth())
        .args([
            "--data-dir",
            d.to_str().unwrap(),
            "serve",
            "--addr",
            "127.0.0.1:0",
        ])
        .env("MCP_OAUTH_ACCESS_TOKEN_TTL", "soon")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("MCP_OAUTH_ACCESS_TOKEN_TTL"),
        "{err}"
    );
    let (ok, _, err) = cli(
        d,
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--issuer",
            "http://auth.example.com",
        ],
        None,
    );
    assert!(
        !ok && err.contains("issuer"),
        "non-loopback http issuer refused: {err}"
    );
    let (ok, _, err) = cli(
        d,
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--issuer",
            "https://auth.example.com/?x=1",
        ],
        None,
    );
    assert!(!ok && err.contains("issuer"), "{err}");
    // Redis: a bad URL, timeout or prefix is named, and a password in the URL never printed.
    let (ok, _, err) = cli(
        d,
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--redis",
            "http://cache.internal",
        ],
        None,
    );
    assert!(!ok && err.contains("redis_url"), "{err}");
    let (ok, _, err) = cli(
        d,
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--redis",
            "redis://app:s3cret@",
        ],
        None,
    );
    assert!(
        !ok && err.contains("redis_url") && !err.contains("s3cret"),
        "{err}"
    );
    // A CA file is for TLS, and one that cannot be read is named with its path.
    let (ok, _, err) = cli(
        d,
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--redis",
            "redis://127.0.0.1:6379",
            "--redis-ca-file",
            "/nonexistent/ca.pem",
        ],
        None,
    );
    assert!(!ok && err.contains("redis_ca_file"), "{err}");
    let (ok, _, err) = cli(
        d,
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--redis",
            "rediss://127.0.0.1:6379",
            "--redis-ca-file",
            "/nonexistent/ca.pem",
        ],
        None,
    );
    assert!(
        !ok && err.contains("redis_ca_file") && err.contains("/nonexistent/ca.pem"),
        "{err}"
    );
    let out = Command::new(bin::mcp_oauth())
        .args([
            "--data-dir",
            d.to_str().unwrap(),
            "serve",
            "--addr",
            "127.0.0.1:0",
        ])
        .env("MCP_OAUTH_REDIS_URL", "redis://127.0.0.1:6379")
        .env("MCP_OAUTH_REDIS_TIMEOUT_MS", "0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("redis_timeout_ms"),
        "{err}"
    );
}

/// Sends one command to the Redis at 127.0.0.1:6379 over RESP; `None` when none answers.
fn redis_command(args: &[&str]) -> Option<String> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:6379".parse().unwrap(),
        Duration::from_millis(500),
    )
    .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    let mut cmd = format!("*{}\r\n", args.len());
    for a in args {
        cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(cmd.as_bytes()).ok()?;
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[tokio::test]
async fn serve_with_redis_counts_there() {
    if redis_command(&["PING"]).is_none_or(|r| !r.starts_with("+PONG")) {
        assert!(
            std::env::var_os("MCP_OAUTH_REQUIRE_REDIS").is_none(),
            "Redis is required (MCP_OAUTH_REQUIRE_REDIS) but none answers at 127.0.0.1:6379"
        );
        eprintln!("\n!!!!! skipped: no Redis at 127.0.0.1:6379 !!!!!\n");
        return;
    }
    let prefix = format!("mcp-oauth-cli-test:{}:", std::process::id());
    let tmp = tempfile::tempdir().unwrap();
    let s = serve(
        &tmp.path().join("data"),
        &["--dev", "--redis", "redis://127.0.0.1:6379"],
        &[("MCP_OAUTH_REDIS_KEY_PREFIX", &prefix)],
    );
    let http = reqwest::Client::new();
    // A token request passes the per-address budget, counted on Redis.
    let r = http
        .post(format!("{}/token", s.addr))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
    let metrics = http
        .get(format!("{}/metrics", s.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("mcp_oauth_redis_up 1"), "{metrics}");
    let mark = format!("{prefix}jti-epoch");
    assert_eq!(
        redis_command(&["EXISTS", &mark]).as_deref(),
        Some(":1\r\n"),
        "the epoch mark"
    );
    drop(s);
    let _ = redis_command(&["DEL", &mark]);
}

#[tokio::test]
async fn serve_https_with_tls_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(d.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(d.join("key.pem"), key.serialize_pem()).unwrap();
    let s = serve(
        &d.join("data"),
        &[
            "--tls-cert",
            d.join("cert.pem").to_str().unwrap(),
            "--tls-key",
            d.join("key.pem").to_str().unwrap(),
        ],
        &[],
    );
    assert!(s.addr.starts_with("https://127.0.0.1:"), "{}", s.addr);
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let m: Value = loop {
        match http
            .get(format!("{}/.well-known/oauth-authorization-server", s.addr))
            .send()
            .await
        {
            Ok(r) => break r.json().await.unwrap(),
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("https request failed: {e}"),
        }
    };
    assert_eq!(m["issuer"], s.addr);
    assert!(
        m["token_endpoint"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
}

/// Runs `serve` expecting it to refuse to start; returns what it printed on stderr. A server
/// that starts anyway is stopped (by its pid) and the test fails.
fn serve_refused(data: &Path, args: &[&str]) -> String {
    let mut child = Command::new(bin::mcp_oauth())
        .arg("--data-dir")
        .arg(data)
        .arg("serve")
        .args(args)
        .env_remove("MCP_OAUTH_KEK")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success(), "{args:?} must not start");
            break;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} started a server");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    err
}

#[test]
fn dev_refuses_the_demo_account_off_loopback_and_on_https() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Checked before anything is bound: 0.0.0.0 is never listened on here.
    let err = serve_refused(
        &data,
        &[
            "--dev",
            "--addr",
            "0.0.0.0:0",
            "--issuer",
            "http://127.0.0.1:9",
        ],
    );
    assert!(
        err.contains("loopback") && err.contains("demo/demo"),
        "{err}"
    );
    let err = serve_refused(
        &data,
        &[
            "--dev",
            "--addr",
            "127.0.0.1:0",
            "--issuer",
            "https://auth.example",
        ],
    );
    assert!(err.contains("https") && err.contains("demo/demo"), "{err}");
    let err = serve_refused(
        &data,
        &[
            "--demo",
            "--addr",
            "127.0.0.1:0",
            "--issuer",
            "https://auth.example",
        ],
    );
    assert!(err.contains("demo/demo"), "--demo implies --dev: {err}");
    let users = json(&data, &["users", "list"]);
    assert_eq!(users, serde_json::json!([]), "no demo account was created");
}

#[test]
fn roles_restrictions_and_resource_servers_from_the_command_line() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let res = "https://mcp.example/mcp";
    let r = json(
        d,
        &[
            "resources",
            "add",
            res,
            "--name",
            "MCP",
            "--scope",
            "mcp:tools",
            "--scope",
            "mcp:admin=Administer",
            "--restrict",
            "mcp:admin=admin",
        ],
    );
    assert_eq!(r["scopes"][1]["roles"], serde_json::json!(["admin"]));
    assert!(r["scopes"][0].get("roles").is_none(), "open scope: {r}");
    let (ok, _, err) = cli(
        d,
        &[
            "resources",
            "add",
            res,
            "--name",
            "MCP",
            "--scope",
            "mcp:tools",
            "--restrict",
            "nope=admin",
        ],
        None,
    );
    assert!(!ok && err.contains("nope"), "{err}");
    let r = json(
        d,
        &[
            "resources",
            "update",
            res,
            "--restrict",
            "mcp:tools=ops",
            "--unrestrict",
            "mcp:admin",
        ],
    );
    assert_eq!(r["scopes"][0]["roles"], serde_json::json!(["ops"]));
    assert!(r["scopes"][1].get("roles").is_none(), "{r}");

    let (ok, out, err) = cli(
        d,
        &[
            "users",
            "add",
            "ann",
            "--password-stdin",
            "--role",
            "admin",
            "--role",
            "ops",
            "--json",
        ],
        Some("pw-of-ann\n"),
    );
    assert!(ok, "{err}");
    let ann: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ann["roles"], serde_json::json!(["admin", "ops"]));
    let changed = json(
        d,
        &["users", "role", "ann", "--remove", "ops", "--add", "audit"],
    );
    assert_eq!(changed["roles"], serde_json::json!(["admin", "audit"]));
    let listed = json(d, &["users", "list"]);
    assert_eq!(listed[0]["roles"], serde_json::json!(["admin", "audit"]));
    let (ok, _, err) = cli(d, &["users", "role", "nobody", "--add", "admin"], None);
    assert!(!ok && err.contains("nobody"), "{err}");
    let (ok, _, err) = cli(d, &["users", "role", "ann", "--add", "bad role"], None);
    assert!(!ok && err.contains("role"), "{err}");

    let rs = json(
        d,
        &[
            "clients",
            "add",
            "--name",
            "RS",
            "--introspect",
            "--resource",
            res,
        ],
    );
    assert_eq!(rs["introspect_resources"], serde_json::json!([res]));
    assert_eq!(rs["grant_types"], serde_json::json!([]), "only introspects");
    assert!(rs["client_secret"].is_string());
    let (ok, _, err) = cli(
        d,
        &[
            "clients",
            "add",
            "--name",
            "RS",
            "--introspect",
            "--resource",
            "https://unknown.example/mcp",
        ],
        None,
    );
    assert!(!ok && err.contains("not registered"), "{err}");
    // The MCP server's own client for token exchange (federated login, RFC 8693).
    let te = "urn:ietf:params:oauth:grant-type:token-exchange";
    let mcp = json(
        d,
        &[
            "clients",
            "add",
            "--name",
            "MCP",
            "--grant",
            te,
            "--resource",
            res,
        ],
    );
    assert_eq!(mcp["grant_types"], serde_json::json!([te]));
    assert_eq!(mcp["introspect_resources"], serde_json::json!([res]));
    let (ok, _, err) = cli(d, &["clients", "add", "--name", "X", "--grant", te], None);
    assert!(!ok && err.contains("--resource"), "{err}");
    let (ok, _, err) = cli(
        d,
        &["clients", "add", "--name", "X", "--resource", res],
        None,
    );
    assert!(!ok && err.contains("--introspect"), "{err}");
}

#[tokio::test]
async fn dev_tour_ends_on_the_callback_page_whose_command_redeems_the_code() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let s = serve(&data, &["--dev"], &[]);
    let issuer = &s.addr;
    let callback = format!("{issuer}/dev/callback");
    // The tour's URL, as `serve --dev` prints it.
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", "demo-client"),
        ("redirect_uri", callback.as_str()),
        ("scope", "mcp:tools"),
        ("resource", format!("{issuer}/mcp").as_str()),
        ("state", "xyz"),
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    let location = pages::sign_in(&format!("{issuer}/authorize?{query}"), "demo", "demo").await;
    let browser = pages::browser();
    assert!(
        location.starts_with(&format!("{callback}?code=")),
        "{location}"
    );

    // The browser lands on the page.
    let page = browser.get(&location).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers().clone();
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert!(
        !h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src")
    );
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    let body = page.text().await.unwrap();
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    assert!(body.contains(&code), "the page shows the code");
    assert!(body.contains("<code>xyz</code>"), "and the state");
    assert!(
        body.contains("is this server's issuer (RFC 9207)"),
        "and that iss matches"
    );

    // Its command, run as a user pastes it, redeems the code.
    let command = pages::between(&body, "<pre>", "</pre>");
    assert!(command.starts_with("curl "), "{command}");
    let out = Command::new("sh").arg("-c").arg(&command).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tokens: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(tokens["token_type"], "Bearer", "{tokens}");
    assert!(tokens["access_token"].is_string());
    assert_eq!(tokens["scope"], "mcp:tools");

    // Whatever the query holds is escaped, and a foreign issuer is called out.
    let hostile = browser
        .get(format!(
            "{callback}?code=%3Cscript%3Ealert(1)%3C/script%3E&state=%27%22%3E&iss=https://evil.example"
        ))
        .send()
        .await
        .unwrap();
    let body = hostile.text().await.unwrap();
    assert!(!body.contains("<script>alert(1)"), "{body}");
    assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(body.contains("is not this server's issuer"));
    // In the command the value is one shell word, quoted.
    assert!(
        pages::between(&body, "<pre>", "</pre>").contains("code='<script>alert(1)</script>'"),
        "{body}"
    );
    let error = browser
        .get(format!(
            "{callback}?error=access_denied&state=xyz&iss={issuer}"
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(error.contains("Authorization refused") && error.contains("access_denied"));
    drop(s);

    // Without --dev there is no such page.
    let plain = serve(&tmp.path().join("plain"), &[], &[]);
    let r = reqwest::get(format!("{}/dev/callback?code=x", plain.addr))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}
