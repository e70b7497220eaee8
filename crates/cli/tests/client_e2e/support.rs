//! One HTTP listener on 127.0.0.1:0 serving our authorization server (SQLite in a temp dir, a
//! test clock) and, at `/mcp`, a small rmcp MCP server behind our guard; a prompt that drives the
//! real login and consent forms; a counter of token requests.

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use mcp_oauth_client::callback::LoopbackListener;
use mcp_oauth_client::prompt::{AuthorizationPrompt, PromptRequest};
use mcp_oauth_client::{ClientConfig, CredentialStore, TokenManager};
use mcp_oauth_core::clock::TestClock;
use mcp_oauth_core::form::OAuthParams;
use mcp_oauth_core::secret::Secret;
use mcp_oauth_resource::{JwtVerifier, PrmService, RequireBearerLayer, ScopePolicy, prm};
use mcp_oauth_server::admin::{self, NewClient};
use mcp_oauth_server::keys::kek::Kek;
use mcp_oauth_server::store::Store;
use mcp_oauth_server::store::sqlite::SqliteStore;
use mcp_oauth_server::{AuthorizationServer, ServerConfig};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig as McpServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tower::Layer;

pub const START: i64 = 1_800_000_000;
pub const M2M_CLIENT: &str = "m2m-app";

/// The MCP server under the guard: `echo` needs `mcp:tools`, `admin_reset` also `mcp:admin`.
#[derive(Debug, Clone, Default)]
pub struct Tools;

impl ServerHandler for Tools {
    fn get_info(&self) -> McpServerConfig {
        let caps: ServerCapabilities =
            serde_json::from_value(json!({"tools": {}})).unwrap_or_default();
        McpServerConfig::new(caps).with_server_info(Implementation::new("e2e", "1"))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        serde_json::from_value(json!({"tools": [
            {"name": "echo", "description": "Echoes `text`", "inputSchema": {"type": "object"}},
            {"name": "admin_reset", "description": "Needs mcp:admin", "inputSchema": {"type": "object"}}
        ]}))
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.clone().unwrap_or_default();
        let text = match request.name.as_ref() {
            "echo" => args
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            "admin_reset" => "reset".to_owned(),
            other => return Err(ErrorData::invalid_params(format!("no tool {other}"), None)),
        };
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }
}

pub struct Env {
    pub base: String,
    pub mcp_url: String,
    pub clock: TestClock,
    pub m2m_secret: String,
    /// POSTs to /token seen so far, by grant type.
    pub refreshes: Arc<AtomicUsize>,
    pub http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
    pub dir: tempfile::TempDir,
    /// The authorization server's store, for tests that register more.
    pub store: Arc<dyn Store>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn count_refreshes(
    State(counter): State<Arc<AtomicUsize>>,
    req: Request,
    next: Next,
) -> Response {
    let is_token = req.uri().path() == "/token";
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    if is_token && String::from_utf8_lossy(&bytes).contains("grant_type=refresh_token") {
        counter.fetch_add(1, Ordering::SeqCst);
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

impl Env {
    pub async fn start() -> Self {
        Self::start_with(false).await
    }

    /// [`Env::start`], the guard asking for DPoP nonces (RFC 9449 §9) when `guard_nonces`.
    pub async fn start_with(guard_nonces: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("db.sqlite"))
                .await
                .unwrap(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let mcp_url = format!("{base}/mcp");
        let mut config = ServerConfig::new(base.clone());
        config.dev = true;
        let config = config.validate().unwrap();
        let clock = TestClock::new(START);
        let server = AuthorizationServer::new(
            config,
            store.clone(),
            Kek::generate().unwrap(),
            Arc::new(clock.clone()),
        )
        .await
        .unwrap();
        let scopes = ["mcp:tools=Use tools", "mcp:admin=Administer"]
            .iter()
            .map(|s| admin::parse_scope_def(s).unwrap())
            .collect();
        admin::add_resource(store.as_ref(), &mcp_url, "E2E MCP", scopes, START)
            .await
            .unwrap();
        admin::add_user(store.as_ref(), "alice", Secret::new("wonderland"), START)
            .await
            .unwrap();
        let (_, m2m_secret) = admin::add_client(
            store.as_ref(),
            NewClient {
                name: "Machine".into(),
                grant_types: vec!["client_credentials".into()],
                client_id: Some(M2M_CLIENT.into()),
                scope: Some(mcp_oauth_core::ScopeSet::parse("mcp:tools").unwrap()),
                // Introspection is for resource servers: this one stands in for the MCP server.
                introspect_resources: vec![mcp_url.clone()],
                ..Default::default()
            },
            START,
        )
        .await
        .unwrap();

        // The guarded MCP server, trusting the AS through its JWKS, on the same clock.
        let policy = ScopePolicy::new()
            .method("tools/*", "mcp:tools")
            .tool("admin_reset", "mcp:tools mcp:admin")
            .public_handshake();
        let mut meta = prm::metadata(mcp_url.clone(), [base.clone()]);
        // Advertise only the everyday scope, so that `admin_reset` needs a step-up.
        meta.scopes_supported = Some(vec!["mcp:tools".to_owned()]);
        let verifier = JwtVerifier::builder(base.clone(), mcp_url.clone())
            .insecure_allow_http(true)
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
        let guard = RequireBearerLayer::builder(mcp_url.clone(), verifier)
            .policy(policy)
            .dpop(mcp_oauth_resource::dpop::DpopSettings {
                clock: Arc::new(clock.clone()),
                nonces: guard_nonces
                    .then(|| Arc::new(mcp_oauth_core::dpop::nonce::NonceKey::random())),
                ..Default::default()
            })
            .build()
            .unwrap();
        let mcp = StreamableHttpService::new(
            || Ok(Tools),
            Arc::new(LocalSessionManager::default()),
            StreamableHttpServerConfig::default().with_sse_keep_alive(None),
        );
        let refreshes = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route_service("/mcp", guard.layer(mcp))
            .merge(PrmService::new(meta).unwrap().router())
            .merge(server.router())
            .layer(axum::middleware::from_fn_with_state(
                refreshes.clone(),
                count_refreshes,
            ))
            .into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            base,
            mcp_url,
            clock,
            m2m_secret: m2m_secret.unwrap().expose().to_owned(),
            refreshes,
            http: reqwest::Client::new(),
            task,
            dir,
            store,
        }
    }

    /// A token manager with a form-driving prompt and the test clock.
    pub fn manager(&self, store: Arc<dyn CredentialStore>) -> Arc<TokenManager> {
        self.manager_with(store, Arc::new(FormPrompt::default()))
    }

    /// A token manager with `prompt` and the test clock.
    pub fn manager_with(
        &self,
        store: Arc<dyn CredentialStore>,
        prompt: Arc<FormPrompt>,
    ) -> Arc<TokenManager> {
        let config = ClientConfig::new()
            .allow_insecure_http(true)
            .callback_timeout(Duration::from_secs(10));
        Arc::new(
            TokenManager::builder(config)
                .store(store)
                .prompt(prompt)
                .clock(Arc::new(self.clock.clone()))
                .build()
                .unwrap(),
        )
    }

    /// RFC 7662 introspection with the confidential machine client.
    pub async fn introspect(&self, token: &str) -> Value {
        self.http
            .post(format!("{}/introspect", self.base))
            .basic_auth(M2M_CLIENT, Some(&self.m2m_secret))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

/// Signs in as alice through the real login and consent pages (a cookie-keeping HTTP client),
/// then delivers the final redirect to the client's loopback listener.
#[derive(Debug, Default)]
pub struct FormPrompt {
    /// How many times a user was taken through the pages.
    pub logins: AtomicUsize,
}

/// Signs in as alice on the login page at `authorization_url`, approves the consent page, and
/// returns the final redirect's `Location`.
pub async fn sign_in(authorization_url: &str) -> String {
    crate::pages::sign_in(authorization_url, "alice", "wonderland").await
}

#[async_trait::async_trait]
impl AuthorizationPrompt for FormPrompt {
    async fn authorize(
        &self,
        request: &PromptRequest,
        listener: LoopbackListener,
    ) -> mcp_oauth_client::Result<OAuthParams> {
        self.logins.fetch_add(1, Ordering::SeqCst);
        let location = sign_in(&request.authorization_url).await;
        assert!(location.starts_with(&request.redirect_uri), "{location}");
        // The browser follows the redirect to the loopback listener; its page waits for the
        // outcome of the code exchange, which comes after this prompt returns.
        let page = tokio::spawn(async move { reqwest::get(&location).await });
        let params = listener.wait(request.timeout).await;
        drop(page);
        params
    }
}
