//! `mcp-oauth guard` against hostile requests (issue 12), in front of an upstream as lenient as
//! real ones: it inflates `gzip` and `deflate`, strips a byte order mark, transcodes UTF-16,
//! parses forms, parses any other body as JSON whatever its type, accepts every method, and
//! records everything that reaches it. Each hostile request must be answered `4xx` by the guard,
//! and the upstream must record that nothing arrived.

use crate::support::*;
use axum::Router;
use axum::extract::{Request, State};
use axum::response::IntoResponse;
use http_body_util::BodyExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub const RESOURCE: &str = "https://mcp.example.com/mcp";

/// The issue's policy: reading files is the default, deleting one needs `files:write`.
pub const POLICY: &str = "default = \"files:read\"\n[tools]\ndelete_file = \"files:write\"\n";

/// One request as the upstream saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    /// The tool a `tools/call` named, after the upstream's lenient decoding.
    pub tool: Option<String>,
}

/// The lenient upstream's record, and the session ids it has handed out.
#[derive(Clone, Default)]
pub struct Recorder {
    pub seen: Arc<Mutex<Vec<Seen>>>,
    sessions: Arc<AtomicU64>,
}

impl Recorder {
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn executed(&self) -> Vec<String> {
        let seen = self.seen.lock().unwrap();
        seen.iter().filter_map(|s| s.tool.clone()).collect()
    }
}

/// What an express-style server makes of a body: inflated, transcoded, BOM stripped, a form
/// turned into an object, anything else parsed as JSON.
fn lenient_decode(headers: &http::HeaderMap, raw: &[u8]) -> Option<Value> {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase()
    };
    let mut bytes = Vec::new();
    match header("content-encoding").trim() {
        "gzip" => {
            flate2::read::GzDecoder::new(raw)
                .read_to_end(&mut bytes)
                .ok()?;
        }
        "deflate" => {
            flate2::read::ZlibDecoder::new(raw)
                .read_to_end(&mut bytes)
                .ok()?;
        }
        _ => bytes = raw.to_vec(),
    }
    let ctype = header("content-type");
    let text = if ctype.contains("charset=utf-16") {
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16(&units).ok()?
    } else {
        String::from_utf8(bytes).ok()?
    };
    let text = text.trim_start_matches('\u{feff}');
    if ctype.starts_with("application/x-www-form-urlencoded") {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(text).ok()?;
        let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        return Some(json!({"jsonrpc": "2.0", "id": 1, "method": get("method"),
                           "params": {"name": get("params[name]")}}));
    }
    serde_json::from_str(text).ok()
}

async fn lenient(State(rec): State<Recorder>, req: Request) -> axum::response::Response {
    let (parts, body) = req.into_parts();
    let raw = body.collect().await.unwrap().to_bytes();
    let decoded = lenient_decode(&parts.headers, &raw);
    let tool = decoded.as_ref().and_then(|v| {
        (v["method"] == "tools/call")
            .then(|| v["params"]["name"].as_str().map(str::to_owned))
            .flatten()
    });
    rec.seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        tool: tool.clone(),
    });
    let mut resp =
        axum::Json(json!({"executed": tool, "uri": parts.uri.to_string()})).into_response();
    // Stateful like an MCP server: a POST without a session id opens one.
    if parts.method == http::Method::POST && !parts.headers.contains_key("mcp-session-id") {
        let n = rec.sessions.fetch_add(1, Ordering::Relaxed);
        resp.headers_mut()
            .insert("mcp-session-id", format!("session-{n}").parse().unwrap());
    }
    resp
}

pub struct Hostile {
    pub guard: Proc,
    pub mcp: String,
    pub rec: Recorder,
    pub auth: TestAs,
    pub secret: String,
    _upstream: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Hostile {
    /// The lenient upstream at `/mcp` (and every other path), `guard` in front of it with
    /// `policy` and `extra` arguments.
    pub async fn start(policy: &str, extra: &[&str]) -> Hostile {
        let rec = Recorder::default();
        let app = Router::new().fallback(lenient).with_state(rec.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream_url = format!("http://{}/mcp", l.local_addr().unwrap());
        let upstream = tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        let (auth, secret) = TestAs::start(&[(RESOURCE, "files:read files:write")]).await;
        let dir = tempfile::tempdir().unwrap();
        let policy_file = dir.path().join("policy.toml");
        std::fs::write(&policy_file, policy).unwrap();
        let mut args = vec![
            "guard",
            "--upstream",
            &upstream_url,
            "--resource",
            RESOURCE,
            "--issuer",
            &auth.base,
            "--scopes-file",
            policy_file.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
            "--insecure-http",
        ];
        args.extend_from_slice(extra);
        let guard = spawn(&args, "mcp-oauth guard listening on");
        let mcp = format!("{}/mcp", guard.base);
        Hostile {
            guard,
            mcp,
            rec,
            auth,
            secret,
            _upstream: upstream,
            _dir: dir,
        }
    }

    pub async fn token(&self, scope: &str) -> String {
        self.auth.token(&self.secret, RESOURCE, scope).await
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn utf16le(s: &str) -> Vec<u8> {
    std::iter::once(0xFEFF)
        .chain(s.encode_utf16())
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// Issue 12 item 1: with a `files:read` token, `tools/call delete_file` is refused in every
/// disguise, and nothing reaches the upstream.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scope_policy_fails_closed_on_bodies_it_cannot_read() {
    let h = Hostile::start(POLICY, &[]).await;
    let read = h.token("files:read").await;
    let delete = tool_call(1, "delete_file", json!({"path": "/etc/important"}));
    let body = delete.to_string();
    let http = reqwest::Client::new();

    // The controls: plain JSON is read and decided; an allowed call reaches the upstream.
    let r = send(post(&h.mcp, Some(&read), &delete)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.challenge().scope.as_deref(),
        Some("files:read files:write")
    );
    let r = send(post(
        &h.mcp,
        Some(&read),
        &tool_call(2, "read_file", json!({})),
    ))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(h.rec.executed(), ["read_file"]);
    let before = h.rec.count();

    let json_post = |method: reqwest::Method| {
        http.request(method, &h.mcp)
            .bearer_auth(&read)
            .header("accept", "application/json, text/event-stream")
    };
    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        (
            "gzip",
            json_post(reqwest::Method::POST)
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .body(gzip(body.as_bytes())),
            415,
        ),
        (
            "deflate",
            json_post(reqwest::Method::POST)
                .header("content-type", "application/json")
                .header("content-encoding", "deflate")
                .body(deflate(body.as_bytes())),
            415,
        ),
        (
            "Content-Encoding identity, gzip",
            json_post(reqwest::Method::POST)
                .header("content-type", "application/json")
                .header("content-encoding", "identity, gzip")
                .body(gzip(body.as_bytes())),
            415,
        ),
        (
            "UTF-8 byte order mark",
            json_post(reqwest::Method::POST)
                .header("content-type", "application/json")
                .body([&b"\xEF\xBB\xBF"[..], body.as_bytes()].concat()),
            400,
        ),
        (
            "charset=utf-16",
            json_post(reqwest::Method::POST)
                .header("content-type", "application/json; charset=utf-16")
                .body(utf16le(&body)),
            415,
        ),
        (
            "form",
            json_post(reqwest::Method::POST)
                .header("content-type", "application/x-www-form-urlencoded")
                .body("method=tools%2Fcall&params%5Bname%5D=delete_file"),
            415,
        ),
        (
            "text/plain",
            json_post(reqwest::Method::POST)
                .header("content-type", "text/plain")
                .body(body.clone()),
            415,
        ),
        (
            "no content type",
            json_post(reqwest::Method::POST).body(body.clone()),
            415,
        ),
        (
            "PUT",
            json_post(reqwest::Method::PUT)
                .header("content-type", "application/json")
                .body(body.clone()),
            405,
        ),
        (
            "PATCH",
            json_post(reqwest::Method::PATCH)
                .header("content-type", "application/json")
                .body(body.clone()),
            405,
        ),
        (
            "DELETE with a body",
            json_post(reqwest::Method::DELETE)
                .header("content-type", "application/json")
                .body(body.clone()),
            400,
        ),
        (
            "GET with a body",
            json_post(reqwest::Method::GET)
                .header("content-type", "application/json")
                .body(body.clone()),
            400,
        ),
        (
            "JSON that does not parse",
            json_post(reqwest::Method::POST)
                .header("content-type", "application/json")
                .body(format!("{body}\u{0}")),
            400,
        ),
        (
            "a repeated name (first-wins parsers read delete_file)",
            json_post(reqwest::Method::POST)
                .header("content-type", "application/json")
                .body(
                    r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","name":"read_file"}}"#,
                ),
            400,
        ),
        (
            "a look-alike key (Go's case-insensitive decoding reads delete_file)",
            json_post(reqwest::Method::POST)
                .header("content-type", "application/json")
                .body(
                    r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","NAME":"delete_file"}}"#,
                ),
            400,
        ),
    ];
    for (what, req, status) in cases {
        let r = send(req).await;
        assert_eq!(r.status.as_u16(), status, "{what}: {}", r.text);
        assert_eq!(r.body["error"], "invalid_request", "{what}: {}", r.text);
        let description = r.body["error_description"].as_str().unwrap_or("");
        assert!(!description.is_empty(), "{what}: {}", r.text);
        if status == 405 {
            assert_eq!(r.headers["allow"], "GET, POST, DELETE", "{what}");
        }
        assert_eq!(h.rec.count(), before, "{what} reached the upstream");
    }
    assert_eq!(h.rec.executed(), ["read_file"], "delete_file never ran");

    // Without a token, the same requests are refused as well, and nothing arrives either.
    let r = send(
        http.post(&h.mcp)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(gzip(body.as_bytes())),
    )
    .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    assert_eq!(h.rec.count(), before);
}

/// Issue 12 item 2 and issue 11: the guard answers CORS preflights itself. The attack of the
/// issue (a preflight with a `tools/call` body and no token) never reaches the upstream; allowed
/// origins get the CORS grant, on refusals too; others get none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflights_are_answered_by_the_guard() {
    let h = Hostile::start(POLICY, &["--allow-origin", "https://app.example"]).await;
    let http = reqwest::Client::new();
    let delete = tool_call(1, "delete_file", json!({})).to_string();
    let preflight = |origin: &str| {
        http.request(reqwest::Method::OPTIONS, &h.mcp)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, mcp-protocol-version",
            )
            .header("content-type", "application/json")
            .body(delete.clone())
    };
    for origin in [
        "http://localhost:6274",
        "http://127.0.0.1:3000",
        "https://app.example",
    ] {
        let r = send(preflight(origin)).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{origin}: {}", r.text);
        let hd = &r.headers;
        assert_eq!(hd["access-control-allow-origin"], origin);
        assert_eq!(hd["vary"], "Origin");
        assert_eq!(hd["access-control-allow-methods"], "GET, POST, DELETE");
        assert_eq!(
            hd["access-control-allow-headers"],
            "authorization, content-type, dpop, mcp-protocol-version, mcp-session-id, last-event-id"
        );
    }
    for origin in [
        "https://evil.example",
        "null",
        "http://localhost.evil.example",
    ] {
        let r = send(preflight(origin)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin}");
        assert!(r.headers.get("access-control-allow-origin").is_none());
    }
    assert_eq!(h.rec.count(), 0, "no preflight reached the upstream");

    // The real requests: the challenge is readable from an allowed origin.
    let origin = "http://localhost:6274";
    let r =
        send(post(&h.mcp, None, &tool_call(1, "read_file", json!({}))).header("origin", origin))
            .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["access-control-allow-origin"], origin);
    assert_eq!(
        r.headers["access-control-expose-headers"],
        "WWW-Authenticate, Mcp-Session-Id"
    );
    assert_eq!(r.challenge().scope.as_deref(), Some("files:read"));
    let read = h.token("files:read").await;
    let r = send(
        post(
            &h.mcp,
            Some(&read),
            &json!(tool_call(1, "delete_file", json!({}))),
        )
        .header("origin", origin),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.headers["access-control-allow-origin"], origin);
    let r = send(
        post(&h.mcp, Some(&read), &tool_call(1, "read_file", json!({})))
            .header("origin", "https://app.example"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(
        r.headers["access-control-expose-headers"],
        "WWW-Authenticate, Mcp-Session-Id"
    );
    assert!(r.headers.get("mcp-session-id").is_some());
    // A request without Origin (not a browser) gets no CORS headers.
    let r = send(post(
        &h.mcp,
        Some(&read),
        &tool_call(1, "read_file", json!({})),
    ))
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.get("access-control-allow-origin").is_none());
    assert_eq!(h.rec.count(), 2);
}

/// Sends one raw HTTP/1.1 request (the path exactly as given: HTTP clients would resolve dot
/// segments first) and returns the status and body.
async fn raw(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(authority).await.unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\n{auth}Content-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text[9..12].parse().unwrap();
    assert_ne!(status, 500, "never a 500: {text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

/// Issue 12, "Also": paths are normalised before matching and forwarding; ambiguous ones are
/// refused. Nothing reaches an upstream path outside the resource, with or without a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_are_normalised_and_ambiguous_ones_refused() {
    let h = Hostile::start(POLICY, &[]).await;
    let token = h.token("files:read").await;
    let base = &h.guard.base;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string();

    // Resolved dot segments lead to the resource, which still needs a token...
    for path in ["/x/../mcp", "/./mcp", "/mcp/sub/../x", "/admin/../mcp"] {
        let (status, _) = raw(base, "POST", path, None, &list).await;
        assert_eq!(status, 401, "{path}");
    }
    assert_eq!(h.rec.count(), 0);
    // ... and with one, reach the upstream at the normalised path.
    let (status, body) = raw(base, "POST", "/x/../mcp", Some(&token), &list).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = raw(base, "POST", "/mcp/./sub/../x", Some(&token), &list).await;
    assert_eq!(status, 200, "{body}");
    let uris: Vec<String> = h
        .rec
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.uri.clone())
        .collect();
    assert_eq!(uris, ["/mcp", "/mcp/x"]);

    // Out of the resource once resolved: not routed, never forwarded.
    for path in ["/mcp/../admin", "/mcp/x/../../admin"] {
        let (status, _) = raw(base, "POST", path, Some(&token), &list).await;
        assert_eq!(status, 404, "{path}");
    }
    // Ambiguous: refused before routing, with or without a token.
    for path in [
        "/mcp/%2e%2e/admin",
        "/mcp/%2E%2E/admin",
        "/mcp/.%2e/admin",
        "/mcp%2f..%2fadmin",
        "/mcp/..%2fadmin",
        "/mcp/..%5cadmin",
        "/mcp\\..\\admin",
        "/mcp/..;/admin",
        "/mcp/%252e%252e/admin",
        "/mcp//admin",
        "/../mcp",
    ] {
        for t in [None, Some(token.as_str())] {
            let (status, body) = raw(base, "POST", path, t, &list).await;
            assert_eq!(status, 400, "{path}: {body}");
            // (A backslash is refused by the HTTP parser already, with an empty body.)
            if !body.is_empty() {
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                assert_eq!(v["error"], "invalid_request", "{path}: {body}");
            }
        }
    }
    assert_eq!(h.rec.count(), 2, "only the two normalised requests arrived");
    let methods: Vec<String> = h
        .rec
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.method.clone())
        .collect();
    assert_eq!(methods, ["POST", "POST"]);
}
