//! `mcp-oauth doctor URL`: walks an MCP server's authorization chain as a spec-compliant client
//! does and reports every link: what it saw, whether that is right (with the section of the
//! specification or RFC), and how to fix it. It goes on after a failure wherever the next link can
//! still be examined, so one run shows every problem, not only the first.
//!
//! The links, one file each: [`endpoint`] (the URL, reachability and TLS, the unauthenticated
//! request and its `WWW-Authenticate` challenge), [`prm`] (protected resource metadata at both
//! well-known forms), [`authz`] (authorization server metadata, PKCE, registration, scopes),
//! [`cors`] (what browser-based clients need), [`token`] (a token from `--token`, from
//! `mcp-oauth login`, or by `--client-credentials`: accepted, audience, JWKS, clock). Last,
//! the client library's own discovery runs on the same server, so the report cannot disagree
//! with what `mcp-oauth login` would do. The URLs come from `core::wellknown` and the checks
//! from `core::resource`, the same the client uses.

mod authz;
mod cors;
mod endpoint;
mod prm;
pub mod report;
mod token;

use crate::GlobalArgs;
use crate::client_cmd::ConnectArgs;
use anyhow::Context;
use mcp_oauth_client::fetch::{Fetched, Fetcher, HttpSettings, describe_failure};
use mcp_oauth_core::uri::{UriParts, is_loopback_host};
use report::{Report, Status};
use std::time::Duration;

/// `mcp-oauth doctor URL`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// The MCP server URL (the endpoint clients POST to, e.g. `https://mcp.example.com/mcp`).
    pub url: String,
    /// An access token to check against the server (`-` reads it from stdin). Without it, the
    /// token `mcp-oauth login` stored for this server is used, if there is one.
    #[arg(long, value_name = "TOKEN", conflicts_with = "client_credentials")]
    pub token: Option<String>,
    /// Also check the machine-to-machine path: a client credentials token (needs --client-id
    /// and --client-secret-env or --private-key), kept in memory only.
    #[arg(long, requires = "client_id")]
    pub client_credentials: bool,
    /// The scope to ask for with --client-credentials (default: the challenge's, else the
    /// metadata's `scopes_supported`).
    #[arg(long)]
    pub scope: Option<String>,
    /// The `Origin` of the browser-based client the CORS checks act as (MCP Inspector's by
    /// default).
    #[arg(long, value_name = "ORIGIN", default_value = "http://localhost:6274")]
    pub origin: String,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// What the steps share: the HTTP client (the client library's, with its URL policy, no
/// redirects, timeouts) and the report.
pub struct Doctor {
    /// The server URL as given.
    pub url: String,
    /// The outbound HTTP client.
    pub fetcher: Fetcher,
    /// The findings so far.
    pub report: Report,
    /// The `Origin` of the CORS checks.
    pub origin: String,
}

/// `doctor`: prints the report; exit status 1 when any check failed (with `--json`, the report
/// alone on stdout).
pub async fn run(global: &GlobalArgs, args: DoctorArgs) -> anyhow::Result<()> {
    let report = diagnose(&args).await?;
    if global.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    if report.summary.fail > 0 && global.json {
        // The report is the whole of stdout: no `{"error": …}` object after it.
        use std::io::Write;
        let _ = std::io::stdout().flush();
        std::process::exit(1);
    }
    if report.summary.fail > 0 {
        return Err(crate::output::explained(
            format!(
                "doctor found {} problem{} with {}",
                report.summary.fail,
                if report.summary.fail == 1 { "" } else { "s" },
                args.url
            ),
            None,
        ));
    }
    Ok(())
}

/// Runs every step and returns the finished report.
async fn diagnose(args: &DoctorArgs) -> anyhow::Result<Report> {
    crate::client_cmd::check_server_url(&args.url)?;
    let loopback_http = UriParts::split(&args.url)
        .is_some_and(|p| p.scheme.eq_ignore_ascii_case("http") && is_loopback_host(p.host()));
    let settings = HttpSettings {
        allow_insecure_http: args.connect.insecure_http || loopback_http,
        timeout: Duration::from_secs(args.connect.request_timeout.max(1)),
        ..HttpSettings::default()
    };
    let mut d = Doctor {
        url: args.url.clone(),
        fetcher: Fetcher::new(settings).context("cannot build the HTTP client")?,
        report: Report::new(&args.url),
        origin: args.origin.clone(),
    };
    let probe = endpoint::check(&mut d).await;
    let challenge = probe.as_ref().and_then(|p| p.challenge.clone());
    let found = match &probe {
        Some(_) => prm::check(&mut d, challenge.as_ref()).await,
        None => None,
    };
    let authz = match (&found, &probe) {
        (Some(p), _) => authz::check(&mut d, &p.doc.authorization_servers, p).await,
        // No metadata: what a client falls back to (2025-03-26), the server's origin as the
        // authorization server, is still examined.
        (None, Some(_)) => match UriParts::split(&args.url).map(|p| p.origin()) {
            Some(origin) => {
                let none = prm::FoundPrm {
                    doc: Default::default(),
                };
                authz::check(&mut d, &[origin], &none).await
            }
            None => None,
        },
        (None, None) => None,
    };
    if let Some(p) = &probe {
        cors::check_resource(&mut d, p).await;
    }
    if let Some(a) = &authz {
        cors::check_authorization_server(&mut d, a).await;
    }
    if probe.is_some() {
        token::check(
            &mut d,
            args,
            token::Found {
                prm: found.as_ref(),
                authz: authz.as_ref(),
                probe: probe.as_ref(),
            },
        )
        .await;
    }
    if probe.is_some() {
        client_agrees(&mut d, challenge.as_ref()).await;
    }
    d.report.finish();
    Ok(d.report)
}

/// The client library's discovery on the same server: the report and `mcp-oauth login` must
/// agree on whether (and where) a client can start authorization.
async fn client_agrees(
    d: &mut Doctor,
    challenge: Option<&mcp_oauth_core::challenge::BearerChallenge>,
) {
    let step = "client";
    match mcp_oauth_client::discovery::discover(&d.fetcher, &d.url, challenge, true).await {
        Ok(found) if found.legacy => {
            d.report
                .add(
                    step,
                    "client.discovery",
                    Status::Warn,
                    format!(
                        "mcp-oauth's client falls back to the 2025-03-26 flow: authorization at {}",
                        found.issuer
                    ),
                )
                .spec("MCP 2025-11-25 §Authorization Server Discovery (the legacy fallback)")
                .fix("serve protected resource metadata so current clients find the authorization server");
        }
        Ok(found) if !found.metadata.supports_s256() => {
            d.report
                .add(
                    step,
                    "client.discovery",
                    Status::Fail,
                    format!(
                        "mcp-oauth's client finds the authorization server {} but would refuse to sign in there: no PKCE S256",
                        found.issuer
                    ),
                )
                .spec("MCP 2025-11-25 §Authorization Code Protection")
                .fix("see the PKCE check above");
        }
        Ok(found) => {
            d.report.add(
                step,
                "client.discovery",
                Status::Pass,
                format!(
                    "mcp-oauth's client discovers the resource {} at the authorization server {}",
                    found.resource, found.issuer
                ),
            );
        }
        Err(e) => {
            d.report
                .add(
                    step,
                    "client.discovery",
                    Status::Fail,
                    "mcp-oauth's client cannot start authorization with this server",
                )
                .saw(crate::output::scrub(&e.to_string()))
                .fix("see the failures above");
        }
    }
}

/// GETs a metadata URL; when it cannot be fetched, says so as `status` under `id` and returns
/// `None`.
pub async fn get_or_report(
    d: &mut Doctor,
    (step, id, status): (&'static str, &'static str, Status),
    what: String,
    url: &str,
) -> Option<Fetched> {
    match d.fetcher.get_metadata(url).await {
        Ok(r) => Some(r),
        Err(e) => {
            d.report
                .add(step, id, status, format!("{what} could not be fetched"))
                .saw(describe_failure(&e));
            None
        }
    }
}

/// The innermost cause of an error: the TLS or socket reason, not the request wrapper.
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    let mut text = cur.to_string();
    while let Some(next) = cur.source() {
        cur = next;
        text = cur.to_string();
    }
    text
}
