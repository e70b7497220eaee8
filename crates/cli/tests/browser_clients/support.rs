//! Processes of the browser-client tests: `mcp-oauth serve --dev --demo`, headless Chromium,
//! the clients (Node programs from `interop/browser/node_modules`) and the driver script. Each
//! runs in its own process group and is killed as a group (the Inspector spawns children) by
//! pid on drop. Every port comes from the system: the server's and Chromium's from `:0`, the
//! Inspector's from a listener on `127.0.0.1:0` closed just before the Inspector binds it.

#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_mcp-oauth");
const CHROMIUM: &str = "/usr/bin/chromium";
/// Set in CI: the tests fail instead of skipping when a client or the browser is missing.
const REQUIRE: &str = "MCP_OAUTH_REQUIRE_BROWSER_CLIENTS";

/// `interop/browser`, where the pinned clients and the driver live.
pub fn harness() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../interop/browser")
}

/// The Node 22 of the harness (the Inspector 2.x needs >= 22.19; the system's may be older).
pub fn node() -> PathBuf {
    harness().join("node_modules/node/bin/node")
}

/// `PATH` with the harness's Node first (the Inspector 1.x starts its parts as `node …`).
pub fn path_with_node() -> String {
    let dir = harness().join("node_modules/node/bin");
    match std::env::var("PATH") {
        Ok(p) => format!("{}:{p}", dir.display()),
        Err(_) => dir.display().to_string(),
    }
}

/// Whether the harness is installed and Chromium present; explains a skip, or fails when
/// `MCP_OAUTH_REQUIRE_BROWSER_CLIENTS` is set (CI sets it, so these tests never skip there).
pub fn require() -> bool {
    let h = harness().join("node_modules");
    let missing: Vec<String> = [
        node(),
        h.join("playwright-core/package.json"),
        h.join("inspector-1/cli/build/cli.js"),
        h.join("inspector-2/clients/launcher/build/index.js"),
        h.join("mcp-remote/dist/proxy.js"),
        PathBuf::from(CHROMIUM),
    ]
    .into_iter()
    .filter(|p| !p.exists())
    .map(|p| p.display().to_string())
    .collect();
    if missing.is_empty() {
        return true;
    }
    let how = "npm ci --prefix interop/browser; apt-get install chromium";
    assert!(
        std::env::var_os(REQUIRE).is_none(),
        "{REQUIRE} is set but these are missing: {missing:?} ({how})"
    );
    eprintln!("SKIPPED: browser client test needs {missing:?} ({how})");
    false
}

/// A free port on 127.0.0.1, for a program that takes its port as a setting.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A process group led by a child; SIGKILL to the whole group on drop.
pub struct Group {
    pub name: &'static str,
    child: Child,
}

impl Group {
    /// Starts `cmd` as the leader of a new process group.
    pub fn spawn(name: &'static str, mut cmd: Command) -> Self {
        cmd.process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self { name, child }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    pub fn take_stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child.stdin.take()
    }

    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.stderr.take()
    }

    /// Waits for the leader to exit, at most `limit`; `None` when it is still running.
    pub fn wait_for(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + limit;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            if Instant::now() >= until {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL to every process of the group, then reaps the leader.
    pub fn kill(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until `127.0.0.1:port` accepts connections.
pub fn wait_port(port: u16, what: &str, limit: Duration) {
    let until = Instant::now() + limit;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Copies a child's output to the test's stderr, each line prefixed, and sends the lines on.
pub fn relay(src: impl Read + Send + 'static, prefix: &'static str) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(src).lines() {
            let Ok(line) = line else { break };
            eprintln!("[{prefix}] {line}");
            if tx.send(line).is_err() {
                // Nobody listens any more; keep draining so the child never blocks.
            }
        }
    });
    rx
}

/// `mcp-oauth serve --dev --demo` on 127.0.0.1:0 with its own data directory.
pub struct Demo {
    pub base: String,
    pub mcp: String,
    pub data: tempfile::TempDir,
    _proc: Group,
}

impl Demo {
    pub fn start() -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args([
            "serve",
            "--dev",
            "--demo",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data.path().join("data"))
        .env("MCP_OAUTH_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        let mut proc = Group::spawn("mcp-oauth serve", cmd);
        let lines = relay(proc.take_stdout().unwrap(), "serve");
        let base = loop {
            let line = lines
                .recv_timeout(Duration::from_secs(30))
                .expect("mcp-oauth serve printed no address");
            if let Some(rest) = line.strip_prefix("mcp-oauth listening on ") {
                break rest.trim().to_owned();
            }
        };
        let mcp = format!("{base}/mcp");
        Self {
            base,
            mcp,
            data,
            _proc: proc,
        }
    }

    /// The audit events of `kind` (newest first), read by `mcp-oauth audit` from the data
    /// directory while the server runs.
    pub fn audit(&self, kind: &str) -> Vec<Value> {
        let out = Command::new(BIN)
            .args(["audit", "--kind", kind, "--json", "--data-dir"])
            .arg(self.data.path().join("data"))
            .env("MCP_OAUTH_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mcp-oauth audit: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array().cloned().unwrap_or_default()
    }

    /// The clients registered by dynamic registration (the seeded demo client is not one).
    pub fn dcr_registrations(&self) -> Vec<Value> {
        self.audit("client_registered")
            .into_iter()
            .filter(|e| e["detail"]["origin"] == "dcr")
            .collect()
    }
}

/// Headless Chromium with a fresh profile and DevTools on a port of the system's choice.
pub struct Chromium {
    /// `http://127.0.0.1:PORT`, for the driver's CDP connection.
    pub cdp: String,
    _proc: Group,
    _profile: tempfile::TempDir,
}

impl Chromium {
    pub fn start() -> Self {
        let profile = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(CHROMIUM);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // Loopback only: a page's outside resources (the Inspector asks for web fonts)
            // fail at once instead of waiting on a network the tests must not use.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let proc = Group::spawn("chromium", cmd);
        // Chromium writes the port it bound into DevToolsActivePort in the profile.
        let file = profile.path().join("DevToolsActivePort");
        let until = Instant::now() + Duration::from_secs(30);
        let port = loop {
            if let Ok(s) = std::fs::read_to_string(&file)
                && let Some(p) = s.lines().next().and_then(|l| l.trim().parse::<u16>().ok())
            {
                break p;
            }
            assert!(
                Instant::now() < until,
                "chromium wrote no DevToolsActivePort"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Self {
            cdp: format!("http://127.0.0.1:{port}"),
            _proc: proc,
            _profile: profile,
        }
    }
}

/// The driver's verdict: its `RESULT {json}` line.
pub struct Driven {
    pub ok: bool,
    pub result: Value,
}

/// Runs `node drive.mjs ARGS` against `chrome` with `env`, at most `limit`.
pub fn drive(args: &[&str], chrome: &Chromium, env: &[(&str, &str)], limit: Duration) -> Driven {
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-clients");
    let mut cmd = Command::new(node());
    cmd.arg(harness().join("drive.mjs"))
        .args(args)
        .env("CDP_URL", &chrome.cdp)
        .env("SHOT_DIR", &shots)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut g = Group::spawn("driver", cmd);
    let out = relay(g.take_stdout().unwrap(), "driver");
    let status = g.wait_for(limit);
    g.kill();
    let Some(status) = status else {
        panic!("the driver did not finish within {limit:?} (screenshots in {shots:?})");
    };
    // The reader ends when the group is gone and the pipe closed.
    let lines: Vec<String> =
        std::iter::from_fn(|| out.recv_timeout(Duration::from_secs(5)).ok()).collect();
    let result = lines
        .into_iter()
        .filter_map(|l| l.strip_prefix("RESULT ").map(str::to_owned))
        .next_back()
        .and_then(|l| serde_json::from_str(&l).ok())
        .unwrap_or(Value::Null);
    Driven {
        ok: status.success(),
        result,
    }
}
