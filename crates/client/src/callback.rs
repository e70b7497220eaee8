//! The loopback redirect listener of a native app (RFC 8252 §7.3): `127.0.0.1` on an ephemeral
//! port, one request to `/callback`, a page telling the user how it ended.
//!
//! The page says what really happened: an error redirect (`error=access_denied`, …) is shown at
//! once; for a code, the page waits (a few seconds at most) for the [`CallbackVerdict`] the
//! caller reports after the code exchange, so a refused exchange never reads "complete".
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

/// How long the page waits for the verdict of the code exchange.
const VERDICT_WAIT: Duration = Duration::from_secs(10);

type Slot = Arc<Mutex<Option<oneshot::Sender<String>>>>;

/// What the caller found after redeeming the code: `Ok` or the one-line reason it failed.
type Verdict = Option<std::result::Result<(), String>>;

/// Tells the page waiting in the browser how the authorization ended. Cheap to clone; reporting
/// more than once keeps the first verdict.
#[derive(Debug, Clone)]
pub struct CallbackVerdict {
    tx: Arc<tokio::sync::watch::Sender<Verdict>>,
    served: Arc<tokio::sync::Notify>,
    /// Whether a page is waiting for this verdict: set before the redirect's query is handed
    /// over, cleared once the page was returned.
    pending: Arc<std::sync::atomic::AtomicBool>,
}

impl CallbackVerdict {
    fn new() -> Self {
        Self {
            tx: Arc::new(tokio::sync::watch::channel(None).0),
            served: Arc::new(tokio::sync::Notify::new()),
            pending: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        }
    }

    /// Reports the outcome and waits (briefly) until the page showing it was handed to the
    /// browser, so that a process exiting right after does not cut it off.
    pub async fn report(&self, outcome: std::result::Result<(), String>) {
        // Registered before the verdict goes out, so the page's notification cannot be missed.
        let served = self.served.notified();
        tokio::pin!(served);
        served.as_mut().enable();
        self.tx.send_if_modified(|v| {
            if v.is_none() {
                *v = Some(outcome);
                true
            } else {
                false
            }
        });
        if !self.pending.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        if tokio::time::timeout(Duration::from_secs(2), served)
            .await
            .is_ok()
        {
            // The handler has returned the page; give the server a moment to write it.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[derive(Clone)]
struct Shared {
    slot: Slot,
    verdict: CallbackVerdict,
}

/// A bound loopback listener waiting for the authorization redirect.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: tokio::net::TcpListener,
    port: u16,
    verdict: CallbackVerdict,
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
        Ok(Self {
            listener,
            port,
            verdict: CallbackVerdict::new(),
        })
    }

    /// The handle on which the outcome of the code exchange is reported to the browser's page.
    pub fn verdict(&self) -> CallbackVerdict {
        self.verdict.clone()
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
    /// after `timeout`. Other paths (a browser's `/favicon.ico`) get 404 and are ignored. The
    /// listener keeps serving that one page in the background until the verdict is reported (or
    /// [`VERDICT_WAIT`] has passed).
    pub async fn wait(self, timeout: Duration) -> Result<OAuthParams> {
        let (tx, rx) = oneshot::channel::<String>();
        let shared = Shared {
            slot: Arc::new(Mutex::new(Some(tx))),
            verdict: self.verdict.clone(),
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let app = Router::new()
            .route(CALLBACK_PATH, get(callback))
            .with_state(shared);
        let server = tokio::spawn(async move {
            axum::serve(self.listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await
        });
        let outcome = tokio::time::timeout(timeout, rx).await;
        let verdict = self.verdict.clone();
        let received = matches!(outcome, Ok(Ok(_)));
        // Stop serving once the page went out (or at once when nothing arrived), never hanging on
        // a lingering connection.
        tokio::spawn(async move {
            if received {
                let mut rx = verdict.tx.subscribe();
                let _ = tokio::time::timeout(VERDICT_WAIT, rx.wait_for(Option::is_some)).await;
            }
            let _ = stop_tx.send(());
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        });
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

async fn callback(State(shared): State<Shared>, RawQuery(q): RawQuery) -> impl IntoResponse {
    let query = q.unwrap_or_default();
    let sender = shared
        .slot
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    let first = sender.is_some();
    if first {
        shared
            .verdict
            .pending
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
    if let Some(tx) = sender {
        let _ = tx.send(query.clone());
    }
    let page = if !first {
        page(
            "Already answered",
            "This sign-in was already handled. Return to your terminal.",
        )
    } else if let Some(refused) = redirect_error(&query) {
        page("Authorization failed", &refused)
    } else {
        let mut rx = shared.verdict.tx.subscribe();
        match tokio::time::timeout(VERDICT_WAIT, rx.wait_for(Option::is_some)).await {
            Ok(Ok(v)) => match v.clone() {
                Some(Ok(())) => page(
                    "Authorization complete",
                    "You can close this tab and return to your terminal.",
                ),
                Some(Err(reason)) => page(
                    "Authorization failed",
                    &format!("{reason}. Return to your terminal for what to do next."),
                ),
                None => page("Authorization received", "Return to your terminal."),
            },
            _ => page(
                "Authorization received",
                "Return to your terminal to see whether signing in succeeded.",
            ),
        }
    };
    if first {
        shared
            .verdict
            .pending
            .store(false, std::sync::atomic::Ordering::SeqCst);
        shared.verdict.served.notify_waiters();
    }
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
            (header::X_FRAME_OPTIONS, "DENY"),
        ],
        page,
    )
}

/// The authorization server's error in a redirect (`error`, `error_description`), for the page.
fn redirect_error(query: &str) -> Option<String> {
    let params = OAuthParams::parse(query.as_bytes()).ok()?;
    let error = params.get("error")?;
    Some(match params.get("error_description") {
        Some(d) => format!("The authorization server answered {error}: {d}."),
        None => format!("The authorization server answered {error}."),
    })
}

/// A small page; `title` and `text` are escaped.
fn page(title: &str, text: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\
<body style=\"font-family:sans-serif;margin:4em\"><h1>{t}</h1><p>{x}</p></body></html>",
        t = escape(title),
        x = escape(text)
    )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn visit(listener: LoopbackListener, query: &str) -> (OAuthParams, String) {
        let url = format!("{}?{query}", listener.redirect_uri());
        let page =
            tokio::spawn(async move { reqwest::get(url).await.unwrap().text().await.unwrap() });
        let params = listener.wait(Duration::from_secs(5)).await.unwrap();
        (params, page.await.unwrap())
    }

    #[tokio::test]
    async fn the_page_shows_the_error_of_the_redirect() {
        let l = LoopbackListener::bind().await.unwrap();
        let (_, page) = visit(
            l,
            "error=invalid_target&error_description=the%20resource%20%3Cx%3E%20is%20not%20registered",
        )
        .await;
        assert!(page.contains("Authorization failed"), "{page}");
        assert!(page.contains("invalid_target"), "{page}");
        assert!(
            page.contains("&lt;x&gt;") && !page.contains("<x>"),
            "{page}"
        );
        assert!(!page.contains("complete"), "{page}");
    }

    #[tokio::test]
    async fn the_page_waits_for_the_verdict_of_the_exchange() {
        let l = LoopbackListener::bind().await.unwrap();
        let verdict = l.verdict();
        let url = format!("{}?code=c&state=s", l.redirect_uri());
        let page =
            tokio::spawn(async move { reqwest::get(url).await.unwrap().text().await.unwrap() });
        let params = l.wait(Duration::from_secs(5)).await.unwrap();
        assert_eq!(params.get("code"), Some("c"));
        verdict
            .report(Err(
                "the token endpoint refused the code (invalid_grant)".into()
            ))
            .await;
        let page = page.await.unwrap();
        assert!(page.contains("Authorization failed"), "{page}");
        assert!(page.contains("invalid_grant"), "{page}");

        let l = LoopbackListener::bind().await.unwrap();
        let verdict = l.verdict();
        let url = format!("{}?code=c&state=s", l.redirect_uri());
        let page =
            tokio::spawn(async move { reqwest::get(url).await.unwrap().text().await.unwrap() });
        l.wait(Duration::from_secs(5)).await.unwrap();
        verdict.report(Ok(())).await;
        assert!(page.await.unwrap().contains("Authorization complete"));
    }
}
