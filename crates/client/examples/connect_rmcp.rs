//! Connects an rmcp client to an OAuth-protected MCP server and lists its tools:
//! `cargo run -p mcp-oauth-client --features rmcp --example connect_rmcp -- https://mcp.example.com/mcp`
//! (a browser opens for the first login; tokens are kept in the user's config directory).

use mcp_oauth_client::{ClientConfig, FileStore, TokenManager, transport::OAuthHttpClient};
use rmcp::ServiceExt;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::args()
        .nth(1)
        .ok_or("usage: connect_rmcp MCP_SERVER_URL")?;
    let store = Arc::new(FileStore::new(FileStore::default_path()?));
    let manager = Arc::new(
        TokenManager::builder(ClientConfig::new())
            .store(store)
            .build()?,
    );
    let client = ().serve(OAuthHttpClient::new(manager, &url)?.into_transport()).await?;
    for tool in client.list_all_tools().await? {
        println!("{}", tool.name);
    }
    client.cancel().await?;
    Ok(())
}
