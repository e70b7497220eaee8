//! How `login` (and a command that has to sign in first) takes the user to the authorization
//! page, without ever blocking a run nobody attends.
//!
//! - A browser: each entry of `$BROWSER`, then `xdg-open`/`open`; a spinner while waiting for
//!   the loopback redirect, at most `--timeout`.
//! - No browser starts, on a terminal: the URL is printed and the redirect is read back pasted
//!   (or still arrives at the loopback listener, whichever comes first).
//! - `--no-browser`: the same paste, also from a pipe.
//! - No terminal and no `$BROWSER`: fail at once, naming the command that works.
//! - `--device`: the device flow (RFC 8628): the verification page and the code on stderr, then
//!   the wait while the manager polls; no browser or terminal needed here.

use super::progress;
use mcp_oauth_client::callback::LoopbackListener;
use mcp_oauth_client::error::{Error, Result};
use mcp_oauth_client::prompt::{
    AuthorizationPrompt, ManualPrompt, PromptRequest, browser_configured, launch_browser,
};
use mcp_oauth_core::form::OAuthParams;
use std::io::IsTerminal;
use std::time::Duration;

/// The prompt of the client commands.
#[derive(Debug, Clone)]
pub struct CliPrompt {
    /// `--no-browser`.
    pub paste: bool,
    /// The MCP server URL, for the hint.
    pub url: String,
}

/// Whether someone can answer: stdin is a terminal.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// Whether signing in would need a person who is not there: a browser flow, without
/// `--no-browser`, without `$BROWSER`, and no terminal.
pub fn cannot_prompt(paste: bool) -> bool {
    !paste && !browser_configured() && !interactive()
}

/// The one line that says what to run instead when nobody can sign in here.
pub fn unattended_hint(url: &str) -> String {
    format!(
        "signing in to {url} needs a browser or a terminal, and this run has neither: run \
         `mcp-oauth login {url}` in a terminal first, or `mcp-oauth login {url} --no-browser` and \
         paste the redirect on stdin, or set $BROWSER; a program without a user uses \
         `--client-credentials --client-id ID --client-secret-env VAR`"
    )
}

#[async_trait::async_trait]
impl AuthorizationPrompt for CliPrompt {
    async fn authorize(
        &self,
        request: &PromptRequest,
        listener: LoopbackListener,
    ) -> Result<OAuthParams> {
        progress::pause();
        if self.paste {
            return ManualPrompt.authorize(request, listener).await;
        }
        if cannot_prompt(false) {
            return Err(Error::Prompt(unattended_hint(&self.url)));
        }
        match launch_browser(&request.authorization_url, Duration::from_millis(1500)).await {
            Ok(_) => {
                if !crate::output::quiet() {
                    eprintln!(
                        "Opened your browser to sign in. If it did not open, visit:\n\n  {}\n",
                        request.authorization_url
                    );
                }
                let spinner = indicatif::ProgressBar::new_spinner();
                if crate::output::quiet() {
                    spinner.set_draw_target(indicatif::ProgressDrawTarget::hidden());
                }
                spinner.set_message(format!(
                    "Waiting for you to finish in the browser (at most {} s)…",
                    request.timeout.as_secs()
                ));
                spinner.enable_steady_tick(Duration::from_millis(120));
                let result = listener.wait(request.timeout).await;
                spinner.finish_and_clear();
                result
            }
            Err(Error::UrlRefused { url, reason }) => Err(Error::UrlRefused { url, reason }),
            Err(e) if interactive() => {
                eprintln!("{e}; sign in by hand instead.");
                ManualPrompt.authorize(request, listener).await
            }
            Err(e) => Err(Error::Prompt(format!(
                "{e}, and there is no terminal to paste into; {}",
                unattended_hint(&self.url)
            ))),
        }
    }

    /// The device flow (`--device`): where to go and the code, on stderr (never the device
    /// code, never a token), shown even with `-q`: the sign-in cannot go on without them.
    async fn show_device_code(
        &self,
        authorization: &mcp_oauth_client::device::DeviceAuthorization,
    ) -> Result<()> {
        progress::pause();
        eprintln!(
            "To sign in, open this page on any device:\n\n  {}\n\nand enter the code:\n\n  {}\n",
            authorization.verification_uri, authorization.user_code
        );
        if let Some(complete) = &authorization.verification_uri_complete {
            eprintln!(
                "Or open this link, which fills the code in (check that it matches):\n\n  {complete}\n"
            );
        }
        eprintln!(
            "Waiting for the approval (the code expires in {} s)…",
            authorization.expires_in.as_secs()
        );
        Ok(())
    }
}
