//! `mcp-oauth serve --demo`: the demo MCP server behind the guard, driven by a real rmcp client.

use crate::support::*;
use mcp_oauth_core::challenge::find_bearer;
use reqwest::StatusCode;
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult, ReadResourceRequestParams};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

const ALL: &str = "mcp:tools mcp:resources mcp:prompts system:read mcp:admin";

struct Demo {
    proc: Proc,
    mcp: String,
    admin_secret: String,
    tools_secret: String,
    dir: tempfile::TempDir,
}

impl Demo {
    async fn start() -> Demo {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap().to_owned();
        let add = |id: &str, scope: &str| {
            admin(&[
                "clients",
                "add",
                "--data-dir",
                &d,
                "--name",
                id,
                "--grant",
                "client_credentials",
                "--client-id",
                id,
                "--scope",
                scope,
            ])["client_secret"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let admin_secret = add("bot-admin", ALL);
        let tools_secret = add("bot-tools", "mcp:tools");
        let proc = spawn(
            &["serve", "--demo", "--addr", "127.0.0.1:0", "--data-dir", &d],
            "mcp-oauth listening on",
        );
        let mcp = format!("{}/mcp", proc.base);
        Demo {
            proc,
            mcp,
            admin_secret,
            tools_secret,
            dir,
        }
    }

    async fn token(&self, who: &str, scope: &str) -> String {
        let secret = if who == "bot-admin" {
            &self.admin_secret
        } else {
            &self.tools_secret
        };
        token(
            &reqwest::Client::new(),
            &self.proc.base,
            who,
            secret,
            &self.mcp,
            scope,
        )
        .await
    }
}

pub(crate) async fn connect(url: &str, token: &str) -> RunningService<RoleClient, ()> {
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(token);
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
        .expect("the rmcp client connects")
}

fn call(name: &str, args: Value) -> CallToolRequestParams {
    let Value::Object(m) = args else {
        panic!("arguments must be an object")
    };
    CallToolRequestParams::new(name.to_owned()).with_arguments(m)
}

fn text(r: &CallToolResult) -> String {
    serde_json::to_value(r).unwrap()["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_client_uses_the_demo() {
    let demo = Demo::start().await;
    let token = demo.token("bot-admin", ALL).await;
    let client = connect(&demo.mcp, &token).await;

    let tools = client.list_tools(None).await.unwrap();
    let names: Vec<_> = tools.tools.iter().map(|t| t.name.to_string()).collect();
    for n in [
        "echo",
        "whoami",
        "calculator",
        "system_info",
        "reset_counter",
    ] {
        assert!(names.contains(&n.to_owned()), "{names:?}");
    }
    assert!(
        !names.iter().any(|n| n.starts_with("test_")),
        "fixtures only in --demo-public"
    );
    let reset = tools
        .tools
        .iter()
        .find(|t| t.name == "reset_counter")
        .unwrap();
    let ann = serde_json::to_value(&reset.annotations).unwrap();
    assert_eq!(ann["destructiveHint"], true);

    // The tool reads the verified Principal from the request extensions.
    let r = client
        .call_tool(call("echo", json!({"message": "hi"})))
        .await
        .unwrap();
    assert_eq!(text(&r), "hi (echoed for bot-admin)");
    let r = client.call_tool(call("whoami", json!({}))).await.unwrap();
    let who: Value = serde_json::from_str(&text(&r)).unwrap();
    assert_eq!(who["subject"], "bot-admin");
    assert_eq!(who["client_id"], "bot-admin");
    assert_eq!(who["issuer"], demo.proc.base);
    assert_eq!(
        who["scopes"],
        "mcp:admin mcp:prompts mcp:resources mcp:tools system:read"
    );

    let calc =
        |op: &str, a: f64, b: f64| call("calculator", json!({"operation": op, "a": a, "b": b}));
    for (op, want) in [
        ("add", "9"),
        ("subtract", "3"),
        ("multiply", "18"),
        ("divide", "2"),
    ] {
        let r = client.call_tool(calc(op, 6.0, 3.0)).await.unwrap();
        assert_eq!(text(&r), want, "{op}");
        assert_ne!(r.is_error, Some(true));
    }
    // Division by zero is a tool error, not a protocol error.
    let r = client.call_tool(calc("divide", 1.0, 0.0)).await.unwrap();
    assert_eq!(r.is_error, Some(true));
    assert_eq!(text(&r), "division by zero");

    let r = client
        .call_tool(call("system_info", json!({})))
        .await
        .unwrap();
    assert!(text(&r).contains("\"arch\""), "{}", text(&r));
    client
        .call_tool(call("increment_counter", json!({})))
        .await
        .unwrap();
    client
        .call_tool(call("increment_counter", json!({})))
        .await
        .unwrap();
    let r = client
        .call_tool(call("reset_counter", json!({})))
        .await
        .unwrap();
    assert_eq!(text(&r), "counter reset (was 2)");

    let res = client.list_resources(None).await.unwrap();
    assert_eq!(res.resources.len(), 2);
    let r = client
        .read_resource(ReadResourceRequestParams::new("demo://system/platform"))
        .await
        .unwrap();
    let v = serde_json::to_value(&r).unwrap();
    assert!(
        v["contents"][0]["text"]
            .as_str()
            .unwrap()
            .contains("\"os\"")
    );
    let prompts = client.list_prompts(None).await.unwrap();
    assert_eq!(prompts.prompts[0].name, "system_report");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn step_up_and_challenges() {
    let demo = Demo::start().await;
    let tools_token = demo.token("bot-tools", "mcp:tools").await;

    // With mcp:tools only, the destructive tool needs a step-up to mcp:admin.
    let client = connect(&demo.mcp, &tools_token).await;
    let r = client
        .call_tool(call("echo", json!({"message": "ok"})))
        .await
        .unwrap();
    assert_eq!(text(&r), "ok (echoed for bot-tools)");
    let err = client
        .call_tool(call("reset_counter", json!({})))
        .await
        .expect_err("403");
    let c = find_bearer([err.auth_challenge().expect("a challenge")]).unwrap();
    assert_eq!(c.error.as_deref(), Some("insufficient_scope"));
    assert_eq!(c.scope.as_deref(), Some("mcp:admin mcp:tools"));
    let _ = client.cancel().await;

    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}});
    let echo = tool_call(2, "echo", json!({"message": "x"}));
    let rm = format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        demo.proc.base
    );

    // Nothing is public: the very first request, `initialize`, and the GET stream are
    // challenged, each with the least scope (the policy's default), never without one.
    let r = send(post(&demo.mcp, None, &init)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let c = r.challenge();
    assert_eq!(c.error, None);
    assert_eq!(c.scope.as_deref(), Some("mcp:tools"));
    assert_eq!(c.resource_metadata.as_deref(), Some(rm.as_str()));
    let r = send(
        reqwest::Client::new()
            .get(&demo.mcp)
            .header("accept", "text/event-stream"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.challenge().scope.as_deref(), Some("mcp:tools"));
    for m in ["ping", "notifications/initialized"] {
        let r = send(post(
            &demo.mcp,
            None,
            &json!({"jsonrpc": "2.0", "method": m}),
        ))
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{m}");
    }
    // With a token, the handshake passes.
    assert_eq!(
        send(post(&demo.mcp, Some(&tools_token), &init))
            .await
            .status,
        StatusCode::OK
    );
    let r = send(post(&demo.mcp, None, &echo)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let c = r.challenge();
    assert_eq!(c.error, None);
    assert_eq!(c.scope.as_deref(), Some("mcp:tools"));
    assert_eq!(c.resource_metadata.as_deref(), Some(rm.as_str()));

    // A bad token, and a valid token for another registered resource: 401 invalid_token.
    let r = send(post(&demo.mcp, Some("not-a-jwt"), &echo)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.challenge().error.as_deref(), Some("invalid_token"));
    let other = format!("{}/other", demo.proc.base);
    let d = demo.dir.path().to_str().unwrap();
    admin(&[
        "resources",
        "add",
        &other,
        "--name",
        "Other",
        "--scope",
        "mcp:tools",
        "--data-dir",
        d,
    ]);
    let other_token = token(
        &reqwest::Client::new(),
        &demo.proc.base,
        "bot-tools",
        &demo.tools_secret,
        &other,
        "mcp:tools",
    )
    .await;
    let r = send(post(&demo.mcp, Some(&other_token), &echo)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "no token passthrough");
    assert_eq!(r.challenge().error.as_deref(), Some("invalid_token"));

    // A batch needs what all its messages need.
    let batch = json!([echo, tool_call(3, "reset_counter", json!({}))]);
    let r = send(post(&demo.mcp, Some(&tools_token), &batch)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.challenge().scope.as_deref(), Some("mcp:admin mcp:tools"));
    let admin_token = demo.token("bot-admin", ALL).await;
    let r = send(post(&demo.mcp, Some(&admin_token), &batch)).await;
    // Past the guard; rmcp itself answers batches (removed from MCP in 2025-06-18) with a 4xx.
    assert!(
        ![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&r.status),
        "{}",
        r.status
    );

    // Malformed and repeated Authorization headers: 400 invalid_request.
    // Another scheme carries no bearer token: the plain 401 challenge.
    let r = send(post(&demo.mcp, None, &echo).header("authorization", "Basic Zm9vOmJhcg==")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.challenge().error, None);
    for value in ["Bearer", "Bearer a b", "Bearer  "] {
        let r = send(post(&demo.mcp, None, &echo).header("authorization", value)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{value}");
        assert_eq!(r.challenge().error.as_deref(), Some("invalid_request"));
    }
    let mut h = reqwest::header::HeaderMap::new();
    h.append(
        "authorization",
        format!("Bearer {tools_token}").parse().unwrap(),
    );
    h.append(
        "authorization",
        format!("Bearer {tools_token}").parse().unwrap(),
    );
    let r = send(post(&demo.mcp, None, &echo).headers(h)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // A huge body is refused before it is read in full.
    assert_eq!(post_declaring(&demo.mcp, &tools_token, 2 << 20).await, 413);

    // DNS rebinding: a foreign Origin is refused, a loopback one passes, and can read the
    // challenge (CORS).
    let r = send(post(&demo.mcp, None, &init).header("origin", "https://evil.example")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let origin = demo.proc.base.as_str();
    let r = send(post(&demo.mcp, None, &init).header("origin", origin)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["access-control-allow-origin"], origin);
    assert_eq!(
        r.headers["access-control-expose-headers"],
        "WWW-Authenticate, Mcp-Session-Id"
    );
    let r = send(post(&demo.mcp, Some(&tools_token), &init).header("origin", origin)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["access-control-allow-origin"], origin);
    // The preflight of the MCP Inspector's direct connection, answered by the guard.
    let r = send(
        reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, &demo.mcp)
            .header("origin", "http://localhost:6274")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "http://localhost:6274"
    );

    // The protected resource metadata, at the path-inserted URL and at the root.
    for url in [
        rm.clone(),
        format!("{}/.well-known/oauth-protected-resource", demo.proc.base),
    ] {
        let r = send(reqwest::Client::new().get(&url)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body["resource"], demo.mcp);
        assert_eq!(r.body["authorization_servers"], json!([demo.proc.base]));
        assert_eq!(
            r.body["scopes_supported"],
            json!([
                "mcp:admin",
                "mcp:prompts",
                "mcp:resources",
                "mcp:tools",
                "system:read"
            ])
        );
    }
}
