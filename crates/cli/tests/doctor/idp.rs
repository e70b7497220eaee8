//! node-oidc-provider (9.13.3, pinned in interop/idp) as the authorization server: our resource
//! guard trusts it, and doctor walks the chain to it (RFC 8414 and OpenID discovery, dynamic
//! registration, JWT access tokens bound to the resource by RFC 8707) and through its client
//! credentials grant.

use crate::doctor;
use axum::Router;
use axum::routing::post;
use mcp_oauth_resource::{JwtVerifier, PrmService, RequireBearerLayer, ScopePolicy, prm};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const REQUIRE: &str = "MCP_OAUTH_REQUIRE_IDP";
const SECRET: &str = "doctor-secret-0123456789abcdef0123456789";

fn idp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/idp")
}

fn node() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/browser/node_modules/node/bin/node")
}

/// Whether node-oidc-provider and Node 22 are installed; a loud skip otherwise, a failure when
/// `MCP_OAUTH_REQUIRE_IDP` or `CI` is set (`.ci/run` installs them).
fn available() -> bool {
    let missing: Vec<String> = [
        node(),
        idp_dir().join("node_modules/oidc-provider/package.json"),
    ]
    .into_iter()
    .filter(|p| !p.exists())
    .map(|p| p.display().to_string())
    .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "node-oidc-provider or Node 22 missing ({}): npm ci --prefix interop/idp; npm ci --prefix interop/browser",
        missing.join(", ")
    );
    assert!(
        std::env::var_os(REQUIRE).is_none() && std::env::var_os("CI").is_none(),
        "{msg}"
    );
    eprintln!("SKIPPED: {msg}");
    false
}

/// The provider's process, killed by its pid on drop.
struct Provider {
    child: Child,
    issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_provider(resource: &str) -> Provider {
    let mut child = Command::new(node())
        .arg(idp_dir().join("doctor-as.mjs"))
        .current_dir(idp_dir())
        .env("DOCTOR_RESOURCE", resource)
        .env("DOCTOR_CLIENT_SECRET", SECRET)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start node-oidc-provider");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let issuer = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(i) = line.strip_prefix("doctor-as listening on ") {
                    break i.trim().to_owned();
                }
            }
            _ => {
                let _ = child.kill();
                panic!("node-oidc-provider exited before listening");
            }
        }
    };
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Provider { child, issuer }
}

#[tokio::test]
async fn node_oidc_provider_as_the_authorization_server() {
    if !available() {
        return;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mcp = format!("http://{}/mcp", listener.local_addr().unwrap());
    let provider = start_provider(&mcp);
    let verifier = JwtVerifier::builder(provider.issuer.clone(), mcp.clone())
        .insecure_allow_http(true)
        .build()
        .unwrap();
    let policy = ScopePolicy::new().default_scopes("mcp:tools");
    let mut meta = prm::metadata(mcp.clone(), [provider.issuer.clone()]);
    meta.scopes_supported = Some(policy.scopes_supported());
    let guard = RequireBearerLayer::builder(mcp.clone(), verifier)
        .policy(policy)
        .build()
        .unwrap();
    let app: Router = Router::new()
        .route(
            "/mcp",
            post(|| async {
                axum::Json(serde_json::json!({"jsonrpc": "2.0", "id": 1, "result": {}}))
            }),
        )
        .layer(guard)
        .merge(PrmService::new(meta).unwrap().router());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let d = doctor(&mcp, &[], &[]).await;
    assert!(d.ok, "{:#}", d.report);
    d.expect("prm.authorization_servers", "pass", &provider.issuer);
    // node-oidc-provider 9 serves both RFC 8414 and OpenID discovery; the first is used.
    let fetched: Vec<&str> = d.report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] == "as.fetch" && c["status"] == "pass")
        .map(|c| c["summary"].as_str().unwrap())
        .collect();
    assert_eq!(fetched.len(), 2, "{fetched:?}");
    assert!(
        fetched[0].contains("/.well-known/oauth-authorization-server "),
        "{fetched:?}"
    );
    assert!(
        fetched[1].contains("/.well-known/openid-configuration "),
        "{fetched:?}"
    );
    d.expect("as.pkce", "pass", "S256");
    d.expect("as.registration", "pass", "dynamic registration");
    d.expect("client.discovery", "pass", &provider.issuer);
    // Its registration endpoint answers no CORS preflight: browser clients cannot register.
    d.expect(
        "cors.as.registration",
        "warn",
        "browser-based clients cannot call",
    );

    let d = doctor(
        &mcp,
        &[
            "--client-credentials",
            "--client-id",
            "doctor-bot",
            "--client-secret-env",
            "DOCTOR_SECRET",
            "--scope",
            "mcp:tools",
        ],
        &[("DOCTOR_SECRET", SECRET)],
    )
    .await;
    assert!(d.ok, "{:#}", d.report);
    d.expect("token.m2m", "pass", "issued a token");
    d.expect("token.audience", "pass", &mcp);
    d.expect("token.accepted", "pass", "accepts the token");
    d.expect("token.jwks", "pass", "doctor-es256");
    task.abort();
}
