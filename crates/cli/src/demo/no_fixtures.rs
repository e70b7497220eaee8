//! A binary built without the `conformance` feature has no conformance fixtures: `serve
//! --demo-public` is refused before the demo starts, so these are never asked for anything.

use super::server::DemoServer;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::{Map, Value};

/// No fixture tools.
pub fn tools() -> Vec<Value> {
    Vec::new()
}

/// No fixture tool.
pub async fn call_tool(
    _server: &DemoServer,
    _request: &CallToolRequestParams,
    _args: &Map<String, Value>,
    _ctx: &RequestContext<RoleServer>,
) -> Option<Result<CallToolResult, ErrorData>> {
    None
}

/// No fixture resources.
pub fn resources() -> Vec<Value> {
    Vec::new()
}

/// No fixture resource templates.
pub fn resource_templates() -> Vec<Value> {
    Vec::new()
}

/// No fixture resource.
pub fn read_resource(_uri: &str) -> Option<Value> {
    None
}

/// No fixture prompts.
pub fn prompts() -> Vec<Value> {
    Vec::new()
}

/// No fixture prompt.
pub fn get_prompt(_name: &str, _args: &Map<String, Value>) -> Option<Value> {
    None
}
