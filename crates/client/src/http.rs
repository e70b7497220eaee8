//! An HTTP client for one MCP server that takes care of authorization: it adds
//! `Authorization: Bearer` to every request (never a token in a URL), answers a 401 by
//! refreshing or authorizing and retrying once, and a 403 `insufficient_scope` by stepping up,
//! trying the request at most `max_attempts` times.

use crate::error::{Error, Result};
use crate::manager::TokenManager;
use mcp_oauth_core::challenge::find_bearer;
use std::sync::Arc;

/// The default HTTP client of the bearer clients ([`AuthorizedClient`] and the rmcp
/// transport): redirects off, so a token never follows a redirect to another host; the connect
/// timeout from the manager's settings.
pub(crate) fn bearer_http_client(manager: &TokenManager) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(manager.config().http_settings().timeout)
        .build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))
}

/// A `reqwest::Client` bound to one MCP server and a [`TokenManager`].
#[derive(Debug, Clone)]
pub struct AuthorizedClient {
    http: reqwest::Client,
    manager: Arc<TokenManager>,
    server_url: String,
}

impl AuthorizedClient {
    /// A client for `server_url` with a default HTTP client (redirects off: a token must not
    /// follow a redirect to another host; connect timeout from the manager's settings).
    pub fn new(manager: Arc<TokenManager>, server_url: impl Into<String>) -> Result<Self> {
        let http = bearer_http_client(&manager)?;
        Ok(Self::with_http_client(manager, server_url, http))
    }

    /// A client using an HTTP client of the caller's.
    pub fn with_http_client(
        manager: Arc<TokenManager>,
        server_url: impl Into<String>,
        http: reqwest::Client,
    ) -> Self {
        Self {
            http,
            manager,
            server_url: server_url.into(),
        }
    }

    /// The MCP server URL.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// The manager.
    pub fn manager(&self) -> &Arc<TokenManager> {
        &self.manager
    }

    /// The current bearer token, obtaining one if needed (the seam for transports).
    pub async fn bearer_token(&self) -> Result<String> {
        self.manager.bearer_token(&self.server_url).await
    }

    /// Sends the request `build` makes (called again for each retry, so bodies are rebuilt).
    ///
    /// Without a stored token the first attempt goes out without one, so that the server's 401
    /// challenge (with its `scope`) drives discovery and scope selection. A second 401 is
    /// returned to the caller as is; so is any other status.
    pub async fn send<F>(&self, build: F) -> Result<reqwest::Response>
    where
        F: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync,
    {
        let max = self.manager.config().max_attempts;
        let mut token = self.manager.cached_token(&self.server_url).await?;
        let mut retried_401 = false;
        let mut retried_nonce = false;
        let mut scope_attempts = 0u32;
        let transport = |e: reqwest::Error| Error::Transport {
            url: self.server_url.clone(),
            source: e.without_url(),
        };
        loop {
            let mut req = build(&self.http).build().map_err(transport)?;
            if let Some(t) = &token {
                // `Bearer`, or `DPoP` with a proof for this method and URL (RFC 9449 §7.1).
                let url = req.url().as_str().to_owned();
                let method = req.method().as_str().to_owned();
                let headers = self
                    .manager
                    .authorization_headers(&self.server_url, t, &method, &url)
                    .await?;
                req.headers_mut().extend(headers);
            }
            let url = req.url().as_str().to_owned();
            let resp = self.http.execute(req).await.map_err(transport)?;
            // RFC 9449 §9: a resource server's nonce, retried once.
            if resp.status().as_u16() == 401
                && self.manager.note_dpop_nonce(&url, resp.headers())
                && !retried_nonce
            {
                retried_nonce = true;
                continue;
            }
            let challenge = || {
                find_bearer(
                    resp.headers()
                        .get_all(reqwest::header::WWW_AUTHENTICATE)
                        .iter()
                        .filter_map(|v| v.to_str().ok()),
                )
            };
            match resp.status().as_u16() {
                401 if !retried_401 => {
                    retried_401 = true;
                    let c = challenge();
                    token = Some(
                        self.manager
                            .handle_unauthorized(&self.server_url, c.as_ref(), token.as_deref())
                            .await?,
                    );
                }
                403 => {
                    let Some(c) =
                        challenge().filter(|c| c.error.as_deref() == Some("insufficient_scope"))
                    else {
                        return Ok(resp);
                    };
                    scope_attempts += 1;
                    if scope_attempts >= max {
                        return Err(Error::StepUpExhausted {
                            attempts: scope_attempts,
                            scope: c.scope,
                        });
                    }
                    token = Some(self.manager.step_up(&self.server_url, &c).await?);
                }
                _ => return Ok(resp),
            }
        }
    }
}
