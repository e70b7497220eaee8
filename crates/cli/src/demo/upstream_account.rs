//! The demo's `upstream_account` tool (listed when the server has `[[upstream]]` blocks): which
//! identity-provider account the caller signed in with, read in process from the verified
//! principal through `mcp_oauth_server::federation` (the route an rmcp server in the same
//! process takes; a separate MCP server uses RFC 8693 token exchange at `/token`). It says
//! whether an upstream token is at hand, never the token.

use super::server::{text_result, tool_error};
use mcp_oauth_resource::Principal;
use mcp_oauth_server::AppState;
use mcp_oauth_server::federation::{self, FederationError};
use rmcp::ErrorData;
use rmcp::model::CallToolResult;
use serde_json::{Value, json};

/// The tool's listing.
pub fn tool() -> Value {
    json!({
        "name": "upstream_account",
        "description": "Show the identity-provider account (federated login) the caller signed in with.",
        "inputSchema": {"type": "object", "properties": {}},
        "annotations": {"readOnlyHint": true, "openWorldHint": false}
    })
}

/// The tool's answer for `caller`.
pub async fn call(
    state: &AppState,
    caller: Option<&Principal>,
) -> Result<CallToolResult, ErrorData> {
    let Some(p) = caller else {
        return tool_error("anonymous: this request carried no access token");
    };
    let account = match federation::upstream_account(state, &p.claims).await {
        Ok(a) => a,
        Err(FederationError::NotFederated) => {
            return text_result(
                "the caller signed in with a password of this server, not through an identity provider",
            );
        }
        Err(e) => return tool_error(e.to_string()),
    };
    let token = federation::upstream_token(state, &p.claims, &account.upstream_id).await;
    text_result(
        json!({
            "upstream": account.upstream_id,
            "provider": account.name,
            "subject": account.subject,
            "email": account.email,
            "email_verified": account.email_verified,
            "upstream_token": match token {
                Ok(t) => json!({"available": true, "expires_at": t.expires_at}),
                Err(e) => json!({"available": false, "why": e.to_string()}),
            },
        })
        .to_string(),
    )
}
