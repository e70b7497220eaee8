//! How the authorization URL reaches the user, and how the redirect comes back.
//!
//! - [`BrowserPrompt`]: opens a browser (no shell: each entry of `$BROWSER`, then `xdg-open`,
//!   `open` or `rundll32 url.dll,FileProtocolHandler`, with the URL as one argument) and waits
//!   for the loopback redirect. The URL is printed too, in case no browser opens.
//! - [`ManualPrompt`] (`--no-browser`): prints the URL and takes whichever comes first: the
//!   loopback redirect, or the redirect URL pasted on stdin (for a browser on another machine).
//! - [`HeadlessPrompt`]: for tests and the conformance harness, whose authorization endpoints
//!   approve at once: GETs the URL with redirects off and follows `Location` itself.
//!
//! Only `https` URLs, or `http` on a loopback host, are ever opened (MCP Security Best
//! Practices, authorization URL validation): never `javascript:`, `file:`, `data:`, ….

use crate::callback::{LoopbackListener, parse_redirect_query};
use crate::error::{Error, Result};
use crate::fetch::{Fetcher, check_url};
use mcp_oauth_core::form::OAuthParams;
use std::time::Duration;

/// What the prompt is asked to do.
#[derive(Debug, Clone)]
pub struct PromptRequest {
    /// The authorization URL to send the user to.
    pub authorization_url: String,
    /// The redirect URI in it.
    pub redirect_uri: String,
    /// How long to wait for the user.
    pub timeout: Duration,
}

/// Takes the user through an authorization URL and returns the redirect's query parameters.
/// The caller checks `state` and `iss`.
#[async_trait::async_trait]
pub trait AuthorizationPrompt: Send + Sync + std::fmt::Debug {
    /// Delivers `request.authorization_url`; `listener` is already bound to the redirect URI.
    async fn authorize(
        &self,
        request: &PromptRequest,
        listener: LoopbackListener,
    ) -> Result<OAuthParams>;

    /// Shows the user where to go and which code to enter (the device authorization grant,
    /// RFC 8628 §3.3); the manager then polls. Only the codes and URLs of `authorization` are
    /// for display; its device code is a secret. By default a prompt cannot.
    async fn show_device_code(
        &self,
        authorization: &crate::device::DeviceAuthorization,
    ) -> Result<()> {
        let _ = authorization;
        Err(Error::Unsupported(
            "this authorization prompt cannot show a device code".into(),
        ))
    }
}

/// Whether `url` may be opened in a browser: `https`, or `http` on a loopback host.
pub fn is_openable(url: &str) -> bool {
    check_url(url, true).is_ok()
}

/// The browser commands to try for `url`, in order: each entry of `$BROWSER` (`:`-separated, as
/// Python's `webbrowser` and `xdg-open` read it; `%s` is replaced by the URL, else the URL is the
/// last argument), then the platform's opener. Split on whitespace and run without a shell, so
/// the URL is always exactly one argument.
pub fn browser_commands(url: &str, browser_env: Option<&str>) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = browser_env
        .unwrap_or_default()
        .split(':')
        .filter_map(|entry| {
            let words: Vec<&str> = entry.split_whitespace().collect();
            if words.is_empty() {
                return None;
            }
            let mut cmd: Vec<String> = words.iter().map(|w| w.replace("%s", url)).collect();
            if !words.iter().any(|w| w.contains("%s")) {
                cmd.push(url.to_owned());
            }
            Some(cmd)
        })
        .collect();
    out.push(if cfg!(target_os = "macos") {
        vec!["open".into(), url.into()]
    } else if cfg!(windows) {
        vec![
            "rundll32".into(),
            "url.dll,FileProtocolHandler".into(),
            url.into(),
        ]
    } else {
        vec!["xdg-open".into(), url.into()]
    });
    out
}

/// Whether `$BROWSER` names a browser (so a run without a terminal may still use one).
pub fn browser_configured() -> bool {
    std::env::var("BROWSER").is_ok_and(|b| !b.trim().is_empty())
}

fn spawn(cmd: &[String]) -> std::io::Result<std::process::Child> {
    let (program, args) = cmd
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
}

/// Reaps `child` in the background so that it does not linger as a zombie.
fn reap(child: std::process::Child) {
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
}

/// Opens `url` in a browser (`$BROWSER`, else the system's opener) without a shell. Refuses
/// anything [`is_openable`] refuses. Returns as soon as a command started.
pub fn open_browser(url: &str) -> Result<()> {
    refuse_unopenable(url)?;
    let env = std::env::var("BROWSER").ok();
    let mut tried = Vec::new();
    for cmd in browser_commands(url, env.as_deref()) {
        match spawn(&cmd) {
            Ok(child) => {
                reap(child);
                return Ok(());
            }
            Err(e) => tried.push(format!("{}: {e}", cmd[0])),
        }
    }
    Err(Error::Prompt(format!(
        "no browser could be started ({})",
        tried.join("; ")
    )))
}

/// Like [`open_browser`], but a command that exits with a failure within `grace` (as `xdg-open`
/// does when no browser is configured) counts as not started and the next one is tried. Returns
/// the name of the command that started.
pub async fn launch_browser(url: &str, grace: Duration) -> Result<String> {
    refuse_unopenable(url)?;
    let env = std::env::var("BROWSER").ok();
    let mut tried = Vec::new();
    for cmd in browser_commands(url, env.as_deref()) {
        let name = cmd[0].clone();
        let mut child = match spawn(&cmd) {
            Ok(c) => c,
            Err(e) => {
                tried.push(format!("{name}: {e}"));
                continue;
            }
        };
        let deadline = tokio::time::Instant::now() + grace;
        let failed = loop {
            match child.try_wait() {
                Ok(Some(status)) => break (!status.success()).then(|| status.to_string()),
                Ok(None) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(None) => break None,
                Err(e) => break Some(e.to_string()),
            }
        };
        match failed {
            None => {
                reap(child);
                return Ok(name);
            }
            Some(why) => tried.push(format!("{name}: {why}")),
        }
    }
    Err(Error::Prompt(format!(
        "no browser could be started ({})",
        tried.join("; ")
    )))
}

fn refuse_unopenable(url: &str) -> Result<()> {
    if is_openable(url) {
        return Ok(());
    }
    Err(Error::UrlRefused {
        url: url.to_owned(),
        reason: "only https (or http on loopback) URLs are opened in a browser".into(),
    })
}

/// Opens the browser and waits for the loopback redirect.
#[derive(Debug, Clone, Default)]
pub struct BrowserPrompt;

#[async_trait::async_trait]
impl AuthorizationPrompt for BrowserPrompt {
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
            eprintln!("(could not open a browser: {e})");
        }
        listener.wait(request.timeout).await
    }
}

/// Prints the URL and accepts either the loopback redirect or a pasted redirect URL.
#[derive(Debug, Clone, Default)]
pub struct ManualPrompt;

#[async_trait::async_trait]
impl AuthorizationPrompt for ManualPrompt {
    async fn authorize(
        &self,
        request: &PromptRequest,
        listener: LoopbackListener,
    ) -> Result<OAuthParams> {
        if !is_openable(&request.authorization_url) {
            return Err(Error::UrlRefused {
                url: request.authorization_url.clone(),
                reason: "only https (or http on loopback) URLs are shown to the user".into(),
            });
        }
        eprintln!(
            "Open this URL in a browser and authorize:\n\n  {}\n\nThen paste the full URL you were redirected to (it starts with {}):",
            request.authorization_url, request.redirect_uri
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<std::io::Result<String>>();
        // A plain thread, not spawn_blocking: a pending stdin read must not keep the runtime
        // from shutting down when the loopback redirect wins.
        std::thread::spawn(move || {
            let mut line = String::new();
            let r = std::io::stdin().read_line(&mut line).map(|_| line);
            let _ = tx.send(r);
        });
        tokio::select! {
            r = listener.wait(request.timeout) => r,
            line = rx => {
                let line = line
                    .map_err(|_| Error::Prompt("stdin reader stopped".into()))?
                    .map_err(|e| Error::Prompt(format!("reading stdin: {e}")))?;
                params_from_pasted(line.trim(), &request.redirect_uri)
            }
        }
    }
}

/// The query parameters of a pasted redirect URL (or of a bare `code=…&state=…` string).
pub fn params_from_pasted(pasted: &str, redirect_uri: &str) -> Result<OAuthParams> {
    if pasted.is_empty() {
        return Err(Error::Prompt("nothing was pasted".into()));
    }
    if let Some(rest) = pasted.strip_prefix(redirect_uri) {
        return parse_redirect_query(rest.strip_prefix('?').unwrap_or(rest));
    }
    if pasted.contains("://") {
        let u = url::Url::parse(pasted)
            .map_err(|e| Error::Prompt(format!("the pasted text is not a URL: {e}")))?;
        return parse_redirect_query(u.query().unwrap_or_default());
    }
    parse_redirect_query(pasted.trim_start_matches('?'))
}

/// Follows the authorization URL's redirects itself (no browser, no listener needed): for
/// authorization servers that approve at once, like the conformance harness's.
#[derive(Debug, Clone)]
pub struct HeadlessPrompt {
    fetcher: Fetcher,
    max_hops: usize,
}

impl HeadlessPrompt {
    /// A headless prompt using `fetcher` (and its URL policy for every hop).
    pub fn new(fetcher: Fetcher) -> Self {
        Self {
            fetcher,
            max_hops: 5,
        }
    }

    /// A headless prompt with its own HTTP client built from `settings` (e.g.
    /// `config.http_settings()`).
    pub fn from_settings(settings: crate::fetch::HttpSettings) -> Result<Self> {
        Ok(Self::new(Fetcher::new(settings)?))
    }
}

#[async_trait::async_trait]
impl AuthorizationPrompt for HeadlessPrompt {
    async fn authorize(
        &self,
        request: &PromptRequest,
        listener: LoopbackListener,
    ) -> Result<OAuthParams> {
        drop(listener);
        let mut url = request.authorization_url.clone();
        for _ in 0..self.max_hops {
            let resp = self.fetcher.get(&url).await?;
            if !(300..400).contains(&resp.status) {
                return Err(Error::Prompt(format!(
                    "{url} answered HTTP {} instead of redirecting; headless mode needs an authorization server that approves without a user",
                    resp.status
                )));
            }
            let location = resp
                .headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| Error::Prompt(format!("{url} redirected without a Location")))?;
            let next = url::Url::parse(&url)
                .and_then(|base| base.join(location))
                .map_err(|e| Error::Prompt(format!("bad Location {location:?}: {e}")))?;
            let next_s = next.to_string();
            if let Some(rest) = next_s.strip_prefix(&request.redirect_uri)
                && (rest.is_empty() || rest.starts_with('?'))
            {
                return parse_redirect_query(next.query().unwrap_or_default());
            }
            url = next_s;
        }
        Err(Error::Prompt(format!(
            "more than {} redirects without reaching {}",
            self.max_hops, request.redirect_uri
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_safe_urls_are_opened() {
        for bad in [
            "javascript:alert(1)",
            "file:///etc/passwd",
            "data:text/html,x",
            "vbscript:x",
            "http://example.com/authorize",
            "ms-settings:x",
        ] {
            assert!(!is_openable(bad), "{bad}");
            assert!(open_browser(bad).is_err(), "{bad}");
        }
        assert!(is_openable("https://as.example/authorize?x=1"));
        assert!(is_openable("http://127.0.0.1:9/authorize"));
    }

    #[test]
    fn browser_env_entries_come_first_and_the_url_is_one_argument() {
        let u = "https://as.example/authorize?a=1&b=2";
        let c = browser_commands(u, Some("firefox --new-tab:chromium --app=%s"));
        assert_eq!(c[0], ["firefox", "--new-tab", u]);
        assert_eq!(c[1], ["chromium", &format!("--app={u}")]);
        assert_eq!(c.len(), 3, "then the platform opener");
        assert_eq!(browser_commands(u, Some(" ")).len(), 1);
        assert_eq!(browser_commands(u, None).len(), 1);
    }

    #[test]
    fn pasted_forms() {
        let r = "http://127.0.0.1:5/callback";
        let p = params_from_pasted("http://127.0.0.1:5/callback?code=a&state=b", r).unwrap();
        assert_eq!(p.get("code"), Some("a"));
        let p = params_from_pasted("code=a&state=b", r).unwrap();
        assert_eq!(p.get("state"), Some("b"));
        assert!(params_from_pasted("", r).is_err());
        assert!(params_from_pasted("http://127.0.0.1:5/callback?code=a&code=b", r).is_err());
    }
}
