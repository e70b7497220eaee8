//! The device authorization grant (RFC 8628) for clients without a usable browser: ask the
//! `device_authorization_endpoint` for a device code and a user code (§3.1–3.2), show the user
//! where to enter it, and poll the token endpoint (§3.4–3.5) at the `interval` the server asks
//! for, 5 s longer after each `slow_down`, until tokens arrive, the user denies
//! (`access_denied`), or the code expires (`expired_token`, or `expires_in` passed here).

use crate::error::{Error, Result};
use crate::fetch::Fetcher;
use crate::token::{self, IssuedToken, TokenEndpoint};
use mcp_oauth_core::secret::Secret;
use mcp_oauth_core::token::grant_type;
use std::time::Duration;

/// RFC 8628 §3.5: the interval when the server names none, and the step of `slow_down`.
const DEFAULT_INTERVAL: u64 = 5;
const SLOW_DOWN_STEP: u64 = 5;
/// An interval or lifetime above this from a server is taken as this (no hour-long sleeps).
const MAX_WAIT: u64 = 3_600;

/// The server's answer at the device authorization endpoint (RFC 8628 §3.2).
#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    /// The code the client polls with (secret).
    pub device_code: Secret,
    /// The code the user enters.
    pub user_code: String,
    /// Where the user enters it.
    pub verification_uri: String,
    /// The same with the code in it, if the server offers one (the user still confirms there).
    pub verification_uri_complete: Option<String>,
    /// Lifetime of both codes.
    pub expires_in: Duration,
    /// The polling interval.
    pub interval: Duration,
}

#[derive(serde::Deserialize)]
struct Wire {
    device_code: String,
    user_code: String,
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    expires_in: u64,
    #[serde(default)]
    interval: Option<u64>,
}

/// Starts a device authorization at `endpoint.url` (the device authorization endpoint) for
/// `resource` and `scope`, the client authenticating as at the token endpoint (§3.1).
pub async fn start(
    fetcher: &Fetcher,
    endpoint: TokenEndpoint<'_>,
    resource: &str,
    scope: Option<&str>,
    now: i64,
) -> Result<DeviceAuthorization> {
    let mut params = vec![("resource".to_owned(), resource.to_owned())];
    if let Some(s) = scope {
        params.push(("scope".to_owned(), s.to_owned()));
    }
    let resp = token::post_authenticated(fetcher, endpoint, params, now).await?;
    if resp.status != 200 {
        return Err(token::oauth_error(endpoint.url, &resp));
    }
    let wire: Wire = resp.json("a device authorization response")?;
    let invalid = |detail: &str| Error::InvalidResponse {
        url: endpoint.url.to_owned(),
        status: resp.status,
        expected: "a device authorization response",
        detail: detail.to_owned(),
    };
    if wire.device_code.is_empty() || wire.user_code.is_empty() {
        return Err(invalid("device_code or user_code is empty"));
    }
    // Shown to the user as a place to go: only a URL this client would open itself.
    fetcher
        .check(&wire.verification_uri)
        .map_err(|_| invalid("verification_uri is not an https (or loopback http) URL"))?;
    let complete = wire
        .verification_uri_complete
        .filter(|u| fetcher.check(u).is_ok());
    Ok(DeviceAuthorization {
        device_code: Secret::new(wire.device_code),
        user_code: wire.user_code,
        verification_uri: wire.verification_uri,
        verification_uri_complete: complete,
        expires_in: Duration::from_secs(wire.expires_in.min(MAX_WAIT)),
        interval: Duration::from_secs(wire.interval.unwrap_or(DEFAULT_INTERVAL).clamp(1, MAX_WAIT)),
    })
}

/// Polls the token endpoint (`endpoint.url`) until the user decides or the code expires.
/// `now` gives the time for client assertions and DPoP proofs at each poll.
pub async fn poll(
    fetcher: &Fetcher,
    endpoint: TokenEndpoint<'_>,
    authorization: &DeviceAuthorization,
    resource: &str,
    now: impl Fn() -> i64,
) -> Result<IssuedToken> {
    let started = tokio::time::Instant::now();
    let deadline = started + authorization.expires_in;
    let mut interval = authorization.interval;
    loop {
        // §3.5: wait the interval before each request, the first one too.
        if tokio::time::Instant::now() + interval > deadline {
            return Err(Error::DeviceCodeExpired(authorization.expires_in));
        }
        tokio::time::sleep(interval).await;
        let params = vec![
            ("grant_type".to_owned(), grant_type::DEVICE_CODE.to_owned()),
            (
                "device_code".to_owned(),
                authorization.device_code.expose().to_owned(),
            ),
            ("resource".to_owned(), resource.to_owned()),
        ];
        match token::request(fetcher, endpoint, params, now(), true).await {
            Ok(issued) => return Ok(issued),
            Err(e) => match e.oauth_error() {
                Some("authorization_pending") => {}
                Some("slow_down") => {
                    interval += Duration::from_secs(SLOW_DOWN_STEP);
                    tracing::debug!(target: "mcp_oauth::client", interval = interval.as_secs(), "device poll: slow_down");
                }
                Some("access_denied") => return Err(Error::DeviceAccessDenied),
                Some("expired_token") => {
                    return Err(Error::DeviceCodeExpired(authorization.expires_in));
                }
                _ => return Err(e),
            },
        }
    }
}
