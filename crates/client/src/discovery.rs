//! Discovery in the order the MCP specification fixes (2025-11-25 §Authorization Server
//! Discovery; RFC 9728; RFC 8414; OpenID Discovery), with the 2025-03-26 fallback.
//!
//! 1. Protected resource metadata: the `resource_metadata` URL of a 401 challenge if there is
//!    one, then the path-inserted, then the root well-known URL. The first `200` with a valid
//!    document wins; later URLs are not fetched. A 404, another status, a redirect or a body that
//!    does not parse means "try the next one".
//! 2. The document's `resource` must identify the server ([`identifies_server`]); otherwise the
//!    flow stops — a server cannot send us to authorize for someone else's resource.
//! 3. Authorization server metadata for each listed issuer, at the URLs of
//!    [`authorization_server_metadata_urls`] in order; a document whose `issuer` is not exactly
//!    the issuer we looked up is refused (RFC 8414 §3.3, mix-up defence).
//! 4. No PRM at all: the 2025-03-26 legacy algorithm — AS metadata at the server's origin, else
//!    the default endpoints `/authorize`, `/token`, `/register` there.
//!
//! Every failure lists the URLs tried and what each answered.

use crate::error::{Attempt, Error, Result};
use crate::fetch::{Fetched, Fetcher, describe_failure};
use mcp_oauth_core::challenge::{BearerChallenge, find_bearer};
use mcp_oauth_core::metadata::{AuthorizationServerMetadata, ProtectedResourceMetadata};
use mcp_oauth_core::resource::{identifies_server, validate};
use mcp_oauth_core::uri::UriParts;
use mcp_oauth_core::wellknown::{
    OAUTH_AUTHORIZATION_SERVER, authorization_server_metadata_urls,
    protected_resource_metadata_urls,
};

/// The result of discovery: which resource to ask for and at which authorization server.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The MCP server URL as configured.
    pub server_url: String,
    /// The `resource` value to send, byte for byte: the validated PRM `resource`, or the server
    /// URL in the legacy flow.
    pub resource: String,
    /// The protected resource metadata, if the server has it.
    pub resource_metadata: Option<ProtectedResourceMetadata>,
    /// Where the PRM came from.
    pub resource_metadata_url: Option<String>,
    /// The issuer chosen, exactly as listed (and as the AS metadata confirmed).
    pub issuer: String,
    /// The authorization server's metadata.
    pub metadata: AuthorizationServerMetadata,
    /// True when the 2025-03-26 legacy fallback was used (no PRM).
    pub legacy: bool,
    /// Every URL fetched and what came back, in order (for `doctor`-style diagnostics).
    pub attempts: Vec<Attempt>,
}

impl Discovery {
    /// PRM `scopes_supported`, if any.
    pub fn scopes_supported(&self) -> Option<&[String]> {
        self.resource_metadata
            .as_ref()
            .and_then(|m| m.scopes_supported.as_deref())
    }
}

/// Probes an MCP server without a token to obtain its 401 challenge: a JSON-RPC `initialize`
/// POST, as an MCP client would send first. Returns the `Bearer` challenge of a 401 or 403, or
/// `None` when the server answers otherwise (it may not need authorization at all).
pub async fn probe(fetcher: &Fetcher, server_url: &str) -> Result<Option<BearerChallenge>> {
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": fetcher.settings().protocol_version,
            "capabilities": {},
            "clientInfo": {"name": "mcp-oauth-client", "version": env!("CARGO_PKG_VERSION")}
        }
    });
    let version = fetcher.settings().protocol_version.clone();
    let resp = fetcher
        .post_json(
            server_url,
            &body,
            &[
                ("Accept", "application/json, text/event-stream"),
                (crate::fetch::MCP_PROTOCOL_VERSION, &version),
            ],
        )
        .await?;
    Ok(challenge_of(&resp))
}

/// The `Bearer` challenge of a 401 or 403 response.
pub fn challenge_of(resp: &Fetched) -> Option<BearerChallenge> {
    if resp.status != 401 && resp.status != 403 {
        return None;
    }
    find_bearer(resp.www_authenticate())
}

/// Runs the whole discovery for `server_url`. `challenge` is the 401's `Bearer` challenge, if
/// the caller has one. With `legacy_fallback`, a server without any PRM is treated as a
/// 2025-03-26 server.
pub async fn discover(
    fetcher: &Fetcher,
    server_url: &str,
    challenge: Option<&BearerChallenge>,
    legacy_fallback: bool,
) -> Result<Discovery> {
    fetcher.check(server_url)?;
    validate(server_url).map_err(|e| Error::Config(format!("server URL {server_url}: {e}")))?;
    let mut attempts = Vec::new();
    let header_url = challenge.and_then(|c| c.resource_metadata.as_deref());
    let prm =
        fetch_protected_resource_metadata(fetcher, server_url, header_url, &mut attempts).await?;
    match prm {
        Some((prm_url, prm)) => {
            let (issuer, metadata) = fetch_first_authorization_server(
                fetcher,
                &prm.authorization_servers,
                &mut attempts,
            )
            .await?;
            Ok(Discovery {
                server_url: server_url.to_owned(),
                resource: prm.resource.clone(),
                resource_metadata: Some(prm),
                resource_metadata_url: Some(prm_url),
                issuer,
                metadata,
                legacy: false,
                attempts,
            })
        }
        None if legacy_fallback => legacy(fetcher, server_url, attempts).await,
        None => Err(Error::ResourceMetadataNotFound {
            server_url: server_url.to_owned(),
            attempts,
        }),
    }
}

/// Fetches the PRM: the challenge's URL first (when given), then the well-known URLs in order.
/// Returns `None` when no URL produced a valid document; stops with an error when a document was
/// found but its `resource` does not identify `server_url`.
pub async fn fetch_protected_resource_metadata(
    fetcher: &Fetcher,
    server_url: &str,
    header_url: Option<&str>,
    attempts: &mut Vec<Attempt>,
) -> Result<Option<(String, ProtectedResourceMetadata)>> {
    let mut candidates: Vec<String> = Vec::new();
    if let Some(u) = header_url {
        candidates.push(u.to_owned());
    }
    for u in protected_resource_metadata_urls(server_url).unwrap_or_default() {
        if !candidates.contains(&u) {
            candidates.push(u);
        }
    }
    for url in candidates {
        let Some(prm) = fetch_document::<ProtectedResourceMetadata>(
            fetcher,
            &url,
            "protected resource metadata",
            attempts,
        )
        .await
        else {
            continue;
        };
        if prm.resource.is_empty() || validate(&prm.resource).is_err() {
            record(attempts, &url, "document has no valid resource");
            continue;
        }
        if !identifies_server(&prm.resource, server_url) {
            record(
                attempts,
                &url,
                format!("resource {:?} does not identify the server", prm.resource),
            );
            return Err(Error::ResourceMismatch {
                server_url: server_url.to_owned(),
                resource: prm.resource,
                metadata_url: url,
            });
        }
        if prm.authorization_servers.is_empty() {
            record(attempts, &url, "document lists no authorization_servers");
            return Err(Error::NoAuthorizationServers { metadata_url: url });
        }
        record(attempts, &url, "HTTP 200, used");
        return Ok(Some((url, prm)));
    }
    Ok(None)
}

/// Tries each issuer in order and returns the first with valid metadata.
async fn fetch_first_authorization_server(
    fetcher: &Fetcher,
    issuers: &[String],
    attempts: &mut Vec<Attempt>,
) -> Result<(String, AuthorizationServerMetadata)> {
    for issuer in issuers {
        if let Some(m) = try_authorization_server(fetcher, issuer, attempts).await {
            return Ok((issuer.clone(), m));
        }
    }
    Err(Error::AuthorizationServerMetadataNotFound {
        issuer: issuers.first().cloned().unwrap_or_default(),
        attempts: std::mem::take(attempts),
    })
}

/// Fetches the metadata of one issuer, trying the well-known URLs in the MCP order.
pub async fn fetch_authorization_server_metadata(
    fetcher: &Fetcher,
    issuer: &str,
) -> Result<AuthorizationServerMetadata> {
    let mut attempts = Vec::new();
    try_authorization_server(fetcher, issuer, &mut attempts)
        .await
        .ok_or_else(|| Error::AuthorizationServerMetadataNotFound {
            issuer: issuer.to_owned(),
            attempts,
        })
}

async fn try_authorization_server(
    fetcher: &Fetcher,
    issuer: &str,
    attempts: &mut Vec<Attempt>,
) -> Option<AuthorizationServerMetadata> {
    if let Err(e) = fetcher.check(issuer) {
        record(attempts, issuer, describe_failure(&e));
        return None;
    }
    let Some(urls) = authorization_server_metadata_urls(issuer) else {
        record(attempts, issuer, "issuer is not an absolute URL");
        return None;
    };
    for url in urls {
        if let Some(m) = fetch_as_document(fetcher, &url, issuer, attempts).await {
            return Some(m);
        }
    }
    None
}

/// Fetches one AS metadata URL and accepts it only if its `issuer` is exactly `issuer`.
async fn fetch_as_document(
    fetcher: &Fetcher,
    url: &str,
    issuer: &str,
    attempts: &mut Vec<Attempt>,
) -> Option<AuthorizationServerMetadata> {
    let m = fetch_document::<AuthorizationServerMetadata>(
        fetcher,
        url,
        "authorization server metadata",
        attempts,
    )
    .await?;
    if m.issuer != issuer {
        record(
            attempts,
            url,
            format!(
                "issuer mismatch: the document says {:?}, expected {issuer:?}; refused",
                m.issuer
            ),
        );
        return None;
    }
    record(attempts, url, "HTTP 200, used");
    Some(m)
}

/// The 2025-03-26 algorithm: the origin is the authorization base URL.
async fn legacy(
    fetcher: &Fetcher,
    server_url: &str,
    mut attempts: Vec<Attempt>,
) -> Result<Discovery> {
    let origin = UriParts::split(server_url)
        .map(|p| p.origin())
        .ok_or_else(|| Error::Config(format!("server URL {server_url} is not absolute")))?;
    let url = format!("{origin}/.well-known/{OAUTH_AUTHORIZATION_SERVER}");
    let found = fetch_document::<AuthorizationServerMetadata>(
        fetcher,
        &url,
        "authorization server metadata",
        &mut attempts,
    )
    .await;
    let metadata = match found {
        // 2025-03-26 makes the server's origin the authorization base URL; its metadata may
        // name an issuer below that origin (`{origin}/oauth`), never on another origin.
        Some(m) if same_origin_issuer(&m.issuer, &origin) => {
            record(&mut attempts, &url, "HTTP 200, used");
            m
        }
        Some(m) => {
            record(
                &mut attempts,
                &url,
                format!(
                    "issuer mismatch: the document says {:?}, expected {origin:?} or an issuer below it; refused",
                    m.issuer
                ),
            );
            return Err(Error::AuthorizationServerMetadataNotFound {
                issuer: origin,
                attempts,
            });
        }
        None => {
            tracing::debug!(target: "mcp_oauth::client", %origin, "legacy default endpoints");
            AuthorizationServerMetadata {
                issuer: origin.clone(),
                authorization_endpoint: Some(format!("{origin}/authorize")),
                token_endpoint: Some(format!("{origin}/token")),
                registration_endpoint: Some(format!("{origin}/register")),
                response_types_supported: vec!["code".to_owned()],
                // PKCE is REQUIRED in 2025-03-26; its servers are assumed to do S256.
                code_challenge_methods_supported: Some(vec!["S256".to_owned()]),
                ..Default::default()
            }
        }
    };
    Ok(Discovery {
        server_url: server_url.to_owned(),
        resource: server_url.to_owned(),
        resource_metadata: None,
        resource_metadata_url: None,
        issuer: metadata.issuer.clone(),
        metadata,
        legacy: true,
        attempts,
    })
}

/// Whether a legacy server's metadata `issuer` lies on the server's own `origin`.
fn same_origin_issuer(issuer: &str, origin: &str) -> bool {
    issuer == origin
        || issuer.strip_prefix(origin).is_some_and(|rest| {
            rest.starts_with('/') && UriParts::split(issuer).is_some_and(|p| p.origin() == origin)
        })
}

fn record(attempts: &mut Vec<Attempt>, url: &str, outcome: impl Into<String>) {
    attempts.push(Attempt {
        url: url.to_owned(),
        outcome: outcome.into(),
    });
}

/// GETs `url` and parses a 200 body as `T`, recording the outcome. `None` means "try the next".
async fn fetch_document<T: serde::de::DeserializeOwned>(
    fetcher: &Fetcher,
    url: &str,
    expected: &'static str,
    attempts: &mut Vec<Attempt>,
) -> Option<T> {
    let resp = match fetcher.get_metadata(url).await {
        Ok(r) => r,
        Err(e) => {
            record(attempts, url, describe_failure(&e));
            return None;
        }
    };
    if resp.status != 200 {
        let note = if (300..400).contains(&resp.status) {
            " (redirects are not followed)"
        } else {
            ""
        };
        record(attempts, url, format!("HTTP {}{note}", resp.status));
        return None;
    }
    match resp.json::<T>(expected) {
        // Success is recorded by the caller once the document has passed its checks.
        Ok(doc) => Some(doc),
        Err(Error::InvalidResponse { detail, .. }) => {
            record(
                attempts,
                url,
                format!("HTTP 200 but not {expected}: {detail}"),
            );
            None
        }
        Err(e) => {
            record(attempts, url, e.to_string());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::same_origin_issuer;

    #[test]
    fn legacy_issuer_on_the_same_origin_only() {
        let o = "http://localhost:3000";
        assert!(same_origin_issuer(o, o));
        assert!(same_origin_issuer("http://localhost:3000/oauth", o));
        assert!(!same_origin_issuer("http://localhost:30001/oauth", o));
        assert!(!same_origin_issuer(
            "http://localhost:3000.evil.example/x",
            o
        ));
        assert!(!same_origin_issuer("https://other.example", o));
    }
}
