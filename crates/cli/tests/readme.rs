//! The README's shell blocks, run as printed against a live `serve --dev --demo`.
//!
//! Each ```` ```bash ```` block of README.md runs in `bash -euo pipefail` in the server's working
//! directory (so `./mcp-oauth-data` is the server's), with `127.0.0.1:8080` rewritten to the
//! server's address, `127.0.0.1:8090` to a free port, and `cargo run --release -p mcp-oauth --` and
//! a bare `mcp-oauth` to the binary under test. Variables a block assigns (`NAME=…` at the start
//! of a line) are kept for the blocks after it. The browser step of `mcp-oauth login` is driven:
//! `$BROWSER` records the URL, and the test signs in as `demo` on the real login and consent pages
//! and follows the redirect to the loopback listener.
//!
//! A comment on the line before a block says how to treat it:
//! `<!-- readme-test: skip (reason) -->` (not run: the reason is printed),
//! `<!-- readme-test: server -->` (starts the server: the test's own server stands in for it),
//! `<!-- readme-test: background -->` (a server that runs until stopped: started, checked to be
//! still running after two seconds, stopped at the end),
//! `<!-- readme-test: browser NAME -->` (the tour's browser step first: the test opens the
//! authorization URL the server printed, signs in as `demo`, approves, lands on the server's
//! callback page and runs the block with the code that page shows in `$NAME`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/pages.rs"]
mod pages;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mcp-oauth");

#[derive(Debug, Clone, PartialEq)]
enum Mode {
    Run,
    Skip(String),
    Server,
    Background,
    /// Runs after the browser step of the tour, with the code it got in the named variable.
    Browser(String),
}

#[derive(Debug)]
struct Block {
    line: usize,
    code: String,
    mode: Mode,
}

/// The bash blocks of `readme` with the mode their marker gives them.
fn blocks(readme: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut last_text = "";
    let mut lines = readme.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let t = line.trim();
        if t.starts_with("```") {
            let lang = t.trim_start_matches('`').trim();
            let mut code = String::new();
            for (_, l) in lines.by_ref() {
                if l.trim().starts_with("```") {
                    break;
                }
                code.push_str(l);
                code.push('\n');
            }
            if lang == "bash" || lang == "sh" {
                let mode = match last_text
                    .strip_prefix("<!-- readme-test:")
                    .and_then(|m| m.strip_suffix("-->"))
                    .map(str::trim)
                {
                    None => Mode::Run,
                    Some("server") => Mode::Server,
                    Some("background") => Mode::Background,
                    Some(m) if m.starts_with("browser ") => {
                        Mode::Browser(m.trim_start_matches("browser ").trim().to_owned())
                    }
                    Some(m) if m.starts_with("skip") => {
                        Mode::Skip(m.trim_start_matches("skip").trim().to_owned())
                    }
                    Some(other) => panic!("README line {i}: unknown marker {other:?}"),
                };
                out.push(Block {
                    line: i + 1,
                    code,
                    mode,
                });
            }
            last_text = "";
        } else if !t.is_empty() {
            last_text = t;
        }
    }
    out
}

/// Rewrites a block for this test: addresses and the binary.
fn rewrite(code: &str, addr: &str, guard_addr: &str) -> String {
    let code = code
        .replace("cargo run --release -p mcp-oauth --", BIN)
        .replace("127.0.0.1:8080", addr)
        .replace("127.0.0.1:8090", guard_addr);
    // A bare `mcp-oauth` command word (not `mcp-oauth-data`, not a path or a name in a string).
    let mut out = String::new();
    let bytes: Vec<char> = code.chars().collect();
    let word: Vec<char> = "mcp-oauth".chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let starts = bytes[i..].starts_with(&word);
        let before_ok = i == 0 || matches!(bytes[i - 1], ' ' | '\n' | '(' | '|' | ';' | '&');
        let after = bytes.get(i + word.len()).copied();
        if starts && before_ok && matches!(after, Some(' ' | '\n') | None) {
            out.push_str(BIN);
            i += word.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// The names a block assigns at the start of a line (`NAME=…`), kept for later blocks.
fn assigned(code: &str) -> Vec<String> {
    code.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let name: String = l
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            (!name.is_empty() && l[name.len()..].starts_with('=')).then_some(name)
        })
        .collect()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // The whole process group this test started (bash and what it ran), by its pid.
        let pid = self.0.id();
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn bash(script: &str, cwd: &Path, envs: &[(String, String)]) -> Command {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(script)
        .current_dir(cwd)
        .env_remove("MCP_OAUTH_DATA_DIR")
        .env_remove("MCP_OAUTH_DATABASE")
        .env_remove("MCP_OAUTH_CONFIG")
        .env_remove("MCP_OAUTH_LOG")
        .stdin(Stdio::null())
        .process_group(0);
    for (k, v) in envs {
        c.env(k, v);
    }
    c
}

/// The person at the browser for `mcp-oauth login`: signs in as demo/demo, approves, and follows
/// the redirect to the command's loopback listener.
async fn browse(authorization_url: &str) {
    let location = pages::sign_in(authorization_url, "demo", "demo").await;
    let page = reqwest::get(&location).await.unwrap().text().await.unwrap();
    assert!(page.contains("Authorization complete"), "{page}");
}

/// The person at the browser for the tour: opens the authorization URL `serve --dev` printed,
/// signs in as demo/demo, approves, lands on the server's callback page and copies the code it
/// shows.
async fn tour_code(authorization_url: &str) -> String {
    let location = pages::sign_in(authorization_url, "demo", "demo").await;
    let code = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap_or_else(|| panic!("no code in {location}"))
        .1
        .into_owned();
    let page = pages::browser()
        .get(&location)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&code),
        "the callback page shows the code: {page}"
    );
    code
}

/// Watches the file `$BROWSER` appends URLs to and signs in at each new one.
fn drive_browser(opened: PathBuf, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut seen = 0;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let urls: Vec<String> = std::fs::read_to_string(&opened)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect();
        for u in urls.iter().skip(seen) {
            rt.block_on(browse(u));
        }
        seen = urls.len();
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The authorization URL of the tour, as `serve --dev` printed it (waits up to 10 s for it).
fn printed_authorization_url(printed: &std::sync::Mutex<Vec<String>>) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(url) = printed
            .lock()
            .unwrap()
            .iter()
            .map(|l| l.trim())
            .find(|l| l.starts_with("http") && l.contains("/authorize?"))
        {
            return url.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "serve --dev printed no authorization URL: {:?}",
            printed.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_readme_block_runs_as_printed() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let blocks = blocks(&readme);
    assert!(blocks.len() >= 8, "README blocks found: {}", blocks.len());

    let work = tempfile::tempdir().unwrap();
    let cwd = work.path().to_path_buf();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let guard_addr = format!("127.0.0.1:{}", free_port());

    // The server the README starts in "another terminal", in the README's working directory.
    let mut server = Command::new(BIN);
    server
        .args(["serve", "--dev", "--demo", "--addr", &addr])
        .current_dir(&cwd)
        .env_remove("MCP_OAUTH_DATA_DIR")
        .env("MCP_OAUTH_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut server = Proc(server.spawn().unwrap());
    let stdout = server.0.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let printed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        let listening = line.starts_with("mcp-oauth listening on");
        printed.lock().unwrap().push(line);
        if listening {
            break;
        }
    }
    {
        let printed = printed.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                printed.lock().unwrap().push(line);
            }
        });
    }

    // $BROWSER: records each URL; a thread plays the person at the browser.
    let opened = cwd.join("browser-urls");
    let hook = cwd.join("browser.sh");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
            opened.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let driver = {
        let (opened, stop) = (opened.clone(), stop.clone());
        std::thread::spawn(move || drive_browser(opened, stop))
    };

    let envs = vec![
        ("BROWSER".to_owned(), hook.display().to_string()),
        (
            "MCP_OAUTH_CREDENTIALS".to_owned(),
            cwd.join("credentials.json").display().to_string(),
        ),
        (
            "XDG_CONFIG_HOME".to_owned(),
            cwd.join("config").display().to_string(),
        ),
    ];
    let state = cwd.join("readme-state.sh");
    std::fs::write(&state, "").unwrap();
    let (mut ran, mut skipped) = (0, Vec::new());
    let mut outputs = String::new();
    let mut background = Vec::new();
    for b in &blocks {
        let code = rewrite(&b.code, &addr, &guard_addr);
        match &b.mode {
            Mode::Skip(reason) => {
                skipped.push(format!("line {}: {reason}", b.line));
                continue;
            }
            Mode::Server => {
                skipped.push(format!("line {}: the test's own server stands in", b.line));
                continue;
            }
            Mode::Background => {
                let mut c = bash(&code, &cwd, &envs);
                c.stdout(Stdio::null()).stderr(Stdio::piped());
                let mut p = Proc(c.spawn().unwrap());
                std::thread::sleep(Duration::from_secs(2));
                if let Some(status) = p.0.try_wait().unwrap() {
                    let mut err = String::new();
                    std::io::Read::read_to_string(p.0.stderr.as_mut().unwrap(), &mut err).unwrap();
                    panic!(
                        "README line {}: the server exited ({status}): {err}\n{code}",
                        b.line
                    );
                }
                background.push(p);
                ran += 1;
                continue;
            }
            Mode::Run => {}
            Mode::Browser(_) => {}
        }
        let mut block_envs = envs.clone();
        if let Mode::Browser(name) = &b.mode {
            let url = printed_authorization_url(&printed);
            let code = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(tour_code(&url));
            block_envs.push((name.clone(), code));
        }
        let save: String = assigned(&code)
            .iter()
            .map(|n| {
                format!(
                    "declare -p {n} >> '{}' 2>/dev/null || true\n",
                    state.display()
                )
            })
            .collect();
        let script = format!(
            "set -euo pipefail\nsource '{}'\n{code}\n{save}",
            state.display()
        );
        let start = Instant::now();
        let mut c = bash(&script, &cwd, &block_envs);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = c.spawn().unwrap();
        let pid = child.id();
        let watchdog = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_secs(120));
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        });
        let out = child.wait_with_output().unwrap();
        drop(watchdog);
        assert!(
            out.status.success(),
            "README line {} failed ({:?}, {:?}):\n{code}\n--- stdout\n{}\n--- stderr\n{}",
            b.line,
            out.status,
            start.elapsed(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push_str(&String::from_utf8_lossy(&out.stdout));
        ran += 1;
    }
    // The 403 the README quotes is the one the server sent.
    let quoted = readme
        .split("answers `403`")
        .nth(1)
        .and_then(|rest| rest.split("scope=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("the README quotes the 403's scope");
    let sent = format!("scope=\"{quoted}\"");
    assert!(
        outputs.contains(&sent),
        "the README quotes {sent}, the server sent: {}",
        outputs
            .lines()
            .filter(|l| l.to_ascii_lowercase().starts_with("www-authenticate"))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    // The tour's browser step gave live tokens: the resource server's introspection saw the
    // access token active, for the demo user.
    assert!(
        outputs.contains("\"active\":true") && outputs.contains("\"username\":\"demo\""),
        "the tour's introspection: {outputs}"
    );
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    driver.join().unwrap();
    drop(background);
    drop(server);
    eprintln!(
        "README: ran {ran} of {} shell blocks; not run: {}",
        blocks.len(),
        skipped.join("; ")
    );
    // Only the two blocks that cannot run inside a test (the CI contract itself, `cargo install`)
    // are skipped; every other block, the browser steps included, ran.
    let not_run = blocks
        .iter()
        .filter(|b| matches!(b.mode, Mode::Skip(_)))
        .count();
    assert!(not_run <= 2, "README blocks skipped: {skipped:?}");
    assert!(ran >= 10, "too few README blocks ran: {ran}");
}

#[test]
fn markers_and_rewrites() {
    let md = "x\n<!-- readme-test: skip (needs a person) -->\n```bash\necho a\n```\n\n```bash\nmcp-oauth status\nls mcp-oauth-data\n```\n";
    let b = blocks(md);
    assert_eq!(b[0].mode, Mode::Skip("(needs a person)".into()));
    assert_eq!(b[1].mode, Mode::Run);
    let r = rewrite(&b[1].code, "127.0.0.1:1", "127.0.0.1:2");
    assert!(r.starts_with(BIN) && r.contains("ls mcp-oauth-data"), "{r}");
    assert_eq!(assigned("A=1\n  TOKEN=$(x)\necho B=2\n"), ["A", "TOKEN"]);
}
