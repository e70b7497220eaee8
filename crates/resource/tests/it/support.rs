//! Real servers on 127.0.0.1:0 for the integration tests: a small issuer (RFC 8414 metadata,
//! JWKS, introspection) and an echo MCP endpoint behind the guard. Every server is aborted when
//! its handle is dropped.

use axum::Router;
use axum::extract::{Form, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine;
use http_body_util::BodyExt;
use mcp_oauth_core::clock::TestClock;
use mcp_oauth_core::jose::{Algorithm, JwkSet, SigningKey};
use mcp_oauth_core::token::IntrospectionResponse;
use mcp_oauth_resource::{Principal, RequireBearerLayer};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub const NOW: i64 = 1_800_000_000;
pub const RS_CLIENT: &str = "resource-server";
pub const RS_SECRET: &str = "rs secret:with/odd&chars";

/// A server task, aborted on drop.
pub struct Server {
    handle: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

pub async fn listener() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    (l, base)
}

pub fn serve(listener: TcpListener, app: Router) -> Server {
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server { handle }
}

pub fn test_clock() -> TestClock {
    TestClock::new(NOW)
}

/// The issuer's state, observable by the tests.
pub struct IssuerState {
    pub issuer: String,
    pub published: Mutex<Vec<Arc<SigningKey>>>,
    pub jwks_fetches: AtomicUsize,
    pub introspections: AtomicUsize,
    pub introspection: Mutex<HashMap<String, IntrospectionResponse>>,
}

pub struct Issuer {
    pub url: String,
    pub state: Arc<IssuerState>,
    pub key: Arc<SigningKey>,
    _server: Server,
}

impl Issuer {
    /// An issuer at `http://127.0.0.1:<port>` publishing one ES256 key.
    pub async fn start() -> Issuer {
        let (l, url) = listener().await;
        let key = Arc::new(SigningKey::generate(Algorithm::ES256).unwrap());
        let state = Arc::new(IssuerState {
            issuer: url.clone(),
            published: Mutex::new(vec![key.clone()]),
            jwks_fetches: AtomicUsize::new(0),
            introspections: AtomicUsize::new(0),
            introspection: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/.well-known/oauth-authorization-server", get(metadata))
            .route("/jwks", get(jwks))
            .route("/introspect", post(introspect))
            .with_state(state.clone());
        let server = serve(l, app);
        Issuer {
            url,
            state,
            key,
            _server: server,
        }
    }

    /// Adds a key to the published JWKS.
    pub fn publish(&self, key: Arc<SigningKey>) {
        self.state.published.lock().unwrap().push(key);
    }

    /// Removes a key from the published JWKS.
    pub fn withdraw(&self, kid: &str) {
        self.state
            .published
            .lock()
            .unwrap()
            .retain(|k| k.kid() != kid);
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn introspections(&self) -> usize {
        self.state.introspections.load(Ordering::SeqCst)
    }

    /// Standard RFC 9068 claims for `aud` with `scope`.
    pub fn claims(&self, aud: &str, scope: &str) -> Value {
        json!({
            "iss": self.url, "sub": "alice", "aud": aud, "exp": NOW + 300, "iat": NOW,
            "jti": "jti-1", "client_id": "client-1", "scope": scope,
        })
    }

    /// An `at+jwt` signed with the issuer's published key.
    pub fn token(&self, aud: &str, scope: &str) -> String {
        self.key.sign("at+jwt", &self.claims(aud, scope)).unwrap()
    }

    /// Registers an opaque token at the introspection endpoint.
    pub fn register_opaque(&self, token: &str, answer: IntrospectionResponse) {
        self.state
            .introspection
            .lock()
            .unwrap()
            .insert(token.to_owned(), answer);
    }
}

async fn metadata(State(s): State<Arc<IssuerState>>) -> impl IntoResponse {
    axum::Json(json!({
        "issuer": s.issuer,
        "jwks_uri": format!("{}/jwks", s.issuer),
        "introspection_endpoint": format!("{}/introspect", s.issuer),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(s): State<Arc<IssuerState>>) -> impl IntoResponse {
    s.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys = s
        .published
        .lock()
        .unwrap()
        .iter()
        .map(|k| k.public_jwk().clone())
        .collect();
    axum::Json(JwkSet { keys })
}

async fn introspect(
    State(s): State<Arc<IssuerState>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> axum::response::Response {
    s.introspections.fetch_add(1, Ordering::SeqCst);
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            enc(RS_CLIENT),
            enc(RS_SECRET)
        ))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let answer = form
        .get("token")
        .and_then(|t| s.introspection.lock().unwrap().get(t).cloned())
        .unwrap_or_else(IntrospectionResponse::inactive);
    axum::Json(answer).into_response()
}

/// A guarded echo endpoint at `{base}/mcp`.
pub struct Guarded {
    pub resource: String,
    pub base: String,
    _server: Server,
}

/// Starts the echo MCP endpoint behind the layer `make(resource)` builds.
pub async fn guarded(make: impl FnOnce(&str) -> RequireBearerLayer) -> Guarded {
    guarded_app(|resource| {
        Router::new()
            .route("/mcp", post(echo).get(echo))
            .layer(make(resource))
    })
    .await
}

/// Starts any app built for the resource `{base}/mcp`.
pub async fn guarded_app(make: impl FnOnce(&str) -> Router) -> Guarded {
    let (l, base) = listener().await;
    let resource = format!("{base}/mcp");
    let app = make(&resource);
    let server = serve(l, app);
    Guarded {
        resource,
        base,
        _server: server,
    }
}

/// Echoes the principal and the body it received.
pub async fn echo(req: Request) -> axum::Json<Value> {
    let principal = req.extensions().get::<Principal>().cloned();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    axum::Json(json!({
        "subject": principal.as_ref().and_then(|p| p.subject.clone()),
        "client_id": principal.as_ref().and_then(|p| p.client_id.clone()),
        "issuer": principal.as_ref().map(|p| p.issuer.clone()),
        "scopes": principal.as_ref().map(|p| p.scopes.to_string()),
        "body": String::from_utf8_lossy(&body),
    }))
}

/// One response, with the guarantee checked on every response of the suite: never a 500.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn challenge(&self) -> mcp_oauth_core::challenge::BearerChallenge {
        let h = self
            .headers
            .get("www-authenticate")
            .expect("a WWW-Authenticate header")
            .to_str()
            .unwrap();
        mcp_oauth_core::challenge::find_bearer([h]).expect("a Bearer challenge")
    }

    pub fn error(&self) -> Option<String> {
        self.challenge().error
    }
}

pub async fn send(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.unwrap();
    let status = resp.status();
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "never a 500");
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

/// POSTs a JSON-RPC body to `{base}/mcp` with an optional token.
pub async fn rpc(base: &str, token: Option<&str>, body: &Value) -> Reply {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).unwrap());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    send(req).await
}

pub fn tools_list() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
}

pub fn tool_call(id: u64, name: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": {}}})
}

/// Base64url without padding, for hand-made JWTs.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Sends raw bytes to `base` (`http://host:port`) and returns the response's status line and
/// headers, for requests reqwest will not make (chunked bodies, odd headers).
pub async fn raw_http(base: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    assert!(!text.starts_with("HTTP/1.1 500"), "never a 500");
    text
}
