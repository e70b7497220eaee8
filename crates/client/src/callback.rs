//! The loopback redirect listener of a native app (RFC 8252 §7.3): `127.0.0.1` on an ephemeral
//! port, one request to `/callback`, a page telling the user they can close the tab.
//!
//! `127.0.0.1` rather than `localhost` (RFC 8252 §8.3: no resolver, no IPv4/IPv6 ambiguity, no
//! firewall prompt for a listener on all interfaces).

use crate::error::{Error, Result};
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use mcp_oauth_core::form::OAuthParams;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The path of the redirect URI.
pub const CALLBACK_PATH: &str = "/callback";

const DONE_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Authorization complete</title></head><body style=\"font-family:sans-serif;margin:4em\">\
<h1>Authorization complete</h1><p>You can close this tab and return to your terminal.</p>\
</body></html>";

type Slot = Arc<Mutex<Option<oneshot::Sender<String>>>>;

/// A bound loopback listener waiting for the authorization redirect.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: tokio::net::TcpListener,
    port: u16,
}

impl LoopbackListener {
    /// Binds `127.0.0.1:0`.
    pub async fn bind() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| Error::Prompt(format!("cannot listen on 127.0.0.1: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::Prompt(format!("listener address: {e}")))?
            .port();
        Ok(Self { listener, port })
    }

    /// The redirect URI: `http://127.0.0.1:{port}/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the first request to `/callback` and returns its query parameters, or fails
    /// after `timeout`. Other paths (a browser's `/favicon.ico`) get 404 and are ignored.
    pub async fn wait(self, timeout: Duration) -> Result<OAuthParams> {
        let (tx, rx) = oneshot::channel::<String>();
        let slot: Slot = Arc::new(Mutex::new(Some(tx)));
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let app = Router::new()
            .route(CALLBACK_PATH, get(callback))
            .with_state(slot);
        let server = tokio::spawn(async move {
            axum::serve(self.listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await
        });
        let outcome = tokio::time::timeout(timeout, rx).await;
        let _ = stop_tx.send(());
        // Let the page reach the browser, but never hang on a lingering connection.
        let abort = server.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), server)
            .await
            .is_err()
        {
            abort.abort();
        }
        let query = match outcome {
            Ok(Ok(q)) => q,
            Ok(Err(_)) => return Err(Error::Prompt("the callback listener stopped".into())),
            Err(_) => return Err(Error::CallbackTimeout(timeout)),
        };
        parse_redirect_query(&query)
    }
}

/// Parses a redirect's query string, refusing repeated parameters.
pub fn parse_redirect_query(query: &str) -> Result<OAuthParams> {
    OAuthParams::parse(query.as_bytes())
        .map_err(|e| Error::Prompt(format!("malformed authorization response: {e}")))
}

async fn callback(State(slot): State<Slot>, RawQuery(q): RawQuery) -> impl IntoResponse {
    let sender = slot
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    if let Some(tx) = sender {
        let _ = tx.send(q.unwrap_or_default());
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        DONE_PAGE,
    )
}
