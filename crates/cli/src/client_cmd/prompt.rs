//! The browser prompt of `login`, with a spinner while it waits for the redirect.

use mcp_oauth_client::callback::LoopbackListener;
use mcp_oauth_client::error::{Error, Result};
use mcp_oauth_client::prompt::{AuthorizationPrompt, PromptRequest, open_browser};
use mcp_oauth_core::form::OAuthParams;
use std::time::Duration;

/// Opens the browser (no shell), prints the URL, and spins until the loopback redirect arrives.
#[derive(Debug, Clone, Default)]
pub struct SpinnerPrompt;

#[async_trait::async_trait]
impl AuthorizationPrompt for SpinnerPrompt {
    async fn authorize(
        &self,
        request: &PromptRequest,
        listener: LoopbackListener,
    ) -> Result<OAuthParams> {
        eprintln!(
            "Opening your browser to authorize. If it does not open, visit:\n\n  {}\n",
            request.authorization_url
        );
        if let Err(e) = open_browser(&request.authorization_url) {
            if matches!(e, Error::UrlRefused { .. }) {
                return Err(e);
            }
            eprintln!("(could not open a browser: {e})");
        }
        let spinner = indicatif::ProgressBar::new_spinner();
        spinner.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        spinner.set_message("Waiting for you to finish in the browser…");
        spinner.enable_steady_tick(Duration::from_millis(120));
        let result = listener.wait(request.timeout).await;
        spinner.finish_and_clear();
        result
    }
}
