//! A `redis-server` serving TLS only, with a certificate of a CA made here, on a free loopback
//! port, stopped by its pid: for the `rediss://` tests of the server (`e2e/redis_tls.rs`) and of
//! the guard's replay store (`crates/resource/tests/it/dpop.rs` includes this file). Without
//! `redis-server` the tests are skipped loudly, or fail when `MCP_OAUTH_REQUIRE_REDIS` is set.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `redis-server` can be started here; if not, says so (or fails with
/// `MCP_OAUTH_REQUIRE_REDIS`).
pub fn installed() -> bool {
    let installed = Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if !installed {
        assert!(
            std::env::var_os("MCP_OAUTH_REQUIRE_REDIS").is_none(),
            "Redis is required (MCP_OAUTH_REQUIRE_REDIS) but redis-server is not installed"
        );
        eprintln!("\n!!!!! skipped: redis-server is not installed !!!!!\n");
    }
    installed
}

/// A CA: its certificate (PEM) and the issuer that signs with its key.
pub struct Ca {
    pub pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            pem,
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A server certificate for 127.0.0.1 and localhost: (certificate, key), PEM.
    pub fn server_certificate(&self) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .unwrap()
                .signed_by(&key, &self.issuer)
                .unwrap();
        (cert.pem(), key.serialize_pem())
    }
}

/// `redis-server` on a free loopback port, TLS only, stopped by its pid on drop.
pub struct TlsRedis {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl TlsRedis {
    /// Started with a certificate of `ca`, and answering over TLS; `None` (skipped, or failed
    /// with `MCP_OAUTH_REQUIRE_REDIS`) without `redis-server`.
    pub fn start(ca: &Ca) -> Option<Self> {
        if !installed() {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = ca.server_certificate();
        let file = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let (cert, key, ca_file) = (
            file("redis.pem", &cert),
            file("redis.key", &key),
            file("ca.pem", &ca.pem),
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", "0"])
            .args(["--tls-port", &port.to_string()])
            .arg("--tls-cert-file")
            .arg(&cert)
            .arg("--tls-key-file")
            .arg(&key)
            .arg("--tls-ca-cert-file")
            .arg(&ca_file)
            .args([
                "--tls-auth-clients",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        let r = Self { port, child, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while r.ping(&ca.pem).is_err() {
            assert!(
                Instant::now() < deadline,
                "the TLS redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(r)
    }

    pub fn url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.port)
    }

    /// A client trusting `ca_pem` only.
    pub fn client(&self, ca_pem: &str) -> redis::Client {
        redis::Client::build_with_tls(
            self.url(),
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(ca_pem.as_bytes().to_vec()),
            },
        )
        .unwrap()
    }

    pub fn ping(&self, ca_pem: &str) -> redis::RedisResult<()> {
        let mut c = self
            .client(ca_pem)
            .get_connection_with_timeout(Duration::from_millis(500))?;
        redis::cmd("PING").query(&mut c)
    }

    /// The keys under `prefix`.
    pub fn keys(&self, ca_pem: &str, prefix: &str) -> Vec<String> {
        let mut c = self
            .client(ca_pem)
            .get_connection_with_timeout(Duration::from_secs(1))
            .unwrap();
        redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query(&mut c)
            .unwrap()
    }

    /// A file beside the server's own, holding `text`.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
