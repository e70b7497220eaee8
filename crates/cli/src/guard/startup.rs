//! The guard's start-up checks: each trusted issuer's metadata is read before the guard listens,
//! and a start that could only fail later stops now, saying why and what to change: the issuer
//! cannot be reached, its metadata names another issuer, it has no `jwks_uri` (and none was
//! given), its keys cannot be loaded. What the metadata says about client registration is
//! reported too: without dynamic registration or Client ID Metadata Documents, MCP clients need a
//! client id registered at the provider beforehand.

use crate::output::explained;
use mcp_oauth_core::metadata::AuthorizationServerMetadata;
use mcp_oauth_resource::verifier::{self, Attempt, HttpOptions};

/// Reads `issuer`'s metadata, or stops with the reason and the fix.
pub(super) async fn metadata(
    issuer: &str,
    insecure_http: bool,
) -> anyhow::Result<AuthorizationServerMetadata> {
    let http = HttpOptions {
        insecure_allow_http: insecure_http,
        ..HttpOptions::default()
    };
    let found = verifier::discover(issuer, &http).await.map_err(|e| {
        explained(
            format!(
                "cannot trust issuer `{issuer}`: {e} (an http:// issuer needs --insecure-http)"
            ),
            None,
        )
    })?;
    match found {
        Ok(m) => Ok(m),
        Err(e) if e.unreachable() => Err(explained(
            format!(
                "issuer `{issuer}` is unreachable: {}. Check the --issuer URL and that this \
                 machine can reach it",
                first_reason(&e.attempts)
            ),
            Some(e.into()),
        )),
        Err(e) => match e.other_issuer().map(str::to_owned) {
            Some(named) => Err(explained(
                format!(
                    "the metadata of `{issuer}` names another issuer, `{named}`: tokens name \
                     the issuer exactly, so give --issuer {named}"
                ),
                Some(e.into()),
            )),
            None => Err(explained(
                format!(
                    "issuer `{issuer}` publishes no metadata (tried {}): check the --issuer URL \
                     (it is the `iss` of the tokens)",
                    e.attempts
                        .iter()
                        .map(|(u, a)| format!("{u}: {a}"))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                Some(e.into()),
            )),
        },
    }
}

fn first_reason(attempts: &[(String, Attempt)]) -> String {
    attempts
        .first()
        .map(|(u, a)| format!("{u}: {a}"))
        .unwrap_or_default()
}

/// Stops when keys can be found neither in the metadata nor from `--jwks-uri`.
pub(super) fn require_jwks(
    issuer: &str,
    meta: &AuthorizationServerMetadata,
    jwks_uri: Option<&str>,
) -> anyhow::Result<()> {
    if meta.jwks_uri.is_none() && jwks_uri.is_none() {
        return Err(explained(
            format!(
                "the metadata of `{issuer}` has no jwks_uri, so its token signing keys cannot be \
                 found: give them with --jwks-uri URL"
            ),
            None,
        ));
    }
    Ok(())
}

/// The note for MCP clients when the provider registers none itself, else `None`.
pub(super) fn registration_note(
    issuer: &str,
    meta: &AuthorizationServerMetadata,
) -> Option<String> {
    let dcr = meta.registration_endpoint.is_some();
    let cimd = meta.client_id_metadata_document_supported == Some(true);
    (!dcr && !cimd).then(|| {
        format!(
            "note: `{issuer}` offers neither dynamic client registration (no registration_endpoint) \
             nor client_id_metadata_document_supported: MCP clients need a client id registered \
             there beforehand (see docs/identity-providers/)"
        )
    })
}
