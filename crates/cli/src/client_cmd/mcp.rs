//! `tools` and `call`: an rmcp client over [`OAuthHttpClient`]. The token is obtained first, on
//! its own, so that a sign-in problem reads as one (not as an MCP transport error), and so that
//! a run without a terminal fails at once instead of waiting for a browser.

use super::progress::Progress;
use super::{CallArgs, ConnectArgs, SignInArgs, ToolsArgs, doing, explain, grant, manager, obtain};
use crate::GlobalArgs;
use crate::output::{emit, explained, scrub, table};
use anyhow::{Context, bail};
use mcp_oauth_client::TokenManager;
use mcp_oauth_client::transport::OAuthHttpClient;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use std::sync::Arc;

type Session = rmcp::service::RunningService<rmcp::RoleClient, ()>;

/// Signs in if needed, then opens an MCP session.
async fn connect(
    url: &str,
    connect: &ConnectArgs,
    sign_in: &SignInArgs,
    what: &str,
) -> anyhow::Result<(Arc<TokenManager>, Session)> {
    let m = manager(url, connect, Some(sign_in))?;
    let g = grant(connect, Some(sign_in))?;
    obtain(&m, url, sign_in, &g)
        .await
        .map_err(|e| explain(e, &doing(&m, what.to_owned(), url, connect)))?;
    let _p = Progress::start(format!("Opening an MCP session with {url}…"));
    let transport = OAuthHttpClient::new(m.clone(), url)?.into_transport();
    let session = ().serve(transport).await.map_err(|e| {
        explain(
            anyhow::Error::new(e),
            &doing(&m, what.to_owned(), url, connect),
        )
    })?;
    Ok((m, session))
}

/// An MCP-level failure after the session was open.
fn mcp_error(what: &str, e: rmcp::ServiceError) -> anyhow::Error {
    explained(
        format!("cannot {what}: {}", scrub(&e.to_string())),
        Some(e.into()),
    )
}

/// `tools`: lists the server's tools.
pub async fn tools(global: &GlobalArgs, args: ToolsArgs) -> anyhow::Result<()> {
    let what = format!("list the tools of {}", args.url);
    let (_m, client) = connect(&args.url, &args.connect, &args.sign_in, &what).await?;
    let tools = {
        let _p = Progress::start("Listing tools…");
        client.list_all_tools().await
    };
    let _ = client.cancel().await;
    let tools = tools.map_err(|e| mcp_error(&what, e))?;
    emit(global.json, &tools, || {
        table(
            &["TOOL", "DESCRIPTION"],
            &tools
                .iter()
                .map(|t| {
                    vec![
                        t.name.to_string(),
                        t.description.as_deref().unwrap_or_default().to_owned(),
                    ]
                })
                .collect::<Vec<_>>(),
        )
    })
}

/// `call`: calls one tool and prints the result.
pub async fn call(global: &GlobalArgs, args: CallArgs) -> anyhow::Result<()> {
    let arguments: serde_json::Value =
        serde_json::from_str(&args.args).context("--args is not valid JSON")?;
    let serde_json::Value::Object(arguments) = arguments else {
        bail!("--args must be a JSON object");
    };
    let what = format!("call {} at {}", args.tool, args.url);
    let (_m, client) = connect(&args.url, &args.connect, &args.sign_in, &what).await?;
    let result = {
        let _p = Progress::start(format!("Calling {}…", args.tool));
        client
            .call_tool(CallToolRequestParams::new(args.tool.clone()).with_arguments(arguments))
            .await
    };
    let _ = client.cancel().await;
    let result = result.map_err(|e| mcp_error(&what, e))?;
    emit(global.json, &result, || {
        let mut parts: Vec<String> = result
            .content
            .iter()
            .map(|c| match c.as_text() {
                Some(t) => t.text.clone(),
                None => serde_json::to_string(c).unwrap_or_default(),
            })
            .collect();
        if parts.is_empty()
            && let Some(s) = &result.structured_content
        {
            parts.push(s.to_string());
        }
        parts.join("\n")
    })?;
    if result.is_error == Some(true) {
        bail!("the tool {} reported an error", args.tool);
    }
    Ok(())
}
