//! One line for a failed client command: what failed, what was tried, what to do. The library's
//! error stays underneath as the cause (`-v`).

use crate::output::{error_line, explained, scrub};
use mcp_oauth_client::Error;

/// What was being done, for the first words of the line.
pub struct Doing<'a> {
    /// `sign in to URL`, `list the tools of URL`, …
    pub what: String,
    /// The resource the token was for (the PRM `resource`), when discovery got that far.
    pub resource: Option<String>,
    /// The MCP server URL.
    pub url: &'a str,
    /// Whether a client id was named on the command line.
    pub named_client: bool,
}

/// The innermost cause of an error (a socket error, not the request wrapper around it).
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn advice(err: &Error, d: &Doing<'_>) -> String {
    let resource = d.resource.as_deref().unwrap_or(d.url);
    let code_and_text = |error: &str, description: &Option<String>| match description {
        Some(t) => format!("{error}: {t}"),
        None => error.to_owned(),
    };
    match err {
        Error::OAuth {
            error, description, ..
        }
        | Error::AuthorizationDenied { error, description } => match error.as_str() {
            "invalid_target" => format!(
                "the authorization server does not accept the resource {resource} ({}); register it: `mcp-oauth resources add {resource}`",
                code_and_text(error, description)
            ),
            "access_denied" => format!(
                "the sign-in was declined ({}); run the command again and approve",
                code_and_text(error, description)
            ),
            "invalid_client" if d.named_client => format!(
                "the authorization server refused the client ({}); check --client-id and the secret or key, or create the client: `mcp-oauth clients add`",
                code_and_text(error, description)
            ),
            "invalid_scope" => format!(
                "the scope asked for is not allowed ({}); ask for less with --scope",
                code_and_text(error, description)
            ),
            "unauthorized_client" => format!(
                "the client may not use this grant ({}); check the client's grant types (`mcp-oauth clients show ID`)",
                code_and_text(error, description)
            ),
            _ => scrub(&err.to_string()),
        },
        Error::Transport { url, source } => format!(
            "cannot reach {url} ({}); is the server running at that address?",
            root_cause(source)
        ),
        Error::CallbackTimeout(t) => format!(
            "nobody finished signing in within {} s; run it again (`--timeout SECS` waits longer, `--no-browser` prints the URL to open anywhere)",
            t.as_secs()
        ),
        Error::Prompt(m) => m.clone(),
        Error::MissingEndpoint {
            issuer,
            endpoint: "device_authorization_endpoint",
            ..
        } => format!(
            "the authorization server {issuer} does not offer the device flow (no device_authorization_endpoint in its metadata); sign in with a browser instead: `mcp-oauth login {}` (or `--no-browser` to paste the redirect)",
            d.url
        ),
        Error::DeviceAccessDenied => {
            "the sign-in was denied on the verification page; run the command again and approve"
                .to_owned()
        }
        other => scrub(&other.to_string()),
    }
}

/// Wraps `e` into the one line for `doing`.
pub fn explain(e: anyhow::Error, doing: &Doing<'_>) -> anyhow::Error {
    if e.downcast_ref::<crate::output::Explained>().is_some() {
        return e;
    }
    let found = e.chain().find_map(|c| c.downcast_ref::<Error>());
    let detail = match found {
        Some(err) => advice(err, doing),
        None => error_line(&e),
    };
    explained(format!("cannot {}: {detail}", doing.what), Some(e))
}

/// A URL without a scheme says so (rather than "only https is allowed").
pub fn check_server_url(url: &str) -> anyhow::Result<()> {
    if url.contains("://") {
        return Ok(());
    }
    let host = url.trim_start_matches('/');
    Err(explained(
        format!(
            "`{url}` is not a URL: the scheme is missing; write `https://{host}` (or `http://{host}` for a server on this machine)"
        ),
        None,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doing() -> Doing<'static> {
        Doing {
            what: "sign in to https://mcp.example/mcp".into(),
            resource: Some("https://mcp.example/mcp".into()),
            url: "https://mcp.example/mcp",
            named_client: false,
        }
    }

    #[test]
    fn invalid_target_says_how_to_register() {
        let e = anyhow::Error::new(Error::AuthorizationDenied {
            error: "invalid_target".into(),
            description: Some("the resource is not registered".into()),
        })
        .context("the resource is not registered");
        let line = error_line(&explain(e, &doing()));
        assert!(
            line.contains("register it: `mcp-oauth resources add https://mcp.example/mcp`"),
            "{line}"
        );
        assert_eq!(line.matches("not registered").count(), 1, "{line}");
    }

    #[test]
    fn a_server_without_the_device_flow_says_what_to_do() {
        let e = anyhow::Error::new(Error::MissingEndpoint {
            issuer: "https://as.example".into(),
            endpoint: "device_authorization_endpoint",
        });
        let line = error_line(&explain(e, &doing()));
        assert!(line.contains("does not offer the device flow"), "{line}");
        assert!(
            line.contains("`mcp-oauth login https://mcp.example/mcp`"),
            "{line}"
        );
    }

    #[test]
    fn a_missing_scheme_is_named() {
        let e = check_server_url("127.0.0.1:8080/mcp").unwrap_err();
        let line = error_line(&e);
        assert!(line.contains("scheme is missing"), "{line}");
        assert!(!line.contains("only https"), "{line}");
        assert!(check_server_url("https://x/mcp").is_ok());
    }
}
