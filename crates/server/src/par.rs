//! Pushed authorization requests (RFC 9126): the `request_uri` a client gets for a request it
//! pushed to `/par`.
//!
//! Stateless and shared by every instance: the `request_uri` is the request itself (client id,
//! expiry, the validated query and a random id) sealed with AES-256-GCM under the KEK, so the
//! parameters are neither visible nor changeable in the browser, and any instance can open it.
//! Single use is the store's: the id is spent when a code is issued for it
//! (`AssertionStore::use_jti`, namespace [`SPENT_NAMESPACE`]), so one push yields at most one
//! code, on any instance.

use crate::keys::kek::Kek;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_oauth_core::clock::UnixTime;
use serde::{Deserialize, Serialize};

/// The prefix of every `request_uri` (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";
/// How long a pushed request may be used, in seconds (RFC 9126 §2.2: short-lived).
pub const LIFETIME: i64 = 60;
/// Where spent request ids are recorded in the used-assertions table (no client id has a space).
pub const SPENT_NAMESPACE: &str = "par request_uri";
/// The longest `request_uri` opened at all.
const MAX_URI_BYTES: usize = 16 * 1024;
/// The AEAD context: a sealed request is never mistaken for another sealed value.
const CONTEXT: &[u8] = b"mcp-oauth pushed authorization request v1";

/// A pushed request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pushed {
    /// The client that pushed it.
    #[serde(rename = "c")]
    pub client_id: String,
    /// When it stops being usable.
    #[serde(rename = "e")]
    pub expires_at: UnixTime,
    /// The authorization request's query, as validated at `/par`.
    #[serde(rename = "q")]
    pub query: String,
    /// Its id, spent when a code is issued.
    #[serde(rename = "i")]
    pub id: String,
}

/// Why a `request_uri` was refused (the text is for the user's error page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParError {
    /// Not one of ours, or tampered with.
    #[error("the request_uri is not valid")]
    Invalid,
    /// Past its lifetime.
    #[error("the request_uri has expired; the client must push its request again")]
    Expired,
    /// Pushed by another client than the one named.
    #[error("the request_uri was pushed by another client")]
    OtherClient,
    /// Sealing failed.
    #[error("the request could not be sealed")]
    Seal,
}

/// The `request_uri` of `pushed`.
pub fn seal(kek: &Kek, pushed: &Pushed) -> Result<String, ParError> {
    let json = serde_json::to_vec(pushed).map_err(|_| ParError::Seal)?;
    let sealed = kek.encrypt(CONTEXT, &json).map_err(|_| ParError::Seal)?;
    Ok(format!(
        "{REQUEST_URI_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(sealed)
    ))
}

/// Opens a `request_uri` that `client_id` presents at `now`.
pub fn open(
    kek: &Kek,
    request_uri: &str,
    client_id: &str,
    now: UnixTime,
) -> Result<Pushed, ParError> {
    if request_uri.len() > MAX_URI_BYTES {
        return Err(ParError::Invalid);
    }
    let sealed = request_uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .ok_or(ParError::Invalid)?;
    let json = kek
        .decrypt(CONTEXT, &sealed)
        .map_err(|_| ParError::Invalid)?;
    let pushed: Pushed = serde_json::from_slice(&json).map_err(|_| ParError::Invalid)?;
    if pushed.client_id != client_id {
        return Err(ParError::OtherClient);
    }
    if pushed.expires_at <= now {
        return Err(ParError::Expired);
    }
    Ok(pushed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_requests_open_only_for_their_client_in_time_and_untouched() {
        let kek = Kek::generate().unwrap();
        let p = Pushed {
            client_id: "c1".into(),
            expires_at: 160,
            query: "response_type=code&client_id=c1".into(),
            id: "id1".into(),
        };
        let uri = seal(&kek, &p).unwrap();
        assert!(uri.starts_with(REQUEST_URI_PREFIX));
        assert!(!uri.contains("response_type"), "opaque to the browser");
        assert_eq!(open(&kek, &uri, "c1", 100), Ok(p));
        assert_eq!(open(&kek, &uri, "c2", 100), Err(ParError::OtherClient));
        assert_eq!(open(&kek, &uri, "c1", 160), Err(ParError::Expired));
        let other = Kek::generate().unwrap();
        assert_eq!(open(&other, &uri, "c1", 100), Err(ParError::Invalid));
        let mut bytes = uri.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(open(&kek, &tampered, "c1", 100), Err(ParError::Invalid));
        for junk in [
            "",
            "urn:x",
            REQUEST_URI_PREFIX,
            "urn:ietf:params:oauth:request_uri:!!",
        ] {
            assert_eq!(
                open(&kek, junk, "c1", 100),
                Err(ParError::Invalid),
                "{junk}"
            );
        }
    }
}
