//! The demo MCP server (rmcp): tools, resources and prompts that show what the guard protects,
//! and the fixtures of the official conformance harness.
//!
//! Model values are written as JSON and decoded into rmcp's types: the demo stays readable and
//! independent of the builder style of each rmcp model type.

// Logging, sampling and resource subscriptions are deprecated for protocol 2026-07-28 (SEP-2577),
// but the 2025-11-25 revision, which clients and the conformance harness speak, has them.
#![allow(deprecated)]

use super::fixtures;
use mcp_oauth_resource::Principal;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams, CompleteResult,
    GetPromptRequestParams, GetPromptResponse, GetPromptResult, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, LoggingLevel,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
    ServerCapabilities, ServerConfig, SetLevelRequestParams, SubscribeRequestParams,
    UnsubscribeRequestParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// State shared by every session of the demo server.
#[derive(Debug)]
pub struct Shared {
    counter: AtomicU64,
    started: Instant,
    conformance: bool,
    /// The authorization server in this process, when it has upstreams: `upstream_account`.
    federation: Option<mcp_oauth_server::AppState>,
}

impl Shared {
    /// Fresh state; `conformance` also lists the conformance harness's fixtures; `federation`
    /// (the in-process authorization server, with upstreams) adds `upstream_account`.
    pub fn new(conformance: bool, federation: Option<mcp_oauth_server::AppState>) -> Arc<Self> {
        Arc::new(Self {
            counter: AtomicU64::new(0),
            started: Instant::now(),
            conformance,
            federation,
        })
    }
}

/// One session of the demo MCP server.
#[derive(Debug, Clone)]
pub struct DemoServer {
    shared: Arc<Shared>,
    /// The level set by `logging/setLevel` (per session).
    log_level: Arc<Mutex<LoggingLevel>>,
}

/// Decodes a JSON value into an rmcp model type; a mismatch is a server bug, reported as an
/// internal JSON-RPC error (never a panic).
pub(crate) fn from_json<T: DeserializeOwned>(v: Value) -> Result<T, ErrorData> {
    serde_json::from_value(v).map_err(|e| {
        tracing::error!(target: "mcp_oauth::demo", error = %e, "demo model value does not decode");
        ErrorData::internal_error("internal error", None)
    })
}

/// A successful tool result with one text block.
pub(crate) fn text_result(text: impl Into<String>) -> Result<CallToolResult, ErrorData> {
    from_json(json!({"content": [{"type": "text", "text": text.into()}]}))
}

/// A tool error (`isError: true`): the tool ran and failed; the caller sees the message.
pub(crate) fn tool_error(text: impl Into<String>) -> Result<CallToolResult, ErrorData> {
    from_json(json!({"isError": true, "content": [{"type": "text", "text": text.into()}]}))
}

/// The verified caller, as the guard put it into the HTTP request's extensions. rmcp's
/// streamable HTTP service hands the request's `http::request::Parts` to every handler through
/// `RequestContext::extensions`.
pub fn principal(ctx: &RequestContext<RoleServer>) -> Option<Principal> {
    ctx.extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Principal>())
        .cloned()
}

fn arg_str<'a>(args: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    args.get(name).and_then(Value::as_str)
}

fn arg_f64(args: &Map<String, Value>, name: &str) -> Option<f64> {
    args.get(name).and_then(Value::as_f64)
}

#[cfg(feature = "conformance")]
fn level_rank(l: LoggingLevel) -> u8 {
    match l {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

/// The demo's own tools (fixtures come from [`fixtures::tools`]).
fn demo_tools() -> Value {
    json!([
        {
            "name": "echo",
            "description": "Echo a message back, naming the authenticated caller.",
            "inputSchema": {"type": "object", "properties": {
                "message": {"type": "string", "description": "The text to echo"}},
                "required": ["message"]},
            "annotations": {"readOnlyHint": true, "openWorldHint": false}
        },
        {
            "name": "whoami",
            "description": "Show the verified caller: subject, client, scopes and issuer of the access token.",
            "inputSchema": {"type": "object", "properties": {}},
            "annotations": {"readOnlyHint": true, "openWorldHint": false}
        },
        {
            "name": "calculator",
            "description": "Add, subtract, multiply or divide two numbers. Division by zero is a tool error.",
            "inputSchema": {"type": "object", "properties": {
                "operation": {"type": "string", "enum": ["add", "subtract", "multiply", "divide"]},
                "a": {"type": "number"},
                "b": {"type": "number"}},
                "required": ["operation", "a", "b"]},
            "annotations": {"readOnlyHint": true, "openWorldHint": false}
        },
        {
            "name": "system_info",
            "description": "Operating system, architecture, CPUs and uptime of the server (scope system:read).",
            "inputSchema": {"type": "object", "properties": {}},
            "annotations": {"readOnlyHint": true, "openWorldHint": false}
        },
        {
            "name": "increment_counter",
            "description": "Add one to the shared counter and return its new value.",
            "inputSchema": {"type": "object", "properties": {}},
            "annotations": {"readOnlyHint": false, "destructiveHint": false, "idempotentHint": false}
        },
        {
            "name": "reset_counter",
            "description": "Reset the shared counter to zero (destructive; scope mcp:admin).",
            "inputSchema": {"type": "object", "properties": {}},
            "annotations": {"readOnlyHint": false, "destructiveHint": true, "idempotentHint": true}
        }
    ])
}

/// The metrics document of `demo://system/metrics`.
fn metrics(shared: &Shared) -> Value {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned));
    json!({
        "uptime_seconds": shared.started.elapsed().as_secs(),
        "counter": shared.counter.load(Ordering::SeqCst),
        "load_average_1m": load,
    })
}

/// The platform document of `demo://system/platform`.
fn platform() -> Value {
    json!({
        "os": std::env::consts::OS,
        "family": std::env::consts::FAMILY,
        "arch": std::env::consts::ARCH,
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "server": concat!("mcp-oauth ", env!("CARGO_PKG_VERSION")),
    })
}

impl DemoServer {
    /// A session over the shared state.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            log_level: Arc::new(Mutex::new(LoggingLevel::Info)),
        }
    }

    /// Sends a log notification if the session's level lets it through (only the conformance
    /// fixtures log).
    #[cfg(feature = "conformance")]
    pub(crate) async fn log(
        &self,
        ctx: &RequestContext<RoleServer>,
        level: LoggingLevel,
        msg: &str,
    ) {
        let min = *self.log_level.lock().unwrap_or_else(|e| e.into_inner());
        if level_rank(level) < level_rank(min) {
            return;
        }
        #[allow(deprecated)]
        let sent = ctx
            .peer
            .notify_logging_message(rmcp::model::LoggingMessageNotificationParam::new(
                level,
                json!(msg),
            ))
            .await;
        if let Err(e) = sent {
            tracing::debug!(target: "mcp_oauth::demo", error = %e, "log notification not sent");
        }
    }

    async fn call_demo_tool(
        &self,
        name: &str,
        args: &Map<String, Value>,
        ctx: &RequestContext<RoleServer>,
    ) -> Option<Result<CallToolResult, ErrorData>> {
        let caller = principal(ctx);
        let subject = caller
            .as_ref()
            .and_then(|p| p.subject.clone())
            .unwrap_or_else(|| "anonymous".to_owned());
        Some(match name {
            "echo" => match arg_str(args, "message") {
                Some(m) => text_result(format!("{m} (echoed for {subject})")),
                None => tool_error("`message` (a string) is required"),
            },
            "whoami" => match &caller {
                Some(p) => text_result(
                    json!({
                        "subject": p.subject,
                        "client_id": p.client_id,
                        "scopes": p.scopes.to_string(),
                        "issuer": p.issuer,
                        "audience": p.audience,
                    })
                    .to_string(),
                ),
                None => text_result("anonymous: this request carried no access token"),
            },
            "calculator" => calculate(args),
            "upstream_account" => match &self.shared.federation {
                Some(state) => super::upstream_account::call(state, caller.as_ref()).await,
                None => return None,
            },
            "system_info" => text_result(
                json!({"platform": platform(), "metrics": metrics(&self.shared)}).to_string(),
            ),
            "increment_counter" => {
                let v = self.shared.counter.fetch_add(1, Ordering::SeqCst) + 1;
                text_result(format!("counter = {v}"))
            }
            "reset_counter" => {
                let old = self.shared.counter.swap(0, Ordering::SeqCst);
                tracing::info!(target: "mcp_oauth::demo", subject = %subject, old, "counter reset");
                text_result(format!("counter reset (was {old})"))
            }
            _ => return None,
        })
    }
}

fn calculate(args: &Map<String, Value>) -> Result<CallToolResult, ErrorData> {
    let (Some(op), Some(a), Some(b)) = (
        arg_str(args, "operation"),
        arg_f64(args, "a"),
        arg_f64(args, "b"),
    ) else {
        return tool_error(
            "`operation` (add, subtract, multiply, divide), `a` and `b` are required",
        );
    };
    let r = match op {
        "add" => a + b,
        "subtract" => a - b,
        "multiply" => a * b,
        "divide" if b == 0.0 => return tool_error("division by zero"),
        "divide" => a / b,
        other => return tool_error(format!("unknown operation `{other}`")),
    };
    text_result(format!("{r}"))
}

impl ServerHandler for DemoServer {
    fn get_info(&self) -> ServerConfig {
        let caps: ServerCapabilities = serde_json::from_value(json!({
            "tools": {}, "resources": {"subscribe": true}, "prompts": {},
            "logging": {}, "completions": {},
        }))
        .unwrap_or_default();
        ServerConfig::new(caps)
            .with_server_info(Implementation::new(
                "mcp-oauth-demo",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "A demo MCP server behind the mcp-oauth guard: tools need mcp:tools, \
                 system_info system:read, reset_counter mcp:admin; resources mcp:resources; \
                 prompts mcp:prompts.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut tools = match demo_tools() {
            Value::Array(t) => t,
            _ => Vec::new(),
        };
        if self.shared.federation.is_some() {
            tools.push(super::upstream_account::tool());
        }
        if self.shared.conformance {
            tools.extend(fixtures::tools());
        }
        from_json(json!({ "tools": tools }))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.clone().unwrap_or_default();
        if let Some(r) = self.call_demo_tool(&request.name, &args, &ctx).await {
            return r.map(Into::into);
        }
        if self.shared.conformance
            && let Some(r) = fixtures::call_tool(self, &request, &args, &ctx).await
        {
            return r.map(Into::into);
        }
        Err(ErrorData::invalid_params(
            format!("unknown tool `{}`", request.name),
            None,
        ))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let mut resources = vec![
            json!({"uri": "demo://system/metrics", "name": "system-metrics", "title": "System metrics",
                   "description": "Uptime, load and the shared counter", "mimeType": "application/json"}),
            json!({"uri": "demo://system/platform", "name": "platform-info", "title": "Platform information",
                   "description": "Operating system, architecture and CPUs", "mimeType": "application/json"}),
        ];
        if self.shared.conformance {
            resources.extend(fixtures::resources());
        }
        from_json(json!({ "resources": resources }))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let templates = if self.shared.conformance {
            fixtures::resource_templates()
        } else {
            Vec::new()
        };
        from_json(json!({ "resourceTemplates": templates }))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let json_doc = |v: Value| {
            json!({"contents": [{"uri": request.uri, "mimeType": "application/json",
                                 "text": v.to_string()}]})
        };
        let doc = match request.uri.as_str() {
            "demo://system/metrics" => json_doc(metrics(&self.shared)),
            "demo://system/platform" => json_doc(platform()),
            uri => match self
                .shared
                .conformance
                .then(|| fixtures::read_resource(uri))
                .flatten()
            {
                Some(doc) => doc,
                None => {
                    return Err(ErrorData::resource_not_found(
                        format!("no resource `{uri}`"),
                        None,
                    ));
                }
            },
        };
        from_json::<ReadResourceResult>(doc).map(Into::into)
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        _request: SubscribeRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        _request: UnsubscribeRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        Ok(())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let mut prompts = vec![json!({
            "name": "system_report",
            "title": "System report",
            "description": "Ask the model to summarise the server's metrics.",
            "arguments": [{"name": "focus", "description": "What to focus on (optional)", "required": false}]
        })];
        if self.shared.conformance {
            prompts.extend(fixtures::prompts());
        }
        from_json(json!({ "prompts": prompts }))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let args = request.arguments.clone().unwrap_or_default();
        let doc = if request.name == "system_report" {
            let focus = arg_str(&args, "focus").unwrap_or("anything unusual");
            json!({"description": "System report", "messages": [{"role": "user", "content": {
                "type": "text",
                "text": format!("Summarise these server metrics, focusing on {focus}:\n{}",
                                metrics(&self.shared))}}]})
        } else {
            match self
                .shared
                .conformance
                .then(|| fixtures::get_prompt(&request.name, &args))
                .flatten()
            {
                Some(doc) => doc,
                None => {
                    return Err(ErrorData::invalid_params(
                        format!("unknown prompt `{}`", request.name),
                        None,
                    ));
                }
            }
        };
        from_json::<GetPromptResult>(doc).map(Into::into)
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        let typed = request.argument.value.to_ascii_lowercase();
        let values: Vec<&str> = ["metrics", "load", "uptime", "counter", "platform"]
            .into_iter()
            .filter(|v| v.starts_with(&typed))
            .collect();
        from_json(
            json!({"completion": {"values": values, "total": values.len(), "hasMore": false}}),
        )
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        *self.log_level.lock().unwrap_or_else(|e| e.into_inner()) = request.level;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    fn text_of(r: &CallToolResult) -> String {
        serde_json::to_value(r).unwrap()["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn calculator_and_division_by_zero() {
        let r = calculate(&args(json!({"operation": "multiply", "a": 6, "b": 7}))).unwrap();
        assert_eq!(text_of(&r), "42");
        assert_ne!(r.is_error, Some(true));
        let r = calculate(&args(json!({"operation": "divide", "a": 1, "b": 0}))).unwrap();
        assert_eq!(r.is_error, Some(true));
        assert_eq!(text_of(&r), "division by zero");
        let r = calculate(&args(json!({"operation": "pow", "a": 1, "b": 0}))).unwrap();
        assert_eq!(r.is_error, Some(true));
    }

    #[test]
    fn models_decode() {
        let _: ListToolsResult = from_json(json!({"tools": demo_tools()})).unwrap();
        if cfg!(not(feature = "conformance")) {
            return;
        }
        let _: ListToolsResult = from_json(json!({"tools": fixtures::tools()})).unwrap();
        let _: ListResourcesResult =
            from_json(json!({"resources": fixtures::resources()})).unwrap();
        let _: ListResourceTemplatesResult =
            from_json(json!({"resourceTemplates": fixtures::resource_templates()})).unwrap();
        let _: ListPromptsResult = from_json(json!({"prompts": fixtures::prompts()})).unwrap();
        for uri in [
            "test://static-text",
            "test://static-binary",
            "test://template/7/data",
        ] {
            let _: ReadResourceResult = from_json(fixtures::read_resource(uri).unwrap()).unwrap();
        }
        let empty = Map::new();
        for p in [
            "test_simple_prompt",
            "test_prompt_with_arguments",
            "test_prompt_with_embedded_resource",
            "test_prompt_with_image",
        ] {
            let _: GetPromptResult = from_json(fixtures::get_prompt(p, &empty).unwrap()).unwrap();
        }
    }
}
