//! `mcp-oauth guard`: the reverse proxy in front of a small upstream MCP endpoint, trusting
//! in-process authorization servers.

use crate::support::*;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::routing;
use http_body_util::BodyExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

const RESOURCE: &str = "https://mcp.example.com/mcp";
const OTHER: &str = "https://other.example.com/mcp";
const RM: &str = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp";

/// The upstream: POST echoes what it received (headers and body size); GET streams events the
/// test feeds it one by one.
#[derive(Clone, Default)]
struct Upstream {
    events: Arc<Mutex<Option<mpsc::Receiver<String>>>>,
}

async fn echo(req: Request) -> axum::Json<Value> {
    let headers: serde_json::Map<String, Value> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
        .collect();
    let uri = req.uri().to_string();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    axum::Json(json!({"headers": headers, "uri": uri, "body_len": body.len()}))
}

async fn sse(State(up): State<Upstream>) -> axum::response::Response {
    let rx = up.events.lock().unwrap().take().expect("one SSE stream");
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|e| {
            (
                Ok::<_, std::convert::Infallible>(format!("data: {e}\n\n")),
                rx,
            )
        })
    });
    axum::response::Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

struct Setup {
    guard: Proc,
    a: TestAs,
    a_secret: String,
    b: TestAs,
    b_secret: String,
    events: mpsc::Sender<String>,
    _upstream: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn setup() -> Setup {
    let (tx, rx) = mpsc::channel(4);
    let up = Upstream {
        events: Arc::new(Mutex::new(Some(rx))),
    };
    let app = Router::new()
        .route("/mcp", routing::post(echo).get(sse))
        .route("/mcp/{*rest}", routing::post(echo))
        .with_state(up);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream_url = format!("http://{}/mcp", l.local_addr().unwrap());
    let upstream = tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });

    let scopes = "mcp:tools mcp:admin";
    let (a, a_secret) = TestAs::start(&[(RESOURCE, scopes), (OTHER, scopes)]).await;
    let (b, b_secret) = TestAs::start(&[(RESOURCE, scopes)]).await;
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "default = \"mcp:tools\"\npublic = [\"initialize\", \"ping\", \"notifications/*\"]\n\
         [tools]\nreset_counter = \"mcp:tools mcp:admin\"\n",
    )
    .unwrap();
    let guard = spawn(
        &[
            "guard",
            "--upstream",
            &upstream_url,
            "--resource",
            RESOURCE,
            "--issuer",
            &a.base,
            "--issuer",
            &b.base,
            "--scopes-file",
            policy.to_str().unwrap(),
            "--addr",
            "127.0.0.1:0",
            "--insecure-http",
        ],
        "mcp-oauth guard listening on",
    );
    Setup {
        guard,
        a,
        a_secret,
        b,
        b_secret,
        events: tx,
        _upstream: upstream,
        _dir: dir,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_with_identity_and_without_the_token() {
    let s = setup().await;
    let mcp = format!("{}/mcp", s.guard.base);
    let echo = tool_call(1, "echo", json!({}));

    // No token: the challenge names this resource's metadata and the scope needed.
    let r = send(post(&mcp, None, &echo)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let c = r.challenge();
    assert_eq!(c.error, None);
    assert_eq!(c.resource_metadata.as_deref(), Some(RM));
    assert_eq!(c.scope.as_deref(), Some("mcp:tools"));

    // A valid token: forwarded without Authorization, with the verified identity, and with the
    // client's forged identity headers dropped.
    let t = s.a.token(&s.a_secret, RESOURCE, "mcp:tools").await;
    let r = send(
        post(&format!("{mcp}?x=1"), Some(&t), &echo)
            .header("x-mcp-oauth-subject", "forged")
            .header("x-custom", "kept"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let h = &r.body["headers"];
    assert!(
        h.get("authorization").is_none(),
        "no token passthrough: {h}"
    );
    assert_eq!(h["x-mcp-oauth-subject"], "m2m");
    assert_eq!(h["x-mcp-oauth-client-id"], "m2m");
    assert_eq!(h["x-mcp-oauth-scope"], "mcp:tools");
    assert_eq!(h["x-mcp-oauth-issuer"], s.a.base);
    assert_eq!(h["x-custom"], "kept");
    assert_eq!(r.body["uri"], "/mcp?x=1");
    assert_eq!(r.body["body_len"], echo.to_string().len());

    // The public handshake passes without a token and without identity.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}});
    let r = send(post(&mcp, None, &init)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["headers"].get("x-mcp-oauth-subject").is_none());

    // A token of the same issuer for another resource: refused, never passed on.
    let other = s.a.token(&s.a_secret, OTHER, "mcp:tools").await;
    let r = send(post(&mcp, Some(&other), &echo)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.challenge().error.as_deref(), Some("invalid_token"));

    // The second, independent trusted issuer.
    let tb = s.b.token(&s.b_secret, RESOURCE, "mcp:tools").await;
    let r = send(post(&mcp, Some(&tb), &echo)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["headers"]["x-mcp-oauth-issuer"], s.b.base);

    // An issuer the guard does not trust, for the same resource URI.
    let (c_as, c_secret) = TestAs::start(&[(RESOURCE, "mcp:tools")]).await;
    let tc = c_as.token(&c_secret, RESOURCE, "mcp:tools").await;
    let r = send(post(&mcp, Some(&tc), &echo)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.challenge().error.as_deref(), Some("invalid_token"));

    // Batches with mixed scopes, and the step-up scope set.
    let batch = json!([echo, tool_call(2, "reset_counter", json!({}))]);
    let r = send(post(&mcp, Some(&t), &batch)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.challenge().error.as_deref(), Some("insufficient_scope"));
    assert_eq!(r.challenge().scope.as_deref(), Some("mcp:admin mcp:tools"));
    let t_admin =
        s.a.token(&s.a_secret, RESOURCE, "mcp:tools mcp:admin")
            .await;
    let r = send(post(&mcp, Some(&t_admin), &batch)).await;
    assert_eq!(r.status, StatusCode::OK);

    // Huge bodies, malformed and repeated headers.
    assert_eq!(post_declaring(&mcp, &t, 2 << 20).await, 413);
    let r = send(post(&mcp, None, &echo).header("authorization", "Bearer")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let mut h = reqwest::header::HeaderMap::new();
    h.append("authorization", format!("Bearer {t}").parse().unwrap());
    h.append("authorization", format!("Bearer {t}").parse().unwrap());
    assert_eq!(
        send(post(&mcp, None, &echo).headers(h)).await.status,
        StatusCode::BAD_REQUEST
    );
    let r = send(post(&mcp, Some(&t), &echo).header("origin", "https://evil.example")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Its metadata.
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let r = send(reqwest::Client::new().get(format!("{}{path}", s.guard.base))).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["resource"], RESOURCE);
        assert_eq!(r.body["authorization_servers"], json!([s.a.base, s.b.base]));
        assert_eq!(
            r.body["scopes_supported"],
            json!(["mcp:admin", "mcp:tools"])
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_is_picked_up_without_a_failed_request() {
    let s = setup().await;
    let mcp = format!("{}/mcp", s.guard.base);
    let echo = tool_call(1, "echo", json!({}));
    let t = s.a.token(&s.a_secret, RESOURCE, "mcp:tools").await;
    assert_eq!(
        send(post(&mcp, Some(&t), &echo)).await.status,
        StatusCode::OK
    );
    // The issuer rotates with no pre-publication: the next token is signed by a key the
    // guard has never seen, and the very first request with it succeeds.
    let now = s.a.state.now();
    let kid = s.a.state.keys().rotate(now, 0).await.unwrap();
    let t2 = s.a.token(&s.a_secret, RESOURCE, "mcp:tools").await;
    assert_ne!(t, t2);
    let header = t2.split('.').next().unwrap();
    use base64::Engine;
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], kid);
    for _ in 0..3 {
        assert_eq!(
            send(post(&mcp, Some(&t2), &echo)).await.status,
            StatusCode::OK
        );
    }
    // Tokens signed by the previous key stay valid while it is published.
    assert_eq!(
        send(post(&mcp, Some(&t), &echo)).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_streams_through_unbuffered() {
    let s = setup().await;
    let t = s.a.token(&s.a_secret, RESOURCE, "mcp:tools").await;
    let mut resp = reqwest::Client::new()
        .get(format!("{}/mcp", s.guard.base))
        .header("accept", "text/event-stream")
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    s.events.send("first".into()).await.unwrap();
    // The first event arrives while the upstream response is still open.
    let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), resp.chunk())
        .await
        .expect("the first event arrives before the stream ends")
        .unwrap()
        .unwrap();
    assert_eq!(&chunk[..], b"data: first\n\n");
    s.events.send("second".into()).await.unwrap();
    let chunk = resp.chunk().await.unwrap().unwrap();
    assert_eq!(&chunk[..], b"data: second\n\n");
    drop(s.events);
    assert!(resp.chunk().await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_is_a_bad_gateway() {
    let (a, secret) = TestAs::start(&[(RESOURCE, "mcp:tools")]).await;
    // A port with nothing listening: bind, note it, close.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/mcp", l.local_addr().unwrap());
    drop(l);
    let guard = spawn(
        &[
            "guard",
            "--upstream",
            &dead,
            "--resource",
            RESOURCE,
            "--issuer",
            &a.base,
            "--addr",
            "127.0.0.1:0",
            "--insecure-http",
        ],
        "mcp-oauth guard listening on",
    );
    let t = a.token(&secret, RESOURCE, "mcp:tools").await;
    let r = send(post(&format!("{}/mcp", guard.base), Some(&t), &json!({}))).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_client_through_the_guard_to_an_rmcp_upstream() {
    use rmcp::ServiceExt;
    use rmcp::model::CallToolRequestParams;
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    // The upstream: the demo MCP server without its own guard (as an unprotected server would be).
    let dir = tempfile::tempdir().unwrap();
    let upstream = spawn(
        &[
            "serve",
            "--demo-public",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ],
        "mcp-oauth listening on",
    );
    let (a, secret) = TestAs::start(&[(RESOURCE, "mcp:tools")]).await;
    let guard = spawn(
        &[
            "guard",
            "--upstream",
            &format!("{}/mcp", upstream.base),
            "--resource",
            RESOURCE,
            "--issuer",
            &a.base,
            "--addr",
            "127.0.0.1:0",
            "--insecure-http",
        ],
        "mcp-oauth guard listening on",
    );
    let mcp = format!("{}/mcp", guard.base);

    // --demo-public answers without a token, but a token that is sent is still verified.
    let direct = format!("{}/mcp", upstream.base);
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let r = send(post(&direct, Some("not-a-jwt"), &list)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.challenge().error.as_deref(), Some("invalid_token"));
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    assert_eq!(
        send(post(&direct, None, &init)).await.status,
        StatusCode::OK
    );

    // Without a token the rmcp client cannot even initialize.
    let err =
        ().serve(StreamableHttpClientTransport::from_uri(mcp.clone()))
            .await
            .expect_err("401");
    assert!(
        err.to_string().contains("401") || err.to_string().to_lowercase().contains("auth"),
        "{err}"
    );

    let t = a.token(&secret, RESOURCE, "mcp:tools").await;
    let config = StreamableHttpClientTransportConfig::with_uri(mcp).auth_header(t);
    let client =
        ().serve(StreamableHttpClientTransport::from_config(config))
            .await
            .expect("connects through the guard");
    let tools = client.list_tools(None).await.unwrap();
    assert!(tools.tools.iter().any(|t| t.name == "calculator"));
    // A streamed (SSE) tool call with notifications on the way, through the proxy.
    let r = client
        .call_tool(CallToolRequestParams::new("test_tool_with_progress"))
        .await
        .unwrap();
    assert_ne!(r.is_error, Some(true));
    let args = json!({"message": "via guard"});
    let Value::Object(args) = args else {
        unreachable!()
    };
    let r = client
        .call_tool(CallToolRequestParams::new("echo").with_arguments(args))
        .await
        .unwrap();
    let text = serde_json::to_value(&r).unwrap()["content"][0]["text"].clone();
    // The upstream never saw the token, so it knows no caller.
    assert_eq!(text, "via guard (echoed for anonymous)");
    client.cancel().await.unwrap();
}
