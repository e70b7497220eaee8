//! The one place `serve` and `guard` learn that they should stop: Ctrl-C, or SIGTERM on Unix
//! (what systemd and container runtimes send).

/// Resolves when the process is asked to stop; then logs `shutting down` under `target`'s
/// component name so each command's log says which listener is closing.
pub(crate) async fn shutdown(component: &'static str) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!(target: "mcp_oauth::shutdown", component, "shutting down");
}
