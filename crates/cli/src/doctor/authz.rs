//! Authorization server metadata: every URL of `core::wellknown` for each listed issuer (RFC 8414
//! path insertion, then OpenID Discovery inserted and appended), the `issuer` of each document
//! against the issuer looked up, then what a client needs of the one it uses: endpoints, PKCE
//! `S256`, a way to register (CIMD, dynamic registration, or a pre-registered id), `resource`
//! indicators, scopes.

use super::Doctor;
use super::prm::FoundPrm;
use super::report::Status;
use mcp_oauth_client::fetch::describe_failure;
use mcp_oauth_core::metadata::AuthorizationServerMetadata;
use mcp_oauth_core::uri::UriParts;
use mcp_oauth_core::wellknown::{OAUTH_AUTHORIZATION_SERVER, authorization_server_metadata_urls};
use std::time::SystemTime;

const STEP: &str = "authorization server";

/// The metadata a client would use.
pub struct FoundAs {
    /// The issuer, as listed in the resource metadata.
    pub issuer: String,
    /// Its metadata.
    pub metadata: AuthorizationServerMetadata,
    /// The `Date` of the metadata response, and this machine's time then.
    pub date: Option<(SystemTime, SystemTime)>,
}

/// The first listed issuer with valid metadata, every URL tried reported; then its checks.
pub async fn check(d: &mut Doctor, issuers: &[String], prm: &FoundPrm) -> Option<FoundAs> {
    for issuer in issuers {
        if let Some((metadata, date)) = issuer_metadata(d, issuer).await {
            let found = FoundAs {
                issuer: issuer.clone(),
                metadata,
                date,
            };
            capabilities(d, &found, prm);
            return Some(found);
        }
    }
    if !issuers.is_empty() {
        d.report.add(
            STEP,
            "as.rest",
            Status::Skip,
            "no authorization server with valid metadata: its checks are skipped",
        );
    }
    None
}

/// Fetches every metadata URL of `issuer` and returns the first document whose `issuer` matches.
async fn issuer_metadata(
    d: &mut Doctor,
    issuer: &str,
) -> Option<(
    AuthorizationServerMetadata,
    Option<(SystemTime, SystemTime)>,
)> {
    if let Err(e) = d.fetcher.check(issuer) {
        d.report
            .add(STEP, "as.issuer_url", Status::Fail, format!("the issuer {issuer} is not a URL a client may use"))
            .saw(describe_failure(&e))
            .spec("RFC 8414 §2: an https URL without query or fragment; MCP 2025-11-25 §Communication Security")
            .fix("list the https issuer of the authorization server in authorization_servers");
        return None;
    }
    let Some(urls) = authorization_server_metadata_urls(issuer) else {
        d.report
            .add(
                STEP,
                "as.issuer_url",
                Status::Fail,
                format!("the issuer {issuer:?} is not an absolute URL"),
            )
            .spec("RFC 8414 §2");
        return None;
    };
    let mut used = None;
    let mut mismatch = false;
    for u in &urls {
        let Some((m, date)) = fetch(d, u).await else {
            continue;
        };
        if m.issuer == issuer {
            d.report
                .add(
                    STEP,
                    "as.fetch",
                    Status::Pass,
                    format!("{u} serves metadata for {issuer}"),
                )
                .spec(spec_of(u));
            if used.is_none() {
                used = Some((m, date));
            }
        } else {
            mismatch = true;
            let slash = m.issuer.trim_end_matches('/') == issuer.trim_end_matches('/');
            d.report
                .add(
                    STEP,
                    "as.issuer",
                    Status::Fail,
                    if slash {
                        format!("the issuer at {u} differs by a trailing slash from the one listed")
                    } else {
                        format!("the issuer at {u} is not the one listed: clients refuse the document")
                    },
                )
                .saw(format!("issuer {:?}, listed {issuer:?}", m.issuer))
                .spec("RFC 8414 §3.3: the issuer MUST be identical to the one the metadata URL was built from (mix-up defence)")
                .fix(format!(
                    "make the metadata say issuer {issuer:?}, or list {:?} in authorization_servers, byte for byte",
                    m.issuer
                ));
        }
    }
    if used.is_none() && !mismatch {
        misplaced(d, issuer, &urls).await;
    }
    used
}

fn spec_of(url: &str) -> &'static str {
    if url.contains(OAUTH_AUTHORIZATION_SERVER) {
        "RFC 8414 §3.1 (path insertion)"
    } else {
        "OpenID Connect Discovery 1.0 §4; MCP 2025-11-25 §Authorization Server Metadata Discovery"
    }
}

/// GETs one metadata URL; reports anything but a parsed document.
async fn fetch(
    d: &mut Doctor,
    u: &str,
) -> Option<(
    AuthorizationServerMetadata,
    Option<(SystemTime, SystemTime)>,
)> {
    let resp = super::get_or_report(d, (STEP, "as.fetch", Status::Info), u.to_owned(), u).await?;
    if resp.status != 200 {
        d.report
            .add(
                STEP,
                "as.fetch",
                Status::Info,
                format!("{u} answered HTTP {}", resp.status),
            )
            .spec(spec_of(u));
        return None;
    }
    match resp.json::<AuthorizationServerMetadata>("authorization server metadata") {
        Ok(m) => Some((m, super::endpoint::date_of(&resp))),
        Err(e) => {
            d.report
                .add(
                    STEP,
                    "as.fetch",
                    Status::Fail,
                    format!("{u} answered 200 with something that is not metadata"),
                )
                .saw(describe_failure(&e))
                .spec(
                    "RFC 8414 §3.2: a JSON object with issuer, endpoints, response_types_supported",
                )
                .fix("serve the metadata as application/json");
            None
        }
    }
}

/// None of the URLs had metadata; say where it is when it is at a path clients do not try.
async fn misplaced(d: &mut Doctor, issuer: &str, urls: &[String]) {
    let mut found_at = None;
    if UriParts::split(issuer).is_some_and(|p| !p.path.trim_matches('/').is_empty()) {
        let appended = format!(
            "{}/.well-known/{OAUTH_AUTHORIZATION_SERVER}",
            issuer.trim_end_matches('/')
        );
        if let Ok(r) = d.fetcher.get_metadata(&appended).await
            && r.status == 200
        {
            found_at = Some(appended);
        }
    }
    d.report
        .add(
            STEP,
            "as.found",
            Status::Fail,
            match &found_at {
                Some(w) => format!("the metadata of {issuer} is at {w}, where clients do not look"),
                None => format!("no authorization server metadata for {issuer}"),
            },
        )
        .saw(format!("tried {}", urls.join(", ")))
        .spec("RFC 8414 §3.1 (the well-known segment goes between host and path); MCP 2025-11-25 §Authorization Server Metadata Discovery")
        .fix(format!("serve it at {}", urls.first().map_or("", String::as_str)));
}

/// What a client needs of the metadata it uses.
fn capabilities(d: &mut Doctor, a: &FoundAs, prm: &FoundPrm) {
    let m = &a.metadata;
    let r = &mut d.report;
    for (name, value) in [
        ("authorization_endpoint", &m.authorization_endpoint),
        ("token_endpoint", &m.token_endpoint),
    ] {
        match value {
            Some(u) => match d.fetcher.check(u) {
                Ok(_) => {
                    r.add(STEP, "as.endpoints", Status::Pass, format!("{name}: {u}"));
                }
                Err(e) => {
                    r.add(
                        STEP,
                        "as.endpoints",
                        Status::Fail,
                        format!("{name} {u} is refused"),
                    )
                    .saw(describe_failure(&e))
                    .spec("OAuth 2.1 §1.5: endpoints over https")
                    .fix("serve the endpoint over https");
                }
            },
            None => {
                r.add(STEP, "as.endpoints", Status::Fail, format!("no {name}"))
                    .spec("RFC 8414 §2")
                    .fix(format!("advertise {name}"));
            }
        }
    }
    if !m.response_types_supported.iter().any(|t| t == "code") {
        r.add(
            STEP,
            "as.response_types",
            Status::Fail,
            "response_types_supported does not include code",
        )
        .saw(format!("{:?}", m.response_types_supported))
        .spec("RFC 8414 §2 (REQUIRED); OAuth 2.1 §4.1")
        .fix("advertise response_types_supported: [\"code\"]");
    }
    match &m.code_challenge_methods_supported {
        _ if m.supports_s256() => {
            r.add(STEP, "as.pkce", Status::Pass, "PKCE S256 is advertised")
                .spec("OAuth 2.1 §4.1.1; MCP 2025-11-25 §Authorization Code Protection");
        }
        None => {
            r.add(STEP, "as.pkce", Status::Fail, "PKCE is not advertised: MCP clients MUST refuse this server")
                .saw("no code_challenge_methods_supported")
                .spec("MCP 2025-11-25 §Authorization Code Protection: clients MUST refuse to proceed when code_challenge_methods_supported is absent; RFC 8414 §2")
                .fix("advertise code_challenge_methods_supported: [\"S256\"] (and enforce it)");
        }
        Some(list) => {
            r.add(
                STEP,
                "as.pkce",
                Status::Fail,
                "PKCE S256 is not among the advertised methods",
            )
            .saw(list.join(", "))
            .spec("OAuth 2.1 §4.1.1 and §7.5.2; RFC 7636 §4.2")
            .fix("support and advertise S256");
        }
    }
    registration(d, m);
    let r = &mut d.report;
    let advertised = m
        .extra
        .get("resource_indicators_supported")
        .and_then(serde_json::Value::as_bool);
    r.add(
        STEP,
        "as.resource_indicators",
        Status::Info,
        match advertised {
            Some(true) => "resource indicators advertised (resource_indicators_supported)".to_owned(),
            _ => "RFC 8707 resource indicators have no standard metadata field; a token's audience (below, with a token) shows whether they are honoured".to_owned(),
        },
    )
    .spec("RFC 8707 §2; MCP 2025-11-25 §Resource Parameter Implementation (clients MUST send resource)");
    scopes(d, m, prm);
}

/// CIMD, dynamic registration, or only a pre-registered client id.
fn registration(d: &mut Doctor, m: &AuthorizationServerMetadata) {
    let mut ways = Vec::new();
    if m.client_id_metadata_document_supported == Some(true) {
        ways.push("Client ID Metadata Documents");
    }
    if m.registration_endpoint.is_some() {
        ways.push("dynamic registration (RFC 7591)");
    }
    if ways.is_empty() {
        d.report
            .add(STEP, "as.registration", Status::Warn, "no way for a client to register: only a pre-registered client id works")
            .saw("no client_id_metadata_document_supported, no registration_endpoint")
            .spec("MCP 2025-11-25 §Client Registration Approaches (CIMD SHOULD, dynamic registration MAY)")
            .fix("set client_id_metadata_document_supported: true, or serve a registration_endpoint; otherwise give each user a client id (`--client-id`)");
    } else {
        d.report
            .add(
                STEP,
                "as.registration",
                Status::Pass,
                format!("clients can register by {}", ways.join(" or ")),
            )
            .spec("MCP 2025-11-25 §Client Registration Approaches");
    }
}

/// The AS's `scopes_supported` and whether it knows the resource's scopes.
fn scopes(d: &mut Doctor, m: &AuthorizationServerMetadata, prm: &FoundPrm) {
    let Some(as_scopes) = &m.scopes_supported else {
        d.report
            .add(
                STEP,
                "as.scopes_supported",
                Status::Info,
                "the authorization server does not list scopes_supported",
            )
            .spec("RFC 8414 §2 (RECOMMENDED)");
        return;
    };
    let missing: Vec<&str> = prm
        .doc
        .scopes_supported
        .iter()
        .flatten()
        .filter(|s| !as_scopes.contains(s))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        d.report
            .add(
                STEP,
                "as.scopes_supported",
                Status::Pass,
                format!("scopes_supported: {}", as_scopes.join(" ")),
            )
            .spec("RFC 8414 §2");
    } else {
        d.report
            .add(STEP, "as.scopes_supported", Status::Warn, format!("the authorization server does not list the resource's scopes {}", missing.join(" ")))
            .saw(format!("scopes_supported: {}", as_scopes.join(" ")))
            .spec("RFC 8414 §2; RFC 9728 §2")
            .fix("define those scopes at the authorization server (`mcp-oauth resources add … --scope`)");
    }
}
