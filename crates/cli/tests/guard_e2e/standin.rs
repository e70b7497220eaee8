//! A stand-in identity provider for the profile tests: one axum server on 127.0.0.1:0 that
//! publishes, for each issuer added, its metadata at the provider's well-known paths and its JWK
//! Set at the provider's keys path, and signs RS256 access tokens with any header the test gives
//! (providers differ exactly there: `typ` `JWT`, `at+jwt` or none). Also the echo upstream the
//! guard forwards to, and `guard` runs that are expected to stop at start-up.

use crate::support::Proc;
use axum::Router;
use axum::extract::{Request, State};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::BodyExt;
use mcp_oauth_core::jose::{Algorithm, SigningKey};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The documents the stand-in serves, by path.
type Docs = Arc<Mutex<HashMap<String, Value>>>;

pub struct StandIn {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    pub kid: String,
    key: SigningKey,
    docs: Docs,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One issuer of the stand-in.
pub struct Issuer<'a> {
    /// The issuer's path on the stand-in (`/realms/mcp`, `/` for a root issuer).
    pub path: &'a str,
    /// Where its metadata is published (paths; the first must be one discovery tries).
    pub metadata_paths: &'a [&'a str],
    /// Where its keys are published.
    pub jwks_path: &'a str,
    /// The `issuer` the document names, when not the issuer itself.
    pub names: Option<&'a str>,
    /// Leave `jwks_uri` out of the metadata.
    pub no_jwks_uri: bool,
    /// Advertise a `registration_endpoint`.
    pub registration: bool,
}

async fn serve_doc(State(docs): State<Docs>, req: Request) -> axum::response::Response {
    use axum::response::IntoResponse;
    let doc = docs.lock().unwrap().get(req.uri().path()).cloned();
    match doc {
        Some(d) => axum::Json(d).into_response(),
        None => http::StatusCode::NOT_FOUND.into_response(),
    }
}

impl StandIn {
    pub async fn start() -> Self {
        let docs: Docs = Arc::default();
        let app = Router::new().fallback(serve_doc).with_state(docs.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        let key = SigningKey::generate(Algorithm::RS256).unwrap();
        let kid = key.kid().to_owned();
        Self {
            base,
            kid,
            key,
            docs,
            task,
        }
    }

    /// Publishes an issuer's metadata and keys; returns the issuer URL.
    pub fn publish(&self, i: Issuer<'_>) -> String {
        let issuer = format!("{}{}", self.base, i.path);
        let jwks_uri = format!("{}{}", self.base, i.jwks_path);
        let mut meta = json!({
            "issuer": i.names.unwrap_or(&issuer),
            "authorization_endpoint": format!("{}/authorize", self.base),
            "token_endpoint": format!("{}/token", self.base),
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
        });
        if !i.no_jwks_uri {
            meta["jwks_uri"] = json!(jwks_uri);
        }
        if i.registration {
            meta["registration_endpoint"] = json!(format!("{}/register", self.base));
        }
        let mut docs = self.docs.lock().unwrap();
        for p in i.metadata_paths {
            docs.insert((*p).to_owned(), meta.clone());
        }
        docs.insert(
            i.jwks_path.to_owned(),
            json!({"keys": [self.key.public_jwk()]}),
        );
        issuer
    }

    /// An RS256 JWS of `claims` under exactly `header` (`alg` is set to RS256).
    pub fn sign(&self, mut header: Value, claims: &Value) -> String {
        header["alg"] = json!("RS256");
        let mut out = URL_SAFE_NO_PAD.encode(header.to_string());
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let pair = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(self.key.pkcs8_der()).unwrap();
        let mut sig = vec![0u8; pair.public_modulus_len()];
        pair.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            out.as_bytes(),
            &mut sig,
        )
        .unwrap();
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(sig));
        out
    }
}

/// The upstream: every request answered with what arrived (the guard's `X-MCP-OAuth-*`
/// headers among them).
pub async fn echo_upstream() -> (String, tokio::task::JoinHandle<()>) {
    async fn echo(req: Request) -> axum::Json<Value> {
        let headers: serde_json::Map<String, Value> = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
            .collect();
        let _ = req.into_body().collect().await;
        axum::Json(json!({"headers": headers}))
    }
    let app = Router::new().fallback(echo);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", l.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    (url, task)
}

/// Runs `mcp-oauth guard ARGS`, which must exit (within 30 s) without ever listening; returns
/// its stderr.
pub fn guard_refuses(args: &[&str]) -> String {
    let mut child = Command::new(crate::bin::mcp_oauth())
        .arg("guard")
        .args(args)
        .env("MCP_OAUTH_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mcp-oauth guard");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("guard {args:?} did not stop");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    let mut err = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!status.success(), "guard {args:?} started: {out}");
    assert!(!out.contains("listening"), "{out}");
    err
}

/// `mcp-oauth guard ARGS` started, with its stderr kept (for the start-up notes).
pub fn guard_noting(args: &[&str]) -> (Proc, Arc<Mutex<String>>) {
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    let mut full = vec!["guard"];
    full.extend_from_slice(args);
    let proc = crate::support::spawn_with_stderr(&full, "mcp-oauth guard listening on", move |l| {
        let mut s = sink.lock().unwrap();
        s.push_str(&l);
        s.push('\n');
    });
    (proc, log)
}
