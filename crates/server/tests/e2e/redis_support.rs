//! Redis for the tests: the shared one on 127.0.0.1:6379 under a fresh key prefix per test (its
//! keys deleted when the test ends, never a flush), and private `redis-server`s on free loopback
//! ports for the tests that stop and start Redis, each stopped by its pid. Without Redis the tests
//! are skipped loudly, or fail when `MCP_OAUTH_REQUIRE_REDIS` is set (as `.ci/run` does).

use mcp_oauth_core::secret::random_token;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn required() -> bool {
    std::env::var_os("MCP_OAUTH_REQUIRE_REDIS").is_some()
}

fn skip(why: &str) {
    assert!(
        !required(),
        "Redis is required (MCP_OAUTH_REQUIRE_REDIS) but {why}"
    );
    eprintln!(
        "\n!!!!! skipped: {why}; start redis-server on 127.0.0.1:6379, or set MCP_OAUTH_REQUIRE_REDIS=1 to fail instead !!!!!\n"
    );
}

/// Whether a Redis answers `PING` at `host:port` within half a second.
pub fn pings(addr: &str) -> bool {
    let Ok(sock) = addr.parse() else {
        return false;
    };
    let Ok(mut s) = TcpStream::connect_timeout(&sock, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// The shared Redis under a prefix of this test's own.
pub struct SharedRedis {
    pub url: String,
    pub prefix: String,
}

impl SharedRedis {
    /// `MCP_OAUTH_TEST_REDIS_ADDR` (default `127.0.0.1:6379`), or `None` (skipped).
    pub fn get() -> Option<Self> {
        let addr = std::env::var("MCP_OAUTH_TEST_REDIS_ADDR")
            .unwrap_or_else(|_| "127.0.0.1:6379".to_owned());
        if !pings(&addr) {
            skip(&format!("no Redis answers at {addr}"));
            return None;
        }
        Some(Self {
            url: format!("redis://{addr}"),
            prefix: format!("mcp-oauth-test:{}:", random_token(9)),
        })
    }

    /// The number of keys under this test's prefix.
    pub fn keys(&self) -> usize {
        keys_under(&self.url, &self.prefix).len()
    }
}

impl Drop for SharedRedis {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut c) = client.get_connection_with_timeout(Duration::from_secs(1)) else {
            return;
        };
        for k in keys_under(&self.url, &self.prefix) {
            let _: Result<i64, _> = redis::cmd("DEL").arg(&k).query(&mut c);
        }
    }
}

fn keys_under(url: &str, prefix: &str) -> Vec<String> {
    let Ok(client) = redis::Client::open(url) else {
        return Vec::new();
    };
    let Ok(mut c) = client.get_connection_with_timeout(Duration::from_secs(1)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let Ok((next, batch)): Result<(u64, Vec<String>), _> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query(&mut c)
        else {
            break;
        };
        out.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    out
}

/// A `redis-server` of this test alone on a free loopback port, without persistence (so a
/// restart loses its data, as a Redis without AOF does).
pub struct OwnRedis {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl OwnRedis {
    /// Started and answering, or `None` (skipped) without `redis-server`.
    pub fn start() -> Option<Self> {
        if !crate::tls_redis::installed() {
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = Self {
            port,
            child: None,
            dir: tempfile::tempdir().unwrap(),
        };
        r.start_again();
        Some(r)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) on its port, and waits until it answers.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !pings(&format!("127.0.0.1:{}", self.port)) {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it (SIGKILL, by pid) and waits for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP listener that accepts connections and never answers: a hung Redis. The accepted
/// sockets are held until it is dropped.
pub struct SilentListener {
    pub port: u16,
    task: tokio::task::JoinHandle<()>,
}

impl SilentListener {
    pub async fn start() -> Self {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                held.push(s);
            }
        });
        Self { port, task }
    }
}

impl Drop for SilentListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The value of the metric line starting with `name` (labels included) on `/metrics`, or 0.
pub async fn metric(http: &reqwest::Client, base: &str, name: &str) -> f64 {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}
