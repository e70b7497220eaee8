//! `mcp-oauth doctor` as a process, against live servers on 127.0.0.1: our own (`serve --demo`,
//! with a stored login, a client credentials token, and a token for another resource),
//! node-oidc-provider as the authorization server (`idp.rs`), and small axum servers that each
//! make one of the mistakes doctor must name (`broken.rs`). Every process is stopped by its pid
//! when its handle drops.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/bin.rs"]
mod bin;
mod broken;
mod idp;
#[path = "../common/login.rs"]
mod login;
#[path = "../common/pages.rs"]
mod pages;
/// The `mcp-oauth` processes of the guard tests (`spawn`, `Proc`: killed by pid on drop).
#[path = "../guard_e2e/support.rs"]
mod support;

use serde_json::Value;
use std::process::Command;
pub use support::{Proc, spawn};

/// What one doctor run said.
pub struct Diagnosis {
    /// Exit status 0.
    pub ok: bool,
    /// The `--json` report.
    pub report: Value,
    /// stderr.
    pub stderr: String,
}

impl Diagnosis {
    /// The first check named `id`, or a panic listing the report.
    pub fn check(&self, id: &str) -> &Value {
        self.report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no check {id} in {:#}", self.report))
    }

    /// Asserts that check `id` has `status` and that its summary contains `text`.
    pub fn expect(&self, id: &str, status: &str, text: &str) {
        let c = self.check(id);
        assert_eq!(c["status"], status, "{id}: {c:#}\n{:#}", self.report);
        let summary = c["summary"].as_str().unwrap();
        assert!(summary.contains(text), "{id}: {summary:?} lacks {text:?}");
    }

    /// How many checks failed.
    pub fn failures(&self) -> u64 {
        self.report["summary"]["fail"].as_u64().unwrap()
    }
}

/// Runs `mcp-oauth doctor URL ARGS --json` with `env`, in memory (no stored credentials unless
/// ARGS name a file).
pub async fn doctor(url: &str, args: &[&str], env: &[(&str, &str)]) -> Diagnosis {
    let mut cmd = Command::new(bin::mcp_oauth());
    cmd.args(["doctor", url, "--json", "--request-timeout", "5"])
        .args(args)
        .env_remove("MCP_OAUTH_CREDENTIALS")
        .env("MCP_OAUTH_LOG", "warn");
    if !args.contains(&"--credentials") {
        cmd.args(["--store", "memory"]);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let report: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("doctor --json printed no JSON ({e}): {stdout}"));
    let d = Diagnosis {
        ok: out.status.success(),
        report,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert_eq!(
        d.ok,
        d.failures() == 0,
        "exit status follows the failures: {:#}",
        d.report
    );
    d
}

/// `serve --demo` in a fresh data directory, with a machine client `bot` (its secret) and a
/// second resource `…/other`.
pub struct Demo {
    pub proc: Proc,
    pub mcp: String,
    pub secret: String,
    pub dir: tempfile::TempDir,
}

impl Demo {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("data");
        let d = d.to_str().unwrap();
        let admin = |args: &[&str]| -> Value {
            let out = Command::new(bin::mcp_oauth())
                .args(args)
                .args(["--data-dir", d, "--json"])
                .env("MCP_OAUTH_LOG", "warn")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice(&out.stdout).unwrap()
        };
        // The demo's own seed needs the directory; `serve` creates it, so start once first.
        let proc = spawn(
            &["serve", "--demo", "--addr", "127.0.0.1:0", "--data-dir", d],
            "mcp-oauth listening on",
        );
        let secret = admin(&[
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
        ])["client_secret"]
            .as_str()
            .unwrap()
            .to_owned();
        admin(&[
            "resources",
            "add",
            &format!("{}/other", proc.base),
            "--name",
            "Other",
            "--scope",
            "mcp:tools",
        ]);
        let mcp = format!("{}/mcp", proc.base);
        Self {
            proc,
            mcp,
            secret,
            dir,
        }
    }

    /// A client credentials token of `bot` for `resource`.
    pub async fn token_for(&self, resource: &str) -> String {
        let http = reqwest::Client::new();
        support::token(
            &http,
            &self.proc.base,
            "bot",
            &self.secret,
            resource,
            "mcp:tools",
        )
        .await
    }
}

/// Our own server: every link right, the client library agrees, exit status 0; the text form
/// names each step.
#[tokio::test]
async fn our_server_is_all_right() {
    let demo = Demo::start();
    let d = doctor(&demo.mcp, &[], &[]).await;
    assert!(d.ok, "{:#}", d.report);
    assert_eq!(d.report["summary"]["warn"], 0, "{:#}", d.report);
    d.expect("challenge.status", "pass", "401");
    d.expect("challenge.scope", "pass", "mcp:tools");
    d.expect(
        "prm.fetch.inserted",
        "pass",
        "/.well-known/oauth-protected-resource/mcp",
    );
    d.expect("prm.fetch.root", "pass", "root");
    d.expect("prm.resource", "pass", &demo.mcp);
    d.expect("as.pkce", "pass", "S256");
    d.expect(
        "as.registration",
        "pass",
        "Client ID Metadata Documents or dynamic registration",
    );
    d.expect("cors.as.token", "pass", "allowed");
    d.expect("cors.mcp.challenge", "pass", "WWW-Authenticate");
    d.expect("clock", "pass", "the MCP server's clock is within");
    d.expect(
        "clock.as",
        "pass",
        "the authorization server's clock is within",
    );
    d.expect("token.source", "skip", "no token");
    d.expect("client.discovery", "pass", &demo.proc.base);

    let out = Command::new(bin::mcp_oauth())
        .args(["doctor", &demo.mcp, "--store", "memory"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    for heading in [
        "\nEndpoint\n",
        "\nChallenge\n",
        "\nResource metadata\n",
        "\nAuthorization server\n",
        "\nBrowser clients (CORS)\n",
        "\nToken\n",
        "\nClient\n",
    ] {
        assert!(text.contains(heading), "{heading:?} in {text}");
    }
    assert!(text.contains("rule: RFC 8414 §3.1"), "{text}");
    assert!(text.contains(" 0 failures, 1 skipped\n"), "{text}");

    // The URL typed with a trailing slash: another URL, and the fix is the canonical one.
    let d = doctor(&format!("{}/", demo.mcp), &[], &[]).await;
    assert!(!d.ok);
    d.expect("challenge.status", "fail", "not 401");
    d.expect("prm.resource", "fail", "trailing slash");
    let fix = d.check("prm.resource")["fix"].as_str().unwrap();
    assert_eq!(
        fix,
        format!(
            "connect to {:?}, the canonical URL, without the trailing slash",
            demo.mcp
        )
    );
}

/// The flags of the machine-to-machine path for the client `bot`, its secret in `BOT_SECRET`.
const AS_BOT: &[&str] = &[
    "--client-credentials",
    "--client-id",
    "bot",
    "--client-secret-env",
    "BOT_SECRET",
];

/// `--client-credentials`: the machine-to-machine path, then the token's checks. A token for
/// another resource is diagnosed as such, and the server is seen refusing it.
#[tokio::test]
async fn tokens_by_client_credentials_and_for_another_resource() {
    let demo = Demo::start();
    let d = doctor(&demo.mcp, AS_BOT, &[("BOT_SECRET", &demo.secret)]).await;
    assert!(d.ok, "{:#}", d.report);
    d.expect("token.m2m", "pass", "client credentials");
    d.expect("token.audience", "pass", &demo.mcp);
    d.expect("token.accepted", "pass", "accepts the token");
    d.expect("token.jwks", "pass", "holds the token's key");

    let other = demo.token_for(&format!("{}/other", demo.proc.base)).await;
    let d = doctor(&demo.mcp, &["--token", &other], &[]).await;
    assert!(!d.ok);
    assert_eq!(d.failures(), 1, "{:#}", d.report);
    d.expect("token.audience", "fail", "for another resource");
    d.expect(
        "token.accepted",
        "pass",
        "refuses a token for another resource",
    );
    let raw = serde_json::to_string(&d.report).unwrap();
    assert!(!raw.contains(&other), "the token is never printed");

    let d = doctor(&demo.mcp, AS_BOT, &[("BOT_SECRET", "wrong")]).await;
    assert!(!d.ok);
    d.expect("token.m2m", "fail", "client credentials grant failed");
}

/// After `mcp-oauth login` (as a process, signed in on the real pages), doctor checks the
/// stored token without being given one.
#[tokio::test]
async fn after_login_the_stored_token_is_checked() {
    let demo = Demo::start();
    let creds = demo.dir.path().join("credentials.json");
    let creds = creds.to_str().unwrap().to_owned();
    let (out, stderr) = login::login_pasting(&demo.mcp, &creds, |url| async move {
        pages::sign_in(&url, "demo", "demo").await
    })
    .await;
    assert!(out.status.success(), "{stderr}");

    let d = doctor(&demo.mcp, &["--credentials", &creds], &[]).await;
    assert!(d.ok, "{:#}", d.report);
    d.expect("token.source", "info", "mcp-oauth login");
    d.expect("token.audience", "pass", &demo.mcp);
    d.expect("token.accepted", "pass", "accepts the token");
}
