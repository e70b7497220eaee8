//! node-oidc-provider (`interop/idp/upstream.mjs`, pinned in `interop/idp`) as a live upstream
//! identity provider on `127.0.0.1:0`, killed by pid on drop (also when a test panics), and a
//! browser that signs in on its development pages over HTTP with cookies. Self-contained, so that
//! the CLI's tests include it by path too.

#![allow(dead_code)]

use reqwest::StatusCode;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const CLIENT_ID: &str = "mcp-oauth-upstream";
pub const CLIENT_SECRET: &str = "upstream-secret-0123456789abcdef";
/// Set in CI: the tests fail instead of skipping when the provider is not installed.
const REQUIRE: &str = "MCP_OAUTH_REQUIRE_IDP";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The provider's process; SIGKILL on drop.
pub struct Idp {
    pub issuer: String,
    /// Refreshes at its token endpoint so far (granted or refused).
    pub refreshes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    child: Child,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Idp {
    /// Starts the provider for these redirect URIs, or `None` (with a `SKIPPED` line) when
    /// node-oidc-provider or Node 22 is not installed and `MCP_OAUTH_REQUIRE_IDP` is unset.
    pub fn start(redirect_uris: &[String]) -> Option<Self> {
        Self::start_with(redirect_uris, &[])
    }

    /// As [`Idp::start`], with more settings of `upstream.mjs` (`IDP_CLAIMS=cognito`).
    pub fn start_with(redirect_uris: &[String], env: &[(&str, &str)]) -> Option<Self> {
        let node = repo().join("interop/browser/node_modules/node/bin/node");
        let provider = repo().join("interop/idp/node_modules/oidc-provider/package.json");
        let missing: Vec<String> = [&node, &provider]
            .into_iter()
            .filter(|p| !p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if !missing.is_empty() {
            let how = "npm ci --prefix interop/idp; npm ci --prefix interop/browser";
            assert!(
                std::env::var_os(REQUIRE).is_none(),
                "{REQUIRE} is set but these are missing: {missing:?} ({how})"
            );
            eprintln!("SKIPPED: federated login test needs {missing:?} ({how})");
            return None;
        }
        let mut child = Command::new(node)
            .arg(repo().join("interop/idp/upstream.mjs"))
            .env("IDP_CLIENT_ID", CLIENT_ID)
            .env("IDP_CLIENT_SECRET", CLIENT_SECRET)
            .env("IDP_REDIRECT_URIS", redirect_uris.join(","))
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let refreshes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = refreshes.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("idp listening on ") {
                    let _ = tx.send(url.to_owned());
                } else if line.starts_with("idp refresh ") {
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
        let issuer = rx.recv_timeout(Duration::from_secs(30));
        let mut idp = Self {
            issuer: String::new(),
            refreshes,
            child,
        };
        idp.issuer = issuer.expect("the provider did not start within 30 s");
        Some(idp)
    }
}

/// A browser: keeps cookies (both servers are 127.0.0.1), follows no redirect by itself.
pub struct Browser {
    pub http: reqwest::Client,
}

/// One answer.
pub struct Answer {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Answer {
    /// The `action` of the first form whose text contains `marker`.
    pub fn form_action(&self, marker: &str) -> String {
        let at = self
            .body
            .find(marker)
            .unwrap_or_else(|| panic!("no {marker} in {}", self.body));
        let start = self.body[..at]
            .rfind("action=\"")
            .unwrap_or_else(|| panic!("no form before {marker}"))
            + "action=\"".len();
        let end = self.body[start..].find('"').unwrap() + start;
        html_unescape(&self.body[start..end])
    }

    /// A hidden input's value.
    pub fn hidden(&self, name: &str) -> String {
        hidden(&self.body, name)
    }
}

/// A response as the browser sees it.
pub async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let headers = r.headers().clone();
    let body = r.text().await.unwrap();
    Answer {
        status,
        location,
        headers,
        body,
    }
}

/// The value of the hidden input `name` of a page.
pub fn hidden(body: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&needle)
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        + needle.len();
    let end = body[start..].find('"').unwrap() + start;
    html_unescape(&body[start..end])
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub async fn get(&self, url: &str) -> Answer {
        answer(self.http.get(url).send().await.unwrap()).await
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Answer {
        answer(self.http.post(url).form(form).send().await.unwrap()).await
    }

    /// At the provider, from its authorization URL: signs in as `login` on its login page,
    /// approves on its consent page, and returns the URL it sends the browser back to (not
    /// followed, so that a test may tamper with it).
    pub async fn sign_in_upstream(
        &self,
        idp: &Idp,
        authorization_url: &str,
        login: &str,
    ) -> String {
        let mut url = authorization_url.to_owned();
        for _ in 0..12 {
            if !url.starts_with(&idp.issuer) {
                return url;
            }
            let page = self.get(&url).await;
            if let Some(next) = page.location {
                url = absolute(&idp.issuer, &next);
                continue;
            }
            assert_eq!(page.status, StatusCode::OK, "provider page: {}", page.body);
            let answer = if page.body.contains("name=\"prompt\" value=\"login\"") {
                let action = absolute(&idp.issuer, &page.form_action("value=\"login\""));
                self.post(
                    &action,
                    &[("prompt", "login"), ("login", login), ("password", "any")],
                )
                .await
            } else {
                let action = absolute(&idp.issuer, &page.form_action("value=\"consent\""));
                self.post(&action, &[("prompt", "consent")]).await
            };
            url = absolute(
                &idp.issuer,
                &answer
                    .location
                    .unwrap_or_else(|| panic!("provider form answer: {}", answer.body)),
            );
        }
        panic!("the provider never sent the browser back");
    }
}

/// HTML attribute text back to its value.
pub fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn absolute(base: &str, loc: &str) -> String {
    if loc.starts_with("http") {
        loc.to_owned()
    } else {
        format!("{base}{loc}")
    }
}
