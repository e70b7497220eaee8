//! The server as clients meet it, over real HTTP on 127.0.0.1: a request without a token gets
//! the `401` challenge that starts OAuth, and a call with a token from a real authorization
//! server (mcp-oauth's, in this process, in memory) succeeds; a tool needing more scope is
//! refused with `403 insufficient_scope`.

use mcp_oauth_core::clock::SystemClock;
use mcp_oauth_server::admin::{self, NewClient};
use mcp_oauth_server::keys::kek::Kek;
use mcp_oauth_server::store::Store;
use mcp_oauth_server::store::memory::MemoryStore;
use mcp_oauth_server::{AuthorizationServer, ServerConfig};
use mcp_server::{BASE_SCOPE, PROFILE_SCOPE, Settings, app};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

/// A task serving `router` on `listener`, aborted on drop (also when an assertion fails).
struct Served(tokio::task::JoinHandle<()>);

impl Drop for Served {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The authorization server: the resource with both scopes, a machine client; its issuer and
/// the client's secret.
async fn authorization_server(resource: &str) -> (String, String, Served) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let mut config = ServerConfig::new(issuer.clone());
    config.dev = true;
    let server = AuthorizationServer::new(
        config.validate().unwrap(),
        store.clone(),
        Kek::generate().unwrap(),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let now = server.state().now();
    let scopes = [BASE_SCOPE, PROFILE_SCOPE]
        .iter()
        .map(|s| admin::parse_scope_def(s).unwrap())
        .collect();
    admin::add_resource(store.as_ref(), resource, "Test", scopes, now)
        .await
        .unwrap();
    let (_, secret) = admin::add_client(
        store.as_ref(),
        NewClient {
            name: "Test bot".into(),
            grant_types: vec!["client_credentials".into()],
            client_id: Some("bot".into()),
            ..Default::default()
        },
        now,
    )
    .await
    .unwrap();
    let app = server
        .router()
        .into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (issuer, secret.unwrap().expose().to_owned(), Served(task))
}

/// One JSON-RPC message from a JSON or an SSE (`data:` lines) response body.
fn message(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .find_map(|d| serde_json::from_str(d.trim()).ok())
            .unwrap_or(Value::Null)
    })
}

#[tokio::test]
async fn challenges_without_a_token_and_serves_with_one() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let resource = format!("http://{}/mcp", listener.local_addr().unwrap());
    let (issuer, secret, _as) = authorization_server(&resource).await;
    let settings = Settings {
        issuer: issuer.clone(),
        resource: resource.clone(),
        addr: String::new(),
        allowed_origins: Vec::new(),
    };
    let router = app(&settings).unwrap();
    let _mcp = Served(tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    }));
    let http = reqwest::Client::new();
    let post = |body: Value, token: Option<&str>, session: Option<&str>| {
        let mut req = http
            .post(&resource)
            .header("Accept", "application/json, text/event-stream")
            .json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(s) = session {
            req = req.header("Mcp-Session-Id", s);
        }
        req.send()
    };
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"}}});

    // Without a token: 401 and the challenge that tells a client where to authorize.
    let r = post(initialize.clone(), None, None).await.unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        challenge.contains(&format!("scope=\"{BASE_SCOPE}\"")),
        "{challenge}"
    );
    assert!(challenge.contains("resource_metadata="), "{challenge}");
    let prm: Value = http
        .get(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            issuer_of(&resource)
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["resource"], resource.as_str());
    assert_eq!(prm["authorization_servers"][0], issuer.as_str());

    // A token for this resource with the base scope, from the authorization server.
    let tok: Value = http
        .post(format!("{issuer}/token"))
        .basic_auth("bot", Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("resource", resource.as_str()),
            ("scope", BASE_SCOPE),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = tok["access_token"].as_str().expect("a token").to_owned();

    let r = post(initialize, Some(&token), None).await.unwrap();
    assert_eq!(r.status(), 200);
    let session = r
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(message(&r.text().await.unwrap())["result"]["serverInfo"].is_object());
    let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let r = post(note, Some(&token), session.as_deref()).await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());

    let call = |id: u64, name: &str, args: Value| {
        json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
               "params": {"name": name, "arguments": args}})
    };
    let r = post(
        call(2, "echo", json!({"text": "hi"})),
        Some(&token),
        session.as_deref(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let reply = message(&r.text().await.unwrap());
    assert_eq!(reply["result"]["content"][0]["text"], "hi", "{reply}");

    // `whoami` needs the extra scope: 403 with the scope to step up to.
    let r = post(
        call(3, "whoami", json!({})),
        Some(&token),
        session.as_deref(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
    assert!(challenge.contains(PROFILE_SCOPE), "{challenge}");
}

/// `http://host:port` of a URL.
fn issuer_of(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    u.origin().ascii_serialization()
}
