//! A live identity provider: node-oidc-provider (pinned in `interop/idp`, started by
//! `interop/idp/guard-issuer.mjs` on 127.0.0.1:0) issuing RFC 9068 JWT access tokens for one
//! resource and opaque ones for another, with `mcp-oauth guard` in front of a real MCP server
//! (`serve --demo-public`, the demo without its own guard) and the rmcp client: JWTs verified
//! against the provider's keys, opaque tokens through its introspection endpoint (found in its
//! metadata), each refused by the other guard (audience). Skipped with a message without the
//! provider installed; failed instead when `MCP_OAUTH_REQUIRE_IDP` is set (as `.ci/run` does).

use crate::support::*;
use reqwest::StatusCode;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const JWT_RESOURCE: &str = "https://mcp.example.com/mcp";
const OPAQUE_RESOURCE: &str = "https://opaque.example.com/mcp";
const CLIENT: (&str, &str) = ("mcp-client", "mcp-client-secret-0123456789abcdef0123");
const GUARD_SECRET: &str = "guard-secret-0123456789abcdef0123456789";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// node-oidc-provider, killed by pid on drop.
struct Idp {
    child: Child,
    issuer: String,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The provider issuing JWTs for `jwt` and opaque tokens for `opaque`, or `None` (after saying
/// why) when it is not installed and not required.
fn start_idp(jwt: &str, opaque: &str) -> Option<Idp> {
    let node = repo().join("interop/browser/node_modules/node/bin/node");
    let lib = repo().join("interop/idp/node_modules/oidc-provider/package.json");
    let missing: Vec<String> = [&node, &lib]
        .into_iter()
        .filter(|p| !p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        let how = "npm ci --prefix interop/idp; npm ci --prefix interop/browser (Node 22)";
        assert!(
            std::env::var_os("MCP_OAUTH_REQUIRE_IDP").is_none(),
            "MCP_OAUTH_REQUIRE_IDP is set but {} missing ({how})",
            missing.join(", ")
        );
        eprintln!("SKIPPED live_idp: {} missing ({how})", missing.join(", "));
        return None;
    }
    let mut child = Command::new(node)
        .arg(repo().join("interop/idp/guard-issuer.mjs"))
        .env("GUARD_JWT_RESOURCE", jwt)
        .env("GUARD_OPAQUE_RESOURCE", opaque)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start node-oidc-provider");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let issuer = loop {
        let line = lines
            .next()
            .expect("node-oidc-provider exited before listening")
            .unwrap();
        if let Some(rest) = line.strip_prefix("guard issuer listening on ") {
            break rest.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Some(Idp { child, issuer })
}

async fn token(idp: &Idp, resource: &str, scope: &str) -> String {
    let r = reqwest::Client::new()
        .post(format!("{}/token", idp.issuer))
        .basic_auth(CLIENT.0, Some(CLIENT.1))
        .form(&[
            ("grant_type", "client_credentials"),
            ("resource", resource),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// The real MCP server: the demo without its own guard, as an unprotected server would be.
fn real_mcp_server(dir: &tempfile::TempDir) -> Proc {
    spawn(
        &[
            "serve",
            "--demo-public",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        "mcp-oauth listening on",
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The rmcp client lists the tools and calls `echo` through the guard at `mcp`.
async fn mcp_session(mcp: &str, token: &str) {
    let config = StreamableHttpClientTransportConfig::with_uri(mcp).auth_header(token);
    let client =
        ().serve(StreamableHttpClientTransport::from_config(config))
            .await
            .expect("connects through the guard");
    let tools = client.list_tools(None).await.unwrap();
    assert!(tools.tools.iter().any(|t| t.name == "echo"));
    let Value::Object(args) = json!({"message": "from the idp"}) else {
        unreachable!()
    };
    let r = client
        .call_tool(CallToolRequestParams::new("echo").with_arguments(args))
        .await
        .unwrap();
    let text = serde_json::to_value(&r).unwrap()["content"][0]["text"].clone();
    assert_eq!(text, "from the idp (echoed for anonymous)");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_oidc_provider_jwt_and_introspection() {
    let Some(idp) = start_idp(JWT_RESOURCE, OPAQUE_RESOURCE) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let upstream = real_mcp_server(&dir);
    let upstream_mcp = format!("{}/mcp", upstream.base);
    let jwt_guard = spawn(
        &[
            "guard",
            "--upstream",
            &upstream_mcp,
            "--resource",
            JWT_RESOURCE,
            "--issuer",
            &idp.issuer,
            "--addr",
            "127.0.0.1:0",
            "--insecure-http",
        ],
        "mcp-oauth guard listening on",
    );
    // The opaque guard finds the introspection endpoint in the provider's metadata; its secret
    // comes from the environment (this process's, inherited).
    let secret_file = dir.path().join("guard-secret");
    std::fs::write(&secret_file, format!("{GUARD_SECRET}\n")).unwrap();
    let opaque_guard = spawn(
        &[
            "guard",
            "--upstream",
            &upstream_mcp,
            "--resource",
            OPAQUE_RESOURCE,
            "--issuer",
            &idp.issuer,
            "--addr",
            "127.0.0.1:0",
            "--insecure-http",
            "--client-id",
            "guard",
            "--client-secret-file",
            secret_file.to_str().unwrap(),
        ],
        "mcp-oauth guard listening on",
    );
    let jwt_mcp = format!("{}/mcp", jwt_guard.base);
    let opaque_mcp = format!("{}/mcp", opaque_guard.base);

    let jwt = token(&idp, JWT_RESOURCE, "mcp:tools").await;
    assert_eq!(jwt.split('.').count(), 3, "a JWT access token");
    let opaque = token(&idp, OPAQUE_RESOURCE, "mcp:tools").await;
    assert_ne!(opaque.split('.').count(), 3, "an opaque access token");

    // The PRM names the provider.
    let prm = send(reqwest::Client::new().get(format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        opaque_guard.base
    )))
    .await;
    assert_eq!(prm.body["authorization_servers"], json!([idp.issuer]));

    mcp_session(&jwt_mcp, &jwt).await;
    mcp_session(&opaque_mcp, &opaque).await;

    // Each token is for its own resource only.
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    for (mcp, t) in [(&jwt_mcp, &opaque), (&opaque_mcp, &jwt)] {
        let r = send(post(mcp, Some(t), &list)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
        assert_eq!(r.challenge().error.as_deref(), Some("invalid_token"));
    }
    // An opaque token the provider never issued: introspection says inactive.
    let r = send(post(
        &opaque_mcp,
        Some("not-a-token-of-this-provider"),
        &list,
    ))
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.challenge().error_description.as_deref(),
        Some("the access token is not active")
    );
}

/// Our own client, as a user runs it: `mcp-oauth call URL echo --client-credentials`. It meets
/// the guard's 401, reads the guard's protected resource metadata, discovers node-oidc-provider
/// from it, gets a token for the guard's resource (RFC 8707) and calls the tool; once with a JWT
/// (verified by the guard) and once with an opaque token (introspected, the guard's secret from
/// the environment).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_discovers_the_provider_through_the_guard() {
    let (p, q) = (free_port(), free_port());
    let jwt_url = format!("http://127.0.0.1:{p}/mcp");
    let opaque_url = format!("http://127.0.0.1:{q}/mcp");
    let Some(idp) = start_idp(&jwt_url, &opaque_url) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let upstream = real_mcp_server(&dir);
    let upstream_mcp = format!("{}/mcp", upstream.base);
    let (jwt_addr, opaque_addr) = (format!("127.0.0.1:{p}"), format!("127.0.0.1:{q}"));
    let _jwt_guard = spawn(
        &[
            "guard",
            "--upstream",
            &upstream_mcp,
            "--resource",
            &jwt_url,
            "--issuer",
            &idp.issuer,
            "--addr",
            &jwt_addr,
            "--insecure-http",
        ],
        "mcp-oauth guard listening on",
    );
    let _opaque_guard = spawn_with_env(
        &[
            "guard",
            "--upstream",
            &upstream_mcp,
            "--resource",
            &opaque_url,
            "--issuer",
            &idp.issuer,
            "--addr",
            &opaque_addr,
            "--insecure-http",
            "--client-id",
            "guard",
            "--client-secret-env",
            "GUARD_SECRET",
        ],
        &[("GUARD_SECRET", GUARD_SECRET)],
        "mcp-oauth guard listening on",
    );
    for url in [&jwt_url, &opaque_url] {
        let out = Command::new(crate::bin::mcp_oauth())
            .args([
                "call",
                url,
                "echo",
                "--args",
                r#"{"message":"hello"}"#,
                "--client-credentials",
                "--client-id",
                CLIENT.0,
                "--client-secret-env",
                "MCP_CLIENT_SECRET",
                "--store",
                "memory",
            ])
            .env("MCP_CLIENT_SECRET", CLIENT.1)
            .env("MCP_OAUTH_LOG", "warn")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("hello (echoed for anonymous)"),
            "{url}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
