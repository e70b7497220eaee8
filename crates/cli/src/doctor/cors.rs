//! CORS for browser-based clients (MCP Inspector's "Direct" mode, web apps): they `fetch` the
//! MCP endpoint, the metadata, the token and registration endpoints from another origin, and
//! read `WWW-Authenticate` from a 401. Missing CORS breaks only those clients, so it is a
//! warning, never a failure.

use super::Doctor;
use super::authz::FoundAs;
use super::endpoint::Probe;
use super::report::Status;
use http::Method;
use mcp_oauth_client::fetch::Fetched;
use mcp_oauth_core::wellknown::authorization_server_metadata_urls;

const STEP: &str = "browser clients (CORS)";
const SPEC: &str = "Fetch Standard §3.2 (CORS protocol); MCP 2025-11-25 §Authorization Server Metadata Discovery (browser clients)";

/// Whether the response lets `origin` read it.
fn allowed(resp: &Fetched, origin: &str) -> bool {
    resp.headers
        .get("access-control-allow-origin")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "*" || v == origin)
}

/// A response header's value, lower-cased (empty when absent).
fn header(resp: &Fetched, name: &str) -> String {
    resp.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// Sends a preflight for `method` with `headers` and says whether it lets `origin` through.
async fn preflight(d: &mut Doctor, id: &'static str, what: &str, url: &str, headers: &str) {
    let origin = d.origin.clone();
    let sent = [
        ("Origin", origin.as_str()),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", headers),
    ];
    let resp = d.fetcher.request(Method::OPTIONS, url, &sent).await;
    let ok = resp.as_ref().is_ok_and(|r| {
        (200..300).contains(&r.status)
            && allowed(r, &origin)
            && headers.split(',').all(|h| {
                let allow = header(r, "access-control-allow-headers");
                allow == "*" || allow.split(',').any(|a| a.trim() == h.trim())
            })
    });
    let saw = match &resp {
        Ok(r) => format!(
            "HTTP {}, Access-Control-Allow-Origin: {:?}, Access-Control-Allow-Headers: {:?}",
            r.status,
            header(r, "access-control-allow-origin"),
            header(r, "access-control-allow-headers")
        ),
        Err(e) => mcp_oauth_client::fetch::describe_failure(e),
    };
    if ok {
        d.report
            .add(
                STEP,
                id,
                Status::Pass,
                format!("{what}: the preflight from {origin} is allowed"),
            )
            .spec(SPEC);
    } else {
        d.report
            .add(STEP, id, Status::Warn, format!("{what}: the preflight from {origin} is not allowed: browser-based clients cannot call {url}"))
            .saw(saw)
            .spec(SPEC)
            .fix(format!("answer OPTIONS with Access-Control-Allow-Origin and Access-Control-Allow-Headers: {headers}"));
    }
}

/// The MCP endpoint: a preflight for the POST with `Authorization`, and a 401 whose challenge a
/// browser may read.
pub async fn check_resource(d: &mut Doctor, probe: &Probe) {
    let url = d.url.clone();
    preflight(
        d,
        "cors.mcp.preflight",
        "MCP endpoint",
        &url,
        "authorization,content-type,mcp-protocol-version",
    )
    .await;
    if probe.challenge.is_none() {
        return;
    }
    let origin = d.origin.clone();
    let resp = d
        .fetcher
        .request(
            Method::POST,
            &url,
            &[
                ("Origin", origin.as_str()),
                ("Content-Type", "application/json"),
            ],
        )
        .await;
    let Ok(r) = resp else { return };
    let exposed = header(&r, "access-control-expose-headers");
    if allowed(&r, &origin)
        && (exposed == "*" || exposed.split(',').any(|h| h.trim() == "www-authenticate"))
    {
        d.report
            .add(
                STEP,
                "cors.mcp.challenge",
                Status::Pass,
                "a browser can read the 401's WWW-Authenticate",
            )
            .spec(SPEC);
    } else {
        d.report
            .add(STEP, "cors.mcp.challenge", Status::Warn, "a browser cannot read the 401's WWW-Authenticate")
            .saw(format!("Access-Control-Allow-Origin: {:?}, Access-Control-Expose-Headers: {exposed:?}", header(&r, "access-control-allow-origin")))
            .spec(SPEC)
            .fix("add Access-Control-Allow-Origin and Access-Control-Expose-Headers: WWW-Authenticate to the 401");
    }
}

/// The authorization server: its metadata readable from the browser, preflights of the token and
/// registration endpoints.
pub async fn check_authorization_server(d: &mut Doctor, a: &FoundAs) {
    let origin = d.origin.clone();
    if let Some(url) =
        authorization_server_metadata_urls(&a.issuer).and_then(|u| u.into_iter().next())
    {
        let resp = d
            .fetcher
            .request(
                Method::GET,
                &url,
                &[("Origin", origin.as_str()), ("Accept", "application/json")],
            )
            .await;
        if resp
            .as_ref()
            .is_ok_and(|r| r.status == 200 && allowed(r, &origin))
        {
            d.report
                .add(
                    STEP,
                    "cors.as.metadata",
                    Status::Pass,
                    "a browser can read the authorization server metadata",
                )
                .spec(SPEC);
        } else {
            d.report
                .add(
                    STEP,
                    "cors.as.metadata",
                    Status::Warn,
                    format!("a browser from {origin} cannot read {url}"),
                )
                .saw(match &resp {
                    Ok(r) => format!(
                        "HTTP {}, Access-Control-Allow-Origin: {:?}",
                        r.status,
                        header(r, "access-control-allow-origin")
                    ),
                    Err(e) => mcp_oauth_client::fetch::describe_failure(e),
                })
                .spec(SPEC)
                .fix(
                    "send Access-Control-Allow-Origin on the metadata (`*` is fine: it is public)",
                );
        }
    }
    if let Some(t) = a.metadata.token_endpoint.clone() {
        preflight(d, "cors.as.token", "token endpoint", &t, "content-type").await;
    }
    if let Some(reg) = a.metadata.registration_endpoint.clone() {
        preflight(
            d,
            "cors.as.registration",
            "registration endpoint",
            &reg,
            "content-type",
        )
        .await;
    }
}
