//! Protected resource metadata (RFC 9728): the challenge's `resource_metadata` URL and both
//! well-known forms (path-inserted, root), each fetched and reported even when an earlier one
//! worked; then the document a client would use: `resource` against the server URL,
//! `authorization_servers`, `scopes_supported`, `bearer_methods_supported`.

use super::Doctor;
use super::report::Status;
use mcp_oauth_client::fetch::describe_failure;
use mcp_oauth_core::challenge::BearerChallenge;
use mcp_oauth_core::metadata::ProtectedResourceMetadata;
use mcp_oauth_core::resource::{comparison_form, identifies_server, validate};
use mcp_oauth_core::wellknown::{
    OAUTH_PROTECTED_RESOURCE, protected_resource_metadata_url, protected_resource_metadata_urls,
};

const STEP: &str = "resource metadata";

/// The document a client would use.
pub struct FoundPrm {
    /// The document.
    pub doc: ProtectedResourceMetadata,
}

/// Where a candidate URL came from, for the report.
#[derive(Clone, Copy, PartialEq)]
enum Source {
    Header,
    Inserted,
    Root,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Self::Header => "the challenge's resource_metadata URL",
            Self::Inserted => "the path-inserted well-known URL",
            Self::Root => "the root well-known URL",
        }
    }
}

/// Fetches every candidate, reports each, checks the one a client would pick.
pub async fn check(d: &mut Doctor, challenge: Option<&BearerChallenge>) -> Option<FoundPrm> {
    let url = d.url.clone();
    let mut candidates: Vec<(Source, String)> = Vec::new();
    if let Some(h) = challenge.and_then(|c| c.resource_metadata.clone()) {
        candidates.push((Source::Header, h));
    }
    let wellknown = protected_resource_metadata_urls(&url).unwrap_or_default();
    let root = wellknown.last().cloned();
    for u in wellknown {
        let source = if Some(&u) == root.as_ref() {
            Source::Root
        } else {
            Source::Inserted
        };
        candidates.push((source, u));
    }
    let mut chosen: Option<FoundPrm> = None;
    let mut header_failed = false;
    for (source, u) in &candidates {
        let got = fetch(d, *source, u).await;
        if got.is_none() && *source == Source::Header {
            header_failed = true;
        }
        if chosen.is_none()
            && let Some(doc) = got
        {
            chosen = Some(FoundPrm { doc });
        }
    }
    if header_failed && chosen.is_some() {
        d.report
            .add(STEP, "prm.header_url", Status::Fail, "the challenge's resource_metadata URL serves no metadata, though a well-known URL does")
            .spec("RFC 9728 §5.1: clients use the URL of the challenge first")
            .fix("make resource_metadata name the URL where the document is served");
    }
    let Some(found) = chosen else {
        not_found(d, &url).await;
        return None;
    };
    document(d, &url, &found);
    Some(found)
}

/// GETs one candidate and says what came back; the document when it parses.
async fn fetch(d: &mut Doctor, source: Source, u: &str) -> Option<ProtectedResourceMetadata> {
    let id = match source {
        Source::Header => "prm.fetch.header",
        Source::Inserted => "prm.fetch.inserted",
        Source::Root => "prm.fetch.root",
    };
    let what = format!("{}: {u}", source.label());
    let resp = super::get_or_report(d, (STEP, id, Status::Warn), what, u).await?;
    if resp.status != 200 {
        let redirect = (300..400).contains(&resp.status);
        d.report
            .add(
                STEP,
                id,
                if redirect { Status::Warn } else { Status::Info },
                format!("{}: {u} answered HTTP {}", source.label(), resp.status),
            )
            .spec(if redirect {
                "RFC 9728 §3: clients do not follow redirects for metadata (and mcp-oauth never does)"
            } else {
                "RFC 9728 §3.1 (a missing form is fine when another one is served)"
            });
        return None;
    }
    match resp.json::<ProtectedResourceMetadata>("protected resource metadata") {
        Ok(doc) => {
            d.report
                .add(
                    STEP,
                    id,
                    Status::Pass,
                    format!("{}: {u} serves a document", source.label()),
                )
                .spec("RFC 9728 §3");
            Some(doc)
        }
        Err(e) => {
            d.report
                .add(STEP, id, Status::Fail, format!("{}: {u} answered 200 with something that is not protected resource metadata", source.label()))
                .saw(describe_failure(&e))
                .spec("RFC 9728 §2: a JSON object with at least `resource`")
                .fix("serve the metadata document as application/json");
            None
        }
    }
}

/// No document anywhere a client looks: perhaps at a path a client never tries.
async fn not_found(d: &mut Doctor, url: &str) {
    let expected = protected_resource_metadata_url(url).unwrap_or_default();
    let mut misplaced = None;
    let base = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .trim_end_matches('/');
    for wrong in [
        format!("{base}/.well-known/{OAUTH_PROTECTED_RESOURCE}"),
        format!("{expected}/"),
    ] {
        if wrong == expected {
            continue;
        }
        if let Ok(r) = d.fetcher.get_metadata(&wrong).await
            && r.status == 200
            && r.json::<ProtectedResourceMetadata>("protected resource metadata")
                .is_ok()
        {
            misplaced = Some(wrong);
            break;
        }
    }
    let check = d.report.add(
        STEP,
        "prm.found",
        Status::Fail,
        match &misplaced {
            Some(w) => format!("the metadata is served at the wrong path: {w}"),
            None => "no protected resource metadata where clients look".to_owned(),
        },
    );
    check
        .spec("RFC 9728 §3.1: the well-known segment goes between the host and the path; MCP 2025-11-25 §Protected Resource Metadata Discovery Requirements (servers MUST publish it)")
        .fix(format!("serve it at {expected} (and name it in the challenge's resource_metadata)"));
    d.report
        .add(
            STEP,
            "prm.legacy",
            Status::Info,
            "without it, clients fall back to the 2025-03-26 flow: the server's origin is taken as the authorization server, examined below",
        )
        .spec("MCP 2025-03-26 §Authorization Base URL; MCP 2025-11-25 §Authorization Server Discovery");
}

/// The checks of the document a client uses.
fn document(d: &mut Doctor, url: &str, found: &FoundPrm) {
    let doc = &found.doc;
    let r = &mut d.report;
    if doc.resource.is_empty() || validate(&doc.resource).is_err() {
        r.add(
            STEP,
            "prm.resource",
            Status::Fail,
            "the document has no valid resource",
        )
        .saw(format!("resource: {:?}", doc.resource))
        .spec("RFC 9728 §2 (REQUIRED), RFC 8707 §2")
        .fix(format!("set resource to {url}"));
    } else if doc.resource == url || comparison_form(&doc.resource) == comparison_form(url) {
        r.add(
            STEP,
            "prm.resource",
            Status::Pass,
            format!("resource is the server URL: {}", doc.resource),
        )
        .spec("RFC 9728 §3.3; MCP 2025-11-25 §Canonical Server URI");
    } else if doc.resource.trim_end_matches('/') == url.trim_end_matches('/') {
        r.add(STEP, "prm.resource", Status::Fail, "resource differs from the server URL by a trailing slash")
            .saw(format!("resource {:?}, server URL {url:?}", doc.resource))
            .spec("RFC 9728 §3.3 (identical to the resource identifier); MCP 2025-11-25 §Canonical Server URI (no trailing slash): tokens carry `aud` exactly as the client sends `resource`, and a server comparing exactly refuses them")
                        .fix(if url.ends_with('/') && !doc.resource.ends_with('/') {
                format!("connect to {:?}, the canonical URL, without the trailing slash", doc.resource)
            } else {
                format!("publish resource {url:?}, byte for byte the URL clients connect to")
            });
    } else if identifies_server(&doc.resource, url) {
        r.add(STEP, "prm.resource", Status::Warn, format!("resource {} is a prefix of the server URL, not the URL itself", doc.resource))
            .spec("RFC 9728 §3.3; accepted by MCP clients (TypeScript SDK, draft RFC 9728bis), but tokens are then for the whole prefix")
            .fix(format!("publish resource {url:?}"));
    } else {
        r.add(STEP, "prm.resource", Status::Fail, "resource names another server: clients stop here")
            .saw(format!("resource {:?}, server URL {url:?}", doc.resource))
            .spec("RFC 9728 §3.3 (clients MUST refuse metadata for another resource); MCP 2025-11-25 §Canonical Server URI")
            .fix(format!("publish resource {url:?}"));
    }
    if doc.authorization_servers.is_empty() {
        r.add(
            STEP,
            "prm.authorization_servers",
            Status::Fail,
            "authorization_servers is missing or empty",
        )
        .spec("MCP 2025-11-25 §Authorization Server Location: MUST include at least one")
        .fix("list the issuer of your authorization server");
    } else {
        r.add(
            STEP,
            "prm.authorization_servers",
            Status::Pass,
            format!(
                "authorization_servers: {}",
                doc.authorization_servers.join(", ")
            ),
        )
        .spec("RFC 9728 §2; MCP 2025-11-25 §Authorization Server Location");
    }
    match &doc.scopes_supported {
        Some(s) if !s.is_empty() => {
            r.add(
                STEP,
                "prm.scopes_supported",
                Status::Pass,
                format!("scopes_supported: {}", s.join(" ")),
            )
            .spec("RFC 9728 §2; MCP 2025-11-25 §Scope Selection Strategy");
        }
        _ => {
            r.add(
                STEP,
                "prm.scopes_supported",
                Status::Warn,
                "no scopes_supported: a client without a challenge scope asks for none",
            )
            .spec("RFC 9728 §2 (RECOMMENDED); MCP 2025-11-25 §Scope Selection Strategy")
            .fix("list the scopes of the resource");
        }
    }
    if let Some(m) = &doc.bearer_methods_supported
        && !m.iter().any(|x| x == "header")
    {
        r.add(
            STEP,
            "prm.bearer_methods",
            Status::Fail,
            "bearer_methods_supported does not include header",
        )
        .saw(m.join(", "))
        .spec("MCP 2025-11-25 §Token Requirements: tokens go in the Authorization header only")
        .fix("advertise [\"header\"] and accept tokens there");
    }
}
