//! Reads the settings from the environment and serves the protected MCP server.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let settings = mcp_server::Settings::from_env();
    let app = mcp_server::app(&settings)?;
    let listener = tokio::net::TcpListener::bind(&settings.addr).await?;
    println!(
        "MCP server at {} (listening on {}), trusting {}",
        settings.resource,
        listener.local_addr()?,
        settings.issuer
    );
    // Ctrl-C lets requests in flight finish.
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
