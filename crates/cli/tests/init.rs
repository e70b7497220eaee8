//! `mcp-oauth init`: each template generated as a user would, then used for real. The server
//! template is built and its own test run against this workspace's crates (by path, sharing this
//! build's target directory and lock file, so only what differs is compiled); the guard
//! template's settings and policy start `mcp-oauth guard`, which answers with the challenge.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/bin.rs"]
mod bin;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The target directory this test binary was built in (`<target>/debug/mcp-oauth`).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_mcp-oauth"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf()
}

fn init(args: &[&str]) -> std::process::Output {
    Command::new(bin::mcp_oauth())
        .arg("init")
        .args(args)
        .env("MCP_OAUTH_LOG", "warn")
        .output()
        .unwrap()
}

/// `KEY=VALUE` lines of an env file (comments and blank lines skipped).
fn env_file(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[test]
fn the_server_template_builds_and_passes_its_test() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("notes-server");
    let crates = workspace().join("crates");
    let out = init(&[
        project.to_str().unwrap(),
        "--crates-path",
        crates.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "Cargo.toml",
        "README.md",
        ".env.example",
        ".gitignore",
        "src/lib.rs",
        "src/main.rs",
        "tests/protected.rs",
    ] {
        assert!(project.join(f).is_file(), "{f}");
    }
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"notes-server\""), "{manifest}");
    assert!(
        manifest.contains(&format!("path = \"{}\"", crates.join("resource").display())),
        "{manifest}"
    );

    // Every variable the server reads is explained in .env.example, and nothing else is there.
    let code = std::fs::read_to_string(project.join("src/lib.rs")).unwrap();
    let env = env_file(&project.join(".env.example"));
    let documented: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    let read: Vec<&str> = code
        .match_indices("var(\"MCP_")
        .map(|(i, _)| {
            let rest = &code[i + 5..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert!(!read.is_empty());
    let mut a = read.clone();
    let mut b = documented.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "variables read vs documented");
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    assert!(
        readme.contains("mcp-oauth serve --dev\nmcp-oauth resources add http://127.0.0.1:3000/mcp"),
        "{readme}"
    );
    assert!(readme.contains("\ncargo run\n"), "{readme}");

    // This workspace's lock: the same versions as this build, so its artifacts are reused.
    std::fs::copy(workspace().join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    // The outer build's variables go (the nested build is another package); then the shared
    // target directory.
    for (k, _) in std::env::vars() {
        if k.starts_with("CARGO_") && !matches!(k.as_str(), "CARGO_HOME" | "CARGO_NET_OFFLINE") {
            cmd.env_remove(k);
        }
    }
    cmd.args(["test", "--tests", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir())
        .current_dir(&project);
    let started = Instant::now();
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    eprintln!("{stderr}");
    assert!(
        stdout.contains("test challenges_without_a_token_and_serves_with_one ... ok"),
        "{stdout}"
    );
    eprintln!(
        "the generated server built and tested in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn the_guard_template_runs_the_guard() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("guarded");
    let out = init(&[project.to_str().unwrap(), "--template", "guard"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let policy = std::fs::read_to_string(project.join("policy.toml")).unwrap();
    let parsed: mcp_oauth_resource::ScopePolicy = toml::from_str(&policy).unwrap();
    assert!(parsed.validate().is_ok());
    let unit = std::fs::read_to_string(project.join("mcp-oauth-guard.service")).unwrap();
    assert!(
        unit.contains("EnvironmentFile=/etc/mcp-oauth-guard/.env"),
        "{unit}"
    );
    assert!(
        unit.contains("ExecStart=/usr/local/bin/mcp-oauth guard\n"),
        "{unit}"
    );
    let compose = std::fs::read_to_string(project.join("compose.yaml")).unwrap();
    assert!(
        compose.contains("command: [\"guard\"]") && compose.contains("env_file: .env"),
        "{compose}"
    );
    assert!(
        !std::fs::read_to_string(project.join("README.md"))
            .unwrap()
            .contains("{{")
    );

    // The guard reads its issuer's metadata and keys before it listens, so a real authorization
    // server stands in for the example's issuer.
    let data = tempfile::tempdir().unwrap();
    let (issuer_proc, issuer) = started(
        Command::new(bin::mcp_oauth()).args([
            "serve",
            "--dev",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            data.path().to_str().unwrap(),
        ]),
        "mcp-oauth listening on ",
    );

    // The settings as written (except where to listen and the issuer), the policy file next to
    // them.
    let mut child = Command::new(bin::mcp_oauth());
    child
        .args(["guard", "--insecure-http"])
        .current_dir(&project)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env_file(&project.join(".env.example")) {
        child.env(k, v);
    }
    child.env("MCP_OAUTH_GUARD_ADDR", "127.0.0.1:0");
    child.env("MCP_OAUTH_GUARD_ISSUER", &issuer);
    let (guard, base) = started(&mut child, "mcp-oauth guard listening on ");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (status, challenge) = rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{base}/mcp"))
            .header("content-type", "application/json")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#)
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            r.headers()["www-authenticate"].to_str().unwrap().to_owned(),
        )
    });
    drop(guard);
    drop(issuer_proc);
    assert_eq!(status, 401);
    assert!(challenge.contains("scope=\"mcp:tools\""), "{challenge}");
    assert!(
        challenge.contains(
            "resource_metadata=\"http://127.0.0.1:8090/.well-known/oauth-protected-resource/mcp\""
        ),
        "{challenge}"
    );
}

#[test]
fn init_refuses_a_used_directory_and_a_bad_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
    let out = init(&[dir.path().to_str().unwrap(), "--name", "x"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "nothing written");

    let bad = dir.path().join("2 bad");
    let out = init(&[bad.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--name"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!bad.exists());
    let out = init(&[
        bad.to_str().unwrap(),
        "--name",
        "good",
        "--crates-path",
        dir.path().to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no resource/Cargo.toml"));
    assert!(!bad.exists());
}

/// A process that is killed (and waited for) when dropped, also when the test panics.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` and waits for its stdout line starting with `prefix`; returns the process
/// and the rest of that line (its URL). The remaining output is drained on a thread.
fn started(command: &mut Command, prefix: &str) -> (Kill, String) {
    let mut child = command
        .env("MCP_OAUTH_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let process = Kill(child);
    let url = loop {
        let line = lines
            .next()
            .expect("the process exited before listening")
            .unwrap();
        if let Some(rest) = line.strip_prefix(prefix) {
            break rest.trim().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines.by_ref() {});
    (process, url)
}
