//! The client under test for the official MCP conformance harness
//! (`@modelcontextprotocol/conformance client --command …`).
//!
//! Run as `conformance-client <server-url>` with `MCP_CONFORMANCE_SCENARIO` (the scenario name)
//! and, for some scenarios, `MCP_CONFORMANCE_CONTEXT` (JSON: pre-registered client id and
//! secret, a private key PEM, enterprise IdP settings, workload JWTs). Everything goes through
//! `mcp-oauth-client` and its rmcp adapter; the authorization step uses the headless prompt,
//! which follows the mock authorization endpoint's redirect itself. The whole run has a 25 s
//! deadline (the harness allows 30 s and only kills the shell), and no fixed port is bound.

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use mcp_oauth_client::assertion::load_private_key_pem;
use mcp_oauth_client::enterprise::EnterpriseConfig;
use mcp_oauth_client::transport::{OAuthHttpClient, TransportError};
use mcp_oauth_client::{
    ClientAuth, ClientConfig, ClientRegistration, GrantMode, HeadlessPrompt, TokenManager,
};
use mcp_oauth_core::secret::Secret;
use rmcp::model::ClientJsonRpcMessage;
use rmcp::model::ProtocolVersion;
use rmcp::model::{
    CallToolRequestParams, ClientConfig as McpClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction,
};
use rmcp::service::{ClientLifecycleMode, RequestContext};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
    StreamableHttpPostResponse, StreamableHttpResponseLimits,
};
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt};
use serde_json::{Map, Value, json};
use sse_stream::Sse;
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// The Client ID Metadata Document URL the harness expects (`auth/basic-cimd`).
const CIMD_URL: &str = "https://conformance-test.local/client-metadata.json";

/// The whole run's deadline.
const DEADLINE: Duration = Duration::from_secs(25);

type AnyError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MCP_OAUTH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let Some(url) = std::env::args().skip(1).last() else {
        eprintln!("usage: conformance-client <server-url>");
        return ExitCode::from(2);
    };
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let context: Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null);
    match tokio::time::timeout(DEADLINE, run(&url, &scenario, &context)).await {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("conformance-client ({scenario}): {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!(
                "conformance-client ({scenario}): gave up after {} s",
                DEADLINE.as_secs()
            );
            ExitCode::FAILURE
        }
    }
}

fn ctx_str<'a>(ctx: &'a Value, key: &str) -> Result<&'a str, AnyError> {
    ctx.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("MCP_CONFORMANCE_CONTEXT has no {key}").into())
}

/// The client configuration a scenario needs.
fn config_for(scenario: &str, ctx: &Value) -> Result<ClientConfig, AnyError> {
    let config = ClientConfig::new()
        .allow_insecure_http(true)
        .timeout(Duration::from_secs(5))
        .callback_timeout(Duration::from_secs(10))
        .client_name("mcp-oauth conformance client")
        .client_metadata_document_url(CIMD_URL)
        // DPoP whenever the authorization server advertises it (the harness's `auth/dpop*`).
        .dpop(true);
    Ok(match scenario {
        "auth/client-credentials-jwt" => {
            let alg = ctx
                .get("signing_algorithm")
                .and_then(Value::as_str)
                .map(str::parse)
                .transpose()
                .map_err(|_| "unknown signing_algorithm")?;
            let key = load_private_key_pem(ctx_str(ctx, "private_key_pem")?, alg)?;
            config.grant(GrantMode::ClientCredentials).pre_registered(
                ClientRegistration::pre_registered(
                    ctx_str(ctx, "client_id")?,
                    ClientAuth::PrivateKeyJwt(Arc::new(key)),
                ),
            )
        }
        "auth/client-credentials-basic" => config
            .grant(GrantMode::ClientCredentials)
            .pre_registered(ClientRegistration::pre_registered(
                ctx_str(ctx, "client_id")?,
                ClientAuth::SecretBasic(Secret::new(ctx_str(ctx, "client_secret")?)),
            )),
        "auth/pre-registration" => config.pre_registered(ClientRegistration::pre_registered(
            ctx_str(ctx, "client_id")?,
            ClientAuth::Secret(Secret::new(ctx_str(ctx, "client_secret")?)),
        )),
        "auth/enterprise-managed-authorization" | "auth/cross-app-access-complete-flow" => {
            let mut enterprise = EnterpriseConfig::new(
                ctx_str(ctx, "idp_token_endpoint")?,
                ClientRegistration::pre_registered(
                    ctx_str(ctx, "idp_client_id")?,
                    ClientAuth::None,
                ),
                Secret::new(ctx_str(ctx, "idp_id_token")?),
            );
            enterprise.idp_issuer = Some(ctx_str(ctx, "idp_issuer")?.to_owned());
            config
                .grant(GrantMode::Enterprise(Box::new(enterprise)))
                .pre_registered(ClientRegistration::pre_registered(
                    ctx_str(ctx, "client_id")?,
                    ClientAuth::SecretBasic(Secret::new(ctx_str(ctx, "client_secret")?)),
                ))
        }
        "auth/wif-jwt-bearer" => config
            .grant(GrantMode::JwtBearer(Secret::new(ctx_str(
                ctx,
                "valid_jwt",
            )?)))
            .pre_registered(ClientRegistration::pre_registered(
                ctx_str(ctx, "client_id")?,
                ClientAuth::None,
            )),
        _ => config,
    })
}

/// Accepts every elicitation, filling in the defaults the requested schema declares
/// (SEP-1034).
#[derive(Debug, Clone)]
struct Handler;

impl ClientHandler for Handler {
    fn get_info(&self) -> McpClientConfig {
        serde_json::from_value(json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {"elicitation": {"form": {}}},
            "clientInfo": {"name": "mcp-oauth-conformance", "version": env!("CARGO_PKG_VERSION")}
        }))
        .unwrap_or_default()
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let mut content = Map::new();
        if let ElicitRequestParams::FormElicitationParams {
            requested_schema, ..
        } = &request
        {
            let schema = serde_json::to_value(requested_schema).unwrap_or(Value::Null);
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    if let Some(d) = prop.get("default") {
                        content.insert(name.clone(), d.clone());
                    }
                }
            }
        }
        Ok(ElicitResult::new(ElicitationAction::Accept).with_content(Value::Object(content)))
    }
}

/// Our rmcp adapter, plus a signal once the standalone GET stream is open. The harness's
/// elicitation mock sends its request on that stream without a related request id, and drops it
/// if the stream is not open yet; the scenario waits for the signal before calling the tool.
#[derive(Debug, Clone)]
struct Signaling {
    inner: OAuthHttpClient,
    stream_open: Arc<tokio::sync::Notify>,
}

impl StreamableHttpClient for Signaling {
    type Error = TransportError;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<TransportError>> {
        self.inner
            .post_message(uri, message, session_id, auth_header, custom_headers)
            .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, StreamableHttpError<TransportError>> {
        self.inner
            .post_message_with_response_limits(
                uri,
                message,
                session_id,
                auth_header,
                custom_headers,
                limits,
            )
            .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), StreamableHttpError<TransportError>> {
        self.inner
            .delete_session(uri, session_id, auth_header, custom_headers)
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<TransportError>>
    {
        let r = self
            .inner
            .get_stream(uri, session_id, last_event_id, auth_header, custom_headers)
            .await;
        self.stream_open.notify_one();
        r
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, StreamableHttpError<TransportError>>
    {
        let r = self
            .inner
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_header,
                custom_headers,
                max_sse_event_size,
            )
            .await;
        self.stream_open.notify_one();
        r
    }
}

async fn run(url: &str, scenario: &str, ctx: &Value) -> Result<(), AnyError> {
    let config = config_for(scenario, ctx)?;
    let prompt = Arc::new(HeadlessPrompt::from_settings(
        config.http_settings().clone(),
    )?);
    let manager = Arc::new(TokenManager::builder(config).prompt(prompt).build()?);
    let stream_open = Arc::new(tokio::sync::Notify::new());
    let http = Signaling {
        inner: OAuthHttpClient::new(manager, url)?,
        stream_open: stream_open.clone(),
    };
    let transport = StreamableHttpClientTransport::with_client(
        http,
        StreamableHttpClientTransportConfig::with_uri(url.to_owned()),
    );
    // 2026-07-28 has no initialize: `server/discover` and per-request `_meta` instead.
    let client = match std::env::var("MCP_CONFORMANCE_PROTOCOL_VERSION").as_deref() {
        Ok("2026-07-28") => {
            rmcp::service::serve_client_with_lifecycle(
                Handler,
                transport,
                ClientLifecycleMode::Discover {
                    preferred_versions: vec![ProtocolVersion::V_2026_07_28],
                },
            )
            .await?
        }
        _ => Handler.serve(transport).await?,
    };
    // These scenarios' servers answer on the standalone GET stream that rmcp opens after
    // `initialized`, on its own task. The sse-retry server delivers the pending tool result on
    // whichever GET arrives next: if that GET is the late standalone one instead of the reconnection
    // after the POST stream closes, the client never reconnects and the timing cannot be measured
    // (seen on a loaded machine). So the first request waits until that stream is open. Bounded: a
    // server without a GET stream answers at once (405), which also signals.
    if scenario.starts_with("elicitation") || scenario == "sse-retry" {
        let _ = tokio::time::timeout(Duration::from_secs(3), stream_open.notified()).await;
    }
    let result = exercise(&client, scenario).await;
    let _ = client.cancel().await;
    result
}

/// What the scenario's MCP server expects after connecting.
async fn exercise(
    client: &rmcp::service::RunningService<RoleClient, Handler>,
    scenario: &str,
) -> Result<(), AnyError> {
    let tools = client.list_all_tools().await?;
    let call = |name: &str, args: Value| {
        let mut p = CallToolRequestParams::new(name.to_owned());
        if let Value::Object(m) = args {
            p = p.with_arguments(m);
        }
        p
    };
    let has = |name: &str| tools.iter().any(|t| t.name == name);
    match scenario {
        "elicitation-sep1034-client-defaults" | "elicitation-defaults" => {
            client
                .call_tool(call("test_client_elicitation_defaults", json!({})))
                .await?;
        }
        _ if scenario.starts_with("auth/") => {
            if has("test-tool") {
                client.call_tool(call("test-tool", json!({}))).await?;
            }
        }
        _ => {
            if let Some(first) = tools.first() {
                client
                    .call_tool(call(&first.name, json!({"a": 2, "b": 3})))
                    .await?;
            }
        }
    }
    Ok(())
}
