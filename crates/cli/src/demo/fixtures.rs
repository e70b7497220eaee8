//! The fixtures the official MCP conformance harness expects of a server under test
//! (`@modelcontextprotocol/conformance`, server suite): `test_*` tools, `test://` resources and
//! `test_*` prompts. Listed only in the demo's conformance mode (`serve --demo-public`).

// Logging, sampling and resource subscriptions are deprecated for protocol 2026-07-28 (SEP-2577),
// but the 2025-11-25 revision, which clients and the conformance harness speak, has them.
#![allow(deprecated)]

use super::server::{DemoServer, from_json, text_result, tool_error};
use rmcp::model::{CallToolRequestParams, CallToolResult, LoggingLevel, ProgressNotificationParam};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// A 1×1 red PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
/// An empty 8 kHz mono WAV file.
const WAV: &str = "UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=";

fn no_args(name: &str, description: &str) -> Value {
    json!({"name": name, "description": description,
           "inputSchema": {"type": "object", "properties": {}}})
}

/// The fixture tools.
pub fn tools() -> Vec<Value> {
    vec![
        no_args("test_simple_text", "Returns simple text"),
        no_args("test_image_content", "Returns an image"),
        no_args("test_audio_content", "Returns audio"),
        no_args("test_embedded_resource", "Returns an embedded resource"),
        no_args(
            "test_multiple_content_types",
            "Returns text, image and resource",
        ),
        no_args("test_tool_with_logging", "Sends three log notifications"),
        no_args("test_error_handling", "Always fails with a tool error"),
        no_args("test_tool_with_progress", "Reports progress 0, 50, 100"),
        json!({"name": "test_sampling", "description": "Asks the client's LLM",
               "inputSchema": {"type": "object", "properties": {"prompt": {"type": "string"}},
                               "required": ["prompt"]}}),
        json!({"name": "test_elicitation", "description": "Asks the user for input",
               "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}},
                               "required": ["message"]}}),
        no_args(
            "test_elicitation_sep1034_defaults",
            "Elicitation with defaults (SEP-1034)",
        ),
        no_args(
            "test_elicitation_sep1330_enums",
            "Elicitation with enum schemas (SEP-1330)",
        ),
    ]
}

fn embedded(uri: &str, mime: &str, text: &str) -> Value {
    json!({"type": "resource", "resource": {"uri": uri, "mimeType": mime, "text": text}})
}

/// Runs a fixture tool; `None` when `name` is not one.
pub async fn call_tool(
    server: &DemoServer,
    request: &CallToolRequestParams,
    args: &Map<String, Value>,
    ctx: &RequestContext<RoleServer>,
) -> Option<Result<CallToolResult, ErrorData>> {
    let content = |c: Value| from_json::<CallToolResult>(json!({ "content": c }));
    Some(match request.name.as_ref() {
        "test_simple_text" => text_result("This is a simple text response for testing."),
        "test_image_content" => content(json!([{"type": "image", "data": PNG, "mimeType": "image/png"}])),
        "test_audio_content" => content(json!([{"type": "audio", "data": WAV, "mimeType": "audio/wav"}])),
        "test_embedded_resource" => content(json!([embedded(
            "test://embedded-resource",
            "text/plain",
            "This is an embedded resource content."
        )])),
        "test_multiple_content_types" => content(json!([
            {"type": "text", "text": "Multiple content types test:"},
            {"type": "image", "data": PNG, "mimeType": "image/png"},
            embedded("test://mixed-content-resource", "application/json", r#"{"test":"data","value":123}"#)
        ])),
        "test_tool_with_logging" => {
            server.log(ctx, LoggingLevel::Info, "Tool execution started").await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            server.log(ctx, LoggingLevel::Info, "Tool processing data").await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            server.log(ctx, LoggingLevel::Info, "Tool execution completed").await;
            text_result("Tool with logging executed successfully")
        }
        "test_error_handling" => tool_error("This tool intentionally returns an error for testing"),
        "test_tool_with_progress" => {
            let token = request
                .meta
                .as_ref()
                .and_then(|m| m.get_progress_token())
                .or_else(|| ctx.meta.get_progress_token());
            for (i, p) in [0.0, 50.0, 100.0].into_iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                if let Some(t) = &token {
                    let n = ProgressNotificationParam::new(t.clone(), p).with_total(100.0);
                    if let Err(e) = ctx.peer.notify_progress(n).await {
                        tracing::debug!(target: "mcp_oauth::demo", error = %e, "progress not sent");
                    }
                }
            }
            text_result("Tool with progress executed successfully")
        }
        "test_sampling" => sampling(args, ctx).await,
        "test_elicitation" => {
            let message = args
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("Please provide your information");
            elicit(
                ctx,
                json!({"mode": "form", "message": message, "requestedSchema": {
                    "type": "object",
                    "properties": {
                        "username": {"type": "string", "description": "User's response"},
                        "email": {"type": "string", "description": "User's email address"}},
                    "required": ["username", "email"]}}),
                "User response",
            )
            .await
        }
        "test_elicitation_sep1034_defaults" => {
            elicit(
                ctx,
                json!({"mode": "form", "message": "Please review and update the form fields with defaults",
                    "requestedSchema": {"type": "object", "properties": {
                        "name": {"type": "string", "description": "User name", "default": "John Doe"},
                        "age": {"type": "integer", "description": "User age", "default": 30},
                        "score": {"type": "number", "description": "User score", "default": 95.5},
                        "status": {"type": "string", "description": "User status",
                                   "enum": ["active", "inactive", "pending"], "default": "active"},
                        "verified": {"type": "boolean", "description": "Verification status", "default": true}}}}),
                "Elicitation completed",
            )
            .await
        }
        "test_elicitation_sep1330_enums" => {
            elicit(
                ctx,
                json!({"mode": "form", "message": "Please select options from the enum fields",
                    "requestedSchema": {"type": "object", "properties": {
                        "untitledSingle": {"type": "string", "description": "Select one option",
                                           "enum": ["option1", "option2", "option3"]},
                        "titledSingle": {"type": "string", "description": "Select one option with titles",
                            "oneOf": [{"const": "value1", "title": "First Option"},
                                      {"const": "value2", "title": "Second Option"},
                                      {"const": "value3", "title": "Third Option"}]},
                        "legacyEnum": {"type": "string", "description": "Select one option (legacy)",
                            "enum": ["opt1", "opt2", "opt3"],
                            "enumNames": ["Option One", "Option Two", "Option Three"]},
                        "untitledMulti": {"type": "array", "description": "Select multiple options",
                            "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
                        "titledMulti": {"type": "array", "description": "Select multiple options with titles",
                            "items": {"anyOf": [{"const": "value1", "title": "First Choice"},
                                                {"const": "value2", "title": "Second Choice"},
                                                {"const": "value3", "title": "Third Choice"}]}}}}}),
                "Elicitation completed",
            )
            .await
        }
        _ => return None,
    })
}

async fn sampling(
    args: &Map<String, Value>,
    ctx: &RequestContext<RoleServer>,
) -> Result<CallToolResult, ErrorData> {
    let prompt = args.get("prompt").and_then(Value::as_str).unwrap_or("");
    let params = from_json(json!({
        "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
        "maxTokens": 100
    }))?;
    #[allow(deprecated)]
    match ctx.peer.create_message(params).await {
        Ok(result) => {
            let v = serde_json::to_value(&result).unwrap_or(Value::Null);
            let text = v["content"]["text"]
                .as_str()
                .or_else(|| v["content"][0]["text"].as_str())
                .unwrap_or("")
                .to_owned();
            text_result(format!("LLM response: {text}"))
        }
        Err(e) => tool_error(format!("sampling failed: {e}")),
    }
}

async fn elicit(
    ctx: &RequestContext<RoleServer>,
    params: Value,
    label: &str,
) -> Result<CallToolResult, ErrorData> {
    let params = from_json(params)?;
    match ctx.peer.create_elicitation(params).await {
        Ok(result) => {
            let v = serde_json::to_value(&result).unwrap_or(Value::Null);
            text_result(format!(
                "{label}: action={}, content={}",
                v["action"].as_str().unwrap_or("unknown"),
                v.get("content").cloned().unwrap_or(Value::Null)
            ))
        }
        Err(e) => tool_error(format!("elicitation failed: {e}")),
    }
}

/// The fixture resources.
pub fn resources() -> Vec<Value> {
    vec![
        json!({"uri": "test://static-text", "name": "static-text", "description": "A static text resource",
               "mimeType": "text/plain"}),
        json!({"uri": "test://static-binary", "name": "static-binary", "description": "A static binary resource",
               "mimeType": "image/png"}),
        json!({"uri": "test://watched-resource", "name": "watched-resource",
               "description": "A resource to subscribe to", "mimeType": "text/plain"}),
    ]
}

/// The fixture resource templates.
pub fn resource_templates() -> Vec<Value> {
    vec![
        json!({"uriTemplate": "test://template/{id}/data", "name": "template-data",
                "description": "Data for an id", "mimeType": "application/json"}),
    ]
}

/// Reads a fixture resource (a `ReadResourceResult` document); `None` when unknown.
pub fn read_resource(uri: &str) -> Option<Value> {
    let one = |c: Value| Some(json!({ "contents": [c] }));
    match uri {
        "test://static-text" => one(json!({"uri": uri, "mimeType": "text/plain",
            "text": "This is the content of the static text resource."})),
        "test://static-binary" => one(json!({"uri": uri, "mimeType": "image/png", "blob": PNG})),
        "test://watched-resource" => {
            one(json!({"uri": uri, "mimeType": "text/plain", "text": "Watched resource content."}))
        }
        _ => {
            let id = uri
                .strip_prefix("test://template/")?
                .strip_suffix("/data")
                .filter(|id| !id.is_empty() && !id.contains('/'))?;
            let text =
                json!({"id": id, "templateTest": true, "data": format!("Data for ID: {id}")});
            one(json!({"uri": uri, "mimeType": "application/json", "text": text.to_string()}))
        }
    }
}

/// The fixture prompts.
pub fn prompts() -> Vec<Value> {
    vec![
        json!({"name": "test_simple_prompt", "description": "A simple prompt without arguments"}),
        json!({"name": "test_prompt_with_arguments", "description": "A prompt with arguments",
               "arguments": [{"name": "arg1", "description": "First test argument", "required": true},
                             {"name": "arg2", "description": "Second test argument", "required": true}]}),
        json!({"name": "test_prompt_with_embedded_resource", "description": "A prompt with an embedded resource",
               "arguments": [{"name": "resourceUri", "description": "URI of the resource to embed",
                              "required": true}]}),
        json!({"name": "test_prompt_with_image", "description": "A prompt with an image"}),
    ]
}

/// Gets a fixture prompt (a `GetPromptResult` document); `None` when unknown.
pub fn get_prompt(name: &str, args: &Map<String, Value>) -> Option<Value> {
    let arg = |n: &str| args.get(n).and_then(Value::as_str).unwrap_or("").to_owned();
    let user = |content: Value| json!({"role": "user", "content": content});
    let text = |t: String| json!({"type": "text", "text": t});
    let messages = match name {
        "test_simple_prompt" => vec![user(text("This is a simple prompt for testing.".into()))],
        "test_prompt_with_arguments" => vec![user(text(format!(
            "Prompt with arguments: arg1='{}', arg2='{}'",
            arg("arg1"),
            arg("arg2")
        )))],
        "test_prompt_with_embedded_resource" => {
            let uri = match arg("resourceUri") {
                u if u.is_empty() => "test://example-resource".to_owned(),
                u => u,
            };
            vec![
                user(embedded(
                    &uri,
                    "text/plain",
                    "Embedded resource content for testing.",
                )),
                user(text("Please process the embedded resource above.".into())),
            ]
        }
        "test_prompt_with_image" => vec![
            user(json!({"type": "image", "data": PNG, "mimeType": "image/png"})),
            user(text("Please analyze the image above.".into())),
        ],
        _ => return None,
    };
    Some(json!({ "messages": messages }))
}
