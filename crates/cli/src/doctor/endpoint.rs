//! The first link: the URL itself, reachability and TLS, and the request a client sends first
//! without a token (a JSON-RPC `initialize` POST, as `discovery::probe` sends it), which must be
//! answered `401` with a `Bearer` challenge naming the metadata and the scope.

use super::Doctor;
use super::report::Status;
use mcp_oauth_client::Error as ClientError;
use mcp_oauth_client::fetch::{Fetched, MCP_PROTOCOL_VERSION};
use mcp_oauth_core::challenge::{BearerChallenge, parse};
use mcp_oauth_core::uri::{UriParts, is_loopback_host};
use std::time::SystemTime;

const STEP: &str = "endpoint";
const CHALLENGE: &str = "challenge";

/// What the unauthenticated request brought back.
pub struct Probe {
    /// The `Bearer` challenge, if the server sent one.
    pub challenge: Option<BearerChallenge>,
    /// The server's `Date`, and our time when the answer came.
    pub date: Option<(SystemTime, SystemTime)>,
}

/// The URL's shape, reachability, TLS, the 401 and its challenge. `None` when the server cannot
/// be reached, so nothing after it can be examined.
pub async fn check(d: &mut Doctor) -> Option<Probe> {
    if !url_shape(d) {
        return None;
    }
    let resp = send_probe(d).await?;
    let date = date_of(&resp);
    let challenge = challenge(d, &resp);
    Some(Probe { challenge, date })
}

/// A response's `Date`, with this machine's time when it was read.
pub fn date_of(resp: &Fetched) -> Option<(SystemTime, SystemTime)> {
    resp.headers
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok())
        .map(|server| (server, SystemTime::now()))
}

/// HTTPS, or plain http on this machine only; an absolute URL without a fragment.
fn url_shape(d: &mut Doctor) -> bool {
    let url = d.url.clone();
    let Some(parts) = UriParts::split(&url).filter(|p| {
        p.scheme.eq_ignore_ascii_case("https") || p.scheme.eq_ignore_ascii_case("http")
    }) else {
        d.report
            .add(
                STEP,
                "url",
                Status::Fail,
                "the URL is not an absolute http(s) URL",
            )
            .saw(url)
            .spec("MCP 2025-11-25 §Canonical Server URI")
            .fix("give the full URL clients connect to, e.g. https://mcp.example.com/mcp");
        return false;
    };
    if parts.fragment.is_some() {
        d.report
            .add(STEP, "url", Status::Fail, "the URL has a fragment")
            .spec("RFC 8707 §2: a resource indicator MUST NOT include a fragment")
            .fix("drop the #… part");
        return false;
    }
    let https = parts.scheme.eq_ignore_ascii_case("https");
    let loopback = is_loopback_host(parts.host());
    if !https && !loopback {
        d.report
            .add(
                STEP,
                "url.https",
                Status::Fail,
                format!("plain http on a host that is not this machine ({})", parts.host()),
            )
            .spec("MCP 2025-11-25 §Communication Security, OAuth 2.1 §1.5: every authorization endpoint MUST be served over HTTPS")
            .fix("serve the MCP server (and its authorization server) over https; clients refuse http except on loopback");
        return false;
    }
    if !https {
        d.report
            .add(
                STEP,
                "url.https",
                Status::Info,
                "plain http on loopback: accepted for development on this machine only",
            )
            .spec("OAuth 2.1 §1.5; RFC 8252 §8.3");
    }
    true
}

/// The token-less `initialize` POST. Reports reachability and TLS.
async fn send_probe(d: &mut Doctor) -> Option<Fetched> {
    let version = d.fetcher.settings().protocol_version.clone();
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {
            "protocolVersion": version,
            "capabilities": {},
            "clientInfo": {"name": "mcp-oauth-doctor", "version": env!("CARGO_PKG_VERSION")}
        }
    });
    let url = d.url.clone();
    let headers = [
        ("Accept", "application/json, text/event-stream"),
        (MCP_PROTOCOL_VERSION, version.as_str()),
    ];
    match d.fetcher.post_json(&url, &body, &headers).await {
        Ok(resp) => {
            if url
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
            {
                d.report.add(
                    STEP,
                    "tls",
                    Status::Pass,
                    "TLS: the certificate is valid for the host (system roots)",
                );
            }
            d.report.add(
                STEP,
                "reachable",
                Status::Pass,
                format!("reachable: POST {url} answered HTTP {}", resp.status),
            );
            Some(resp)
        }
        Err(e) => {
            unreachable(d, &url, &e);
            None
        }
    }
}

fn unreachable(d: &mut Doctor, url: &str, e: &ClientError) {
    let cause = super::root_cause(e);
    let lower = cause.to_ascii_lowercase();
    let tls = [
        "certificate",
        "tls",
        "handshake",
        "unknownissuer",
        "notvalidforname",
    ]
    .iter()
    .any(|w| lower.contains(w));
    if tls {
        d.report
            .add(STEP, "tls", Status::Fail, "TLS: the certificate was refused")
            .saw(cause)
            .spec("OAuth 2.1 §1.5 (TLS), RFC 9110 §4.3.4 (the certificate must match the host)")
            .fix("serve a certificate for this host from a public CA (or one the clients trust), with the full chain");
    } else {
        d.report
            .add(STEP, "reachable", Status::Fail, format!("cannot reach {url}"))
            .saw(cause)
            .fix("check the URL, that the server is running, and that this machine may connect to it");
    }
}

/// The status and the `WWW-Authenticate` challenge of the token-less request.
fn challenge(d: &mut Doctor, resp: &Fetched) -> Option<BearerChallenge> {
    let r = &mut d.report;
    match resp.status {
        401 => {
            r.add(
                CHALLENGE,
                "challenge.status",
                Status::Pass,
                "a request without a token is answered 401",
            )
            .spec("MCP 2025-11-25 §Authorization Flow Steps; RFC 6750 §3");
        }
        200..=299 => {
            r.add(
                CHALLENGE,
                "challenge.status",
                Status::Fail,
                format!("a request without a token is answered HTTP {}: the server is not protected", resp.status),
            )
            .spec("MCP 2025-11-25 §Authorization Flow Steps: a protected server answers 401 to a request without a token")
            .fix("put the bearer guard in front of every MCP route (mcp-oauth-resource's RequireBearerLayer, or `mcp-oauth guard`)");
            return None;
        }
        300..=399 => {
            r.add(CHALLENGE, "challenge.status", Status::Fail, format!("the MCP endpoint redirects (HTTP {})", resp.status))
                .saw(location(resp))
                .spec("MCP 2025-11-25 §Canonical Server URI: clients use the URL as given and do not follow redirects here")
                .fix("publish the URL the server answers at, without redirects (a trailing slash is a different URL)");
            return None;
        }
        s => {
            r.add(CHALLENGE, "challenge.status", Status::Fail, format!("a request without a token is answered HTTP {s}, not 401"))
                .spec("MCP 2025-11-25 §Authorization Flow Steps; RFC 6750 §3.1")
                .fix("answer 401 with a Bearer challenge before anything else (404/405 usually mean the URL is not the MCP endpoint; a trailing slash makes another URL)");
            if s != 403 {
                return None;
            }
        }
    }
    let values = resp.www_authenticate();
    if values.is_empty() {
        r.add(
            CHALLENGE,
            "challenge.header",
            Status::Fail,
            "the 401 has no WWW-Authenticate header",
        )
        .spec("RFC 9110 §15.5.2: a 401 MUST carry WWW-Authenticate; RFC 9728 §5.1")
        .fix("send `WWW-Authenticate: Bearer resource_metadata=\"…\", scope=\"…\"`");
        return None;
    }
    let joined = values.join(", ");
    let parsed: Vec<_> = values.iter().map(|v| parse(v)).collect();
    if parsed.iter().any(Result::is_err) {
        r.add(
            CHALLENGE,
            "challenge.header",
            Status::Fail,
            "WWW-Authenticate does not parse",
        )
        .saw(joined)
        .spec("RFC 9110 §11.6.1 (challenge grammar)")
        .fix("quote parameter values and separate parameters with commas");
        return None;
    }
    let Some(bearer) = parsed
        .into_iter()
        .flatten()
        .flatten()
        .find(|c| c.is_bearer())
        .map(|c| BearerChallenge::from_challenge(&c))
    else {
        r.add(
            CHALLENGE,
            "challenge.header",
            Status::Fail,
            "WWW-Authenticate has no Bearer challenge",
        )
        .saw(joined)
        .spec("RFC 6750 §3")
        .fix("challenge with the Bearer scheme");
        return None;
    };
    r.add(
        CHALLENGE,
        "challenge.header",
        Status::Pass,
        "WWW-Authenticate carries a Bearer challenge",
    )
    .saw(joined)
    .spec("RFC 6750 §3");
    if let Some(e) = &bearer.error {
        r.add(CHALLENGE, "challenge.error", Status::Warn, format!("the challenge to a request without a token carries error=\"{e}\""))
            .spec("RFC 6750 §3.1: without authentication information the challenge SHOULD NOT include an error code")
            .fix("send error=\"invalid_token\" only when a token was presented");
    }
    match &bearer.resource_metadata {
        Some(u) => {
            r.add(
                CHALLENGE,
                "challenge.resource_metadata",
                Status::Pass,
                "the challenge names the protected resource metadata",
            )
            .saw(u.clone())
            .spec(
                "RFC 9728 §5.1; MCP 2025-11-25 §Protected Resource Metadata Discovery Requirements",
            );
        }
        None => {
            r.add(CHALLENGE, "challenge.resource_metadata", Status::Warn, "the challenge has no resource_metadata: clients must guess the well-known URLs")
                .spec("RFC 9728 §5.1; MCP 2025-11-25 §Protected Resource Metadata Discovery Requirements (SHOULD)")
                .fix("add resource_metadata=\"<the metadata URL>\" to the challenge");
        }
    }
    match &bearer.scope {
        Some(s) => {
            r.add(
                CHALLENGE,
                "challenge.scope",
                Status::Pass,
                format!("the challenge says which scope to ask for: {s}"),
            )
            .spec("MCP 2025-11-25 §Scope Selection Strategy");
        }
        None => {
            r.add(
                CHALLENGE,
                "challenge.scope",
                Status::Warn,
                "the challenge has no scope: clients fall back to scopes_supported or ask for none",
            )
            .spec("MCP 2025-11-25 §Scope Selection Strategy (SHOULD include scope)")
            .fix("add scope=\"…\" with the least scope the request needs");
        }
    }
    Some(bearer)
}

fn location(resp: &Fetched) -> String {
    resp.headers
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| format!("Location: {l}"))
        .unwrap_or_else(|| "no Location header".to_owned())
}
