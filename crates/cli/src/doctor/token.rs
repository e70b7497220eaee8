//! With a token (`--token`, the one `mcp-oauth login` stored, or a client credentials token with
//! `--client-credentials`): is it accepted, is its audience this resource (and does the server
//! refuse a token for another one), are the issuer's keys reachable and do they hold the token's
//! key, and how far apart are the clocks. The token itself is never printed.

use super::Doctor;
use super::DoctorArgs;
use super::authz::FoundAs;
use super::endpoint::Probe;
use super::prm::FoundPrm;
use super::report::Status;
use crate::client_cmd::{SignInArgs, StoreKind};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_oauth_client::fetch::{MCP_PROTOCOL_VERSION, describe_failure};
use mcp_oauth_core::resource::audience_matches;
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const STEP: &str = "token";
const MAX_SKEW: Duration = Duration::from_secs(60);

/// What the report needs of the earlier links.
pub struct Found<'a> {
    pub prm: Option<&'a FoundPrm>,
    pub authz: Option<&'a FoundAs>,
    pub probe: Option<&'a Probe>,
}

/// Obtains the token to check, then checks it.
pub async fn check(d: &mut Doctor, args: &DoctorArgs, found: Found<'_>) {
    clock(d, found.probe, found.authz);
    let Some(token) = obtain(d, args, found.authz).await else {
        return;
    };
    let resource = found
        .prm
        .map(|p| p.doc.resource.clone())
        .unwrap_or_else(|| d.url.clone());
    let jwt = decode(&token);
    let aud_ok = match &jwt {
        Some((_, claims)) => audience(d, claims, &resource, found.authz),
        None => {
            d.report
                .add(STEP, "token.format", Status::Info, "the token is opaque (not a JWT): its audience cannot be read here")
                .spec("RFC 9068 (JWT access tokens) is optional; the resource server checks opaque tokens by introspection (RFC 7662)");
            None
        }
    };
    accepted(d, &token, aud_ok).await;
    if let (Some((header, _)), Some(a)) = (&jwt, found.authz) {
        jwks(d, header, a).await;
    }
}

/// The token from the flags or the store; `None` (reported) when there is none.
async fn obtain(d: &mut Doctor, args: &DoctorArgs, authz: Option<&FoundAs>) -> Option<String> {
    if let Some(t) = &args.token {
        let t = if t == "-" {
            let mut line = String::new();
            if std::io::stdin().read_line(&mut line).is_err() {
                d.report.add(
                    STEP,
                    "token.source",
                    Status::Fail,
                    "--token -: nothing could be read from stdin",
                );
                return None;
            }
            line.trim().to_owned()
        } else {
            t.clone()
        };
        d.report.add(
            STEP,
            "token.source",
            Status::Info,
            "checking the token given with --token",
        );
        return Some(t);
    }
    if args.client_credentials {
        return client_credentials(d, args, authz).await;
    }
    let stored = match crate::client_cmd::manager(&d.url, &args.connect, None) {
        Ok(m) => m.cached_token(&d.url).await.ok().flatten(),
        Err(_) => None,
    };
    match stored {
        Some(t) => {
            d.report.add(
                STEP,
                "token.source",
                Status::Info,
                "checking the token `mcp-oauth login` stored for this server",
            );
            Some(t)
        }
        None => {
            d.report
                .add(STEP, "token.source", Status::Skip, "no token to check")
                .fix("run `mcp-oauth login URL` first, or pass --token, or --client-credentials with --client-id");
            None
        }
    }
}

/// The machine-to-machine path: a client credentials token through the client library (memory
/// store only: the user's stored credentials are left alone).
async fn client_credentials(
    d: &mut Doctor,
    args: &DoctorArgs,
    authz: Option<&FoundAs>,
) -> Option<String> {
    if let Some(a) = authz {
        let grants = a.metadata.grant_types_supported.clone().unwrap_or_default();
        if !grants.iter().any(|g| g == "client_credentials") {
            d.report
                .add(
                    STEP,
                    "token.m2m.grant",
                    Status::Warn,
                    "the authorization server does not advertise the client_credentials grant",
                )
                .saw(format!("grant_types_supported: {}", grants.join(" ")))
                .spec("MCP OAuth client credentials extension (SEP-1046); RFC 8414 §2")
                .fix("enable and advertise grant_types_supported: client_credentials");
        }
    }
    let mut connect = args.connect.clone();
    connect.store.store = StoreKind::Memory;
    let sign_in = SignInArgs {
        scope: args.scope.clone(),
        client_metadata_url: None,
        no_browser: true,
        client_credentials: true,
        timeout: 30,
        // A bearer token, so that the checks below can present it as any client would.
        dpop: false,
        device: false,
    };
    let result = match crate::client_cmd::manager(&d.url, &connect, Some(&sign_in)) {
        Ok(m) => m.login(&d.url).await.map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(t) => {
            d.report
                .add(
                    STEP,
                    "token.m2m",
                    Status::Pass,
                    "the client credentials grant issued a token",
                )
                .spec("OAuth 2.1 §4.2; RFC 8707 §2.2 (resource on the token request)");
            Some(t)
        }
        Err(e) => {
            d.report
                .add(STEP, "token.m2m", Status::Fail, "the client credentials grant failed")
                .saw(crate::output::error_line(&e))
                .spec("OAuth 2.1 §4.2; RFC 6749 §5.2")
                .fix("check the client id, its secret or key, that it may use client_credentials, and that the resource is registered at the authorization server");
            None
        }
    }
}

/// The JOSE header and the claims of a JWT, or `None` for an opaque token.
fn decode(token: &str) -> Option<(Value, Value)> {
    let mut parts = token.split('.');
    let (h, p, _s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let json = |s: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).ok()?).ok()
    };
    Some((json(h)?, json(p)?))
}

/// The token's `aud` against the resource, `iss` against the issuer, `exp`. Returns whether
/// the audience is this resource.
fn audience(
    d: &mut Doctor,
    claims: &Value,
    resource: &str,
    authz: Option<&FoundAs>,
) -> Option<bool> {
    let auds: Vec<String> = match &claims["aud"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let ok = auds.iter().any(|a| audience_matches(resource, a));
    if ok {
        d.report
            .add(
                STEP,
                "token.audience",
                Status::Pass,
                format!("the token's audience is this resource ({resource})"),
            )
            .spec(
                "RFC 8707 §2; RFC 9068 §3; MCP 2025-11-25 §Token Audience Binding and Validation",
            );
    } else {
        d.report
            .add(STEP, "token.audience", Status::Fail, "the token is for another resource")
            .saw(format!("aud {auds:?}, resource {resource:?}"))
            .spec("RFC 8707 §2; MCP 2025-11-25 §Token Audience Binding and Validation: a token is only for the resource it was issued for")
            .fix(format!("get a token with resource={resource} (`mcp-oauth login {}`); if the authorization server ignored the resource parameter, enable RFC 8707 there", d.url));
    }
    if let (Some(iss), Some(a)) = (claims["iss"].as_str(), authz)
        && iss != a.issuer
    {
        d.report
            .add(STEP, "token.issuer", Status::Warn, "the token was issued by another authorization server than the one the metadata lists")
            .saw(format!("iss {iss:?}, listed {:?}", a.issuer))
            .spec("RFC 9068 §4 (iss MUST match the issuer the resource trusts)");
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |t| t.as_secs() as i64);
    if let Some(exp) = claims["exp"].as_i64()
        && exp <= now
    {
        d.report
            .add(
                STEP,
                "token.expiry",
                Status::Fail,
                format!("the token expired {} s ago", now - exp),
            )
            .spec("RFC 9068 §4; RFC 7519 §4.1.4")
            .fix("get a fresh token (`mcp-oauth token URL` refreshes)");
    }
    if let Some(iat) = claims["iat"].as_i64()
        && iat > now + MAX_SKEW.as_secs() as i64
    {
        d.report
            .add(STEP, "token.iat", Status::Warn, format!("the token was issued {} s in the future: the authorization server's clock is ahead", iat - now))
            .spec("RFC 7519 §4.1.6")
            .fix("synchronise the authorization server's clock (NTP)");
    }
    Some(ok)
}

/// Sends the token on the first request a client makes.
async fn accepted(d: &mut Doctor, token: &str, aud_ok: Option<bool>) {
    let url = d.url.clone();
    let version = d.fetcher.settings().protocol_version.clone();
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": version, "capabilities": {},
                   "clientInfo": {"name": "mcp-oauth-doctor", "version": env!("CARGO_PKG_VERSION")}}
    });
    let bearer = format!("Bearer {token}");
    let headers = [
        ("Accept", "application/json, text/event-stream"),
        (MCP_PROTOCOL_VERSION, version.as_str()),
        ("Authorization", bearer.as_str()),
    ];
    let resp = match d.fetcher.post_json(&url, &body, &headers).await {
        Ok(r) => r,
        Err(e) => {
            d.report
                .add(
                    STEP,
                    "token.accepted",
                    Status::Fail,
                    "the request with the token failed",
                )
                .saw(describe_failure(&e));
            return;
        }
    };
    let refused = resp.status == 401;
    let challenge = mcp_oauth_client::discovery::challenge_of(&resp);
    let said = challenge
        .as_ref()
        .map(|c| {
            format!(
                "HTTP {}, error {:?}, {:?}",
                resp.status,
                c.error.as_deref().unwrap_or(""),
                c.error_description.as_deref().unwrap_or("")
            )
        })
        .unwrap_or_else(|| format!("HTTP {}", resp.status));
    match (aud_ok, refused) {
        (Some(false), true) => {
            d.report
                .add(STEP, "token.accepted", Status::Pass, "the server refuses a token for another resource")
                .saw(said)
                .spec("MCP 2025-11-25 §Token Audience Binding and Validation (servers MUST validate the audience)");
        }
        (Some(false), false) => {
            d.report
                .add(STEP, "token.accepted", Status::Fail, "the server accepts a token issued for another resource: it does not check the audience")
                .saw(said)
                .spec("MCP 2025-11-25 §Token Audience Binding and Validation; RFC 8707; RFC 9068 §4 (aud MUST be checked)")
                .fix("verify that aud names this resource (mcp-oauth-resource's JwtVerifier does)");
        }
        (_, true) => {
            d.report
                .add(STEP, "token.accepted", Status::Fail, "the server refuses the token")
                .saw(said)
                .spec("RFC 6750 §3.1")
                .fix("check that the server trusts this issuer and its keys, and that the token has not expired or been revoked");
        }
        (_, false) if resp.status == 403 => {
            d.report
                .add(
                    STEP,
                    "token.accepted",
                    Status::Warn,
                    "the token is valid but its scope is not enough for initialize",
                )
                .saw(said)
                .spec(
                    "RFC 6750 §3.1 (insufficient_scope); MCP 2025-11-25 §Scope Challenge Handling",
                );
        }
        (_, false) => {
            d.report
                .add(
                    STEP,
                    "token.accepted",
                    Status::Pass,
                    format!("the server accepts the token (HTTP {})", resp.status),
                )
                .spec("RFC 6750 §2.1");
        }
    }
}

/// The issuer's JWK Set: reachable, and holding the token's `kid`.
async fn jwks(d: &mut Doctor, header: &Value, a: &FoundAs) {
    let Some(uri) = a.metadata.jwks_uri.clone() else {
        d.report
            .add(
                STEP,
                "token.jwks",
                Status::Warn,
                "the authorization server has no jwks_uri: resource servers cannot verify its JWTs",
            )
            .spec("RFC 8414 §2; RFC 9068 §4");
        return;
    };
    let resp = match d.fetcher.get_metadata(&uri).await {
        Ok(r) if r.status == 200 => r,
        Ok(r) => {
            d.report
                .add(
                    STEP,
                    "token.jwks",
                    Status::Fail,
                    format!("the JWK Set {uri} answered HTTP {}", r.status),
                )
                .spec("RFC 7517 §5; RFC 8414 §2")
                .fix("serve the signing keys at jwks_uri");
            return;
        }
        Err(e) => {
            d.report
                .add(
                    STEP,
                    "token.jwks",
                    Status::Fail,
                    format!("the JWK Set {uri} could not be fetched"),
                )
                .saw(describe_failure(&e));
            return;
        }
    };
    let keys = resp.json::<Value>("a JWK Set").ok();
    let kids: Vec<String> = keys
        .as_ref()
        .and_then(|k| k["keys"].as_array())
        .map(|ks| {
            ks.iter()
                .filter_map(|k| k["kid"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    match header["kid"].as_str() {
        Some(kid) if kids.iter().any(|k| k == kid) => {
            d.report
                .add(
                    STEP,
                    "token.jwks",
                    Status::Pass,
                    format!("the JWK Set at {uri} holds the token's key ({kid})"),
                )
                .spec("RFC 7517 §5; RFC 7515 §4.1.4");
        }
        Some(kid) => {
            d.report
                .add(
                    STEP,
                    "token.jwks",
                    Status::Fail,
                    format!("the JWK Set at {uri} does not hold the token's key {kid}"),
                )
                .saw(format!("kids: {}", kids.join(", ")))
                .spec("RFC 7517 §5: resource servers refuse a token whose key they cannot find")
                .fix("publish the signing key before using it (pre-publication on rotation)");
        }
        None => {
            d.report
                .add(
                    STEP,
                    "token.jwks",
                    Status::Info,
                    format!(
                        "the JWK Set at {uri} has {} key(s); the token names no kid",
                        kids.len()
                    ),
                )
                .spec("RFC 7515 §4.1.4");
        }
    }
}

/// The MCP server's and the authorization server's `Date` against this machine's clock.
fn clock(d: &mut Doctor, probe: Option<&Probe>, authz: Option<&FoundAs>) {
    let dates = [
        ("clock", "the MCP server's", probe.and_then(|p| p.date)),
        (
            "clock.as",
            "the authorization server's",
            authz.and_then(|a| a.date),
        ),
    ];
    for (id, whose, date) in dates {
        let Some((server, local)) = date else {
            continue;
        };
        let (skew, ahead) = match server.duration_since(local) {
            Ok(a) => (a, true),
            Err(e) => (e.duration(), false),
        };
        // `Date` has a resolution of one second.
        if skew <= MAX_SKEW {
            d.report
                .add(
                    STEP,
                    id,
                    Status::Pass,
                    format!(
                        "{whose} clock is within {} s of this machine's",
                        skew.as_secs().max(1)
                    ),
                )
                .spec("RFC 9110 §6.6.1 (Date); RFC 7519 §4.1.4 (small leeway for exp and nbf)");
        } else {
            d.report
                .add(
                    STEP,
                    id,
                    Status::Warn,
                    format!(
                        "{whose} clock is {} s {} this machine's: tokens may be refused as expired or not yet valid",
                        skew.as_secs(),
                        if ahead { "ahead of" } else { "behind" }
                    ),
                )
                .spec("RFC 9110 §6.6.1 (Date); RFC 7519 §4.1.4")
                .fix("synchronise the clocks (NTP)");
        }
    }
}
