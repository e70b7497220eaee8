//! Pushed authorization requests (RFC 9126): the `request_uri` a client gets for a request it
//! pushed to `/par`.
//!
//! Stateless and shared by every instance: the `request_uri` is the request itself (client id,
//! expiry, the validated query and a random id) sealed with AES-256-GCM under the KEK, so the
//! parameters are neither visible nor changeable in the browser, and any instance can open it.
//! Single use is the store's: the id is spent when a code is issued for it
//! (`AssertionStore::use_jti`, namespace [`SPENT_NAMESPACE`]), so one push yields at most one
//! code, on any instance.
//!
//! The short lifetime guards the front channel: the `request_uri` travels in a URL, where history,
//! logs and `Referer` can leak it. A person signing in takes longer than that, so once `/authorize`
//! has accepted a fresh `request_uri`, the login and consent forms carry the same request sealed
//! under another context ([`carry`]): it never appears in a URL, is refused at `/authorize`, and
//! stays usable for [`SIGN_IN_WINDOW`] after the push expires. The spent id is remembered as long
//! ([`Pushed::spent_until`]), so the longer window never opens a second code.

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
/// How long after its push expired a request carried by the sign-in forms stays usable: as long
/// as a sign-in session that has not logged in yet.
pub const SIGN_IN_WINDOW: i64 = crate::model::ANONYMOUS_SESSION_TTL;
/// The AEAD context: a sealed request is never mistaken for another sealed value.
const CONTEXT: &[u8] = b"mcp-oauth pushed authorization request v1";
/// The AEAD context of a request carried by the sign-in forms: never accepted at `/authorize`.
const CARRIED_CONTEXT: &[u8] = b"mcp-oauth pushed authorization request carried v1";

/// Where a sealed request is presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented {
    /// In the `request_uri` of `GET /authorize`: the client's, within [`LIFETIME`].
    AtAuthorize,
    /// In a login or consent form, or an upstream login: ours ([`carry`]), within the
    /// push's lifetime and [`SIGN_IN_WINDOW`].
    Carried,
}

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

impl Pushed {
    /// Until when its spent id must be remembered: as long as any sealing of it can be used.
    pub fn spent_until(&self) -> UnixTime {
        self.expires_at + SIGN_IN_WINDOW
    }
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
    seal_in(kek, CONTEXT, pushed)
}

/// The form of `pushed` that the sign-in forms carry ([`Presented::Carried`]).
pub fn carry(kek: &Kek, pushed: &Pushed) -> Result<String, ParError> {
    seal_in(kek, CARRIED_CONTEXT, pushed)
}

fn seal_in(kek: &Kek, context: &[u8], pushed: &Pushed) -> Result<String, ParError> {
    let json = serde_json::to_vec(pushed).map_err(|_| ParError::Seal)?;
    let sealed = kek.encrypt(context, &json).map_err(|_| ParError::Seal)?;
    Ok(format!(
        "{REQUEST_URI_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(sealed)
    ))
}

/// Opens a `request_uri` that `client_id` presents at `now`, where `presented` says.
pub fn open(
    kek: &Kek,
    request_uri: &str,
    client_id: &str,
    now: UnixTime,
    presented: Presented,
) -> Result<Pushed, ParError> {
    let (context, window) = match presented {
        Presented::AtAuthorize => (CONTEXT, 0),
        Presented::Carried => (CARRIED_CONTEXT, SIGN_IN_WINDOW),
    };
    if request_uri.len() > MAX_URI_BYTES {
        return Err(ParError::Invalid);
    }
    let sealed = request_uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
        .ok_or(ParError::Invalid)?;
    let json = kek
        .decrypt(context, &sealed)
        .map_err(|_| ParError::Invalid)?;
    let pushed: Pushed = serde_json::from_slice(&json).map_err(|_| ParError::Invalid)?;
    if pushed.client_id != client_id {
        return Err(ParError::OtherClient);
    }
    if pushed.expires_at + window <= now {
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
        let at = Presented::AtAuthorize;
        assert_eq!(open(&kek, &uri, "c1", 100, at), Ok(p.clone()));
        assert_eq!(open(&kek, &uri, "c2", 100, at), Err(ParError::OtherClient));
        assert_eq!(open(&kek, &uri, "c1", 160, at), Err(ParError::Expired));
        let other = Kek::generate().unwrap();
        assert_eq!(open(&other, &uri, "c1", 100, at), Err(ParError::Invalid));
        assert_eq!(
            open(&kek, &uri, "c1", 100, Presented::Carried),
            Err(ParError::Invalid),
            "the client's request_uri is not a carried one"
        );
        let mut bytes = uri.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(open(&kek, &tampered, "c1", 100, at), Err(ParError::Invalid));
        for junk in [
            "",
            "urn:x",
            REQUEST_URI_PREFIX,
            "urn:ietf:params:oauth:request_uri:!!",
        ] {
            assert_eq!(
                open(&kek, junk, "c1", 100, at),
                Err(ParError::Invalid),
                "{junk}"
            );
        }
    }

    #[test]
    fn a_carried_request_outlives_the_push_by_the_sign_in_window_and_only_in_forms() {
        let kek = Kek::generate().unwrap();
        let p = Pushed {
            client_id: "c1".into(),
            expires_at: 160,
            query: "response_type=code&client_id=c1".into(),
            id: "id1".into(),
        };
        let carried = carry(&kek, &p).unwrap();
        let c = Presented::Carried;
        assert_eq!(
            open(&kek, &carried, "c1", 159 + SIGN_IN_WINDOW, c),
            Ok(p.clone())
        );
        assert_eq!(
            open(&kek, &carried, "c1", 160 + SIGN_IN_WINDOW, c),
            Err(ParError::Expired)
        );
        assert_eq!(
            open(&kek, &carried, "c2", 100, c),
            Err(ParError::OtherClient)
        );
        assert_eq!(
            open(&kek, &carried, "c1", 100, Presented::AtAuthorize),
            Err(ParError::Invalid),
            "a carried request is never a request_uri for /authorize"
        );
        assert_eq!(p.spent_until(), 160 + SIGN_IN_WINDOW);
    }
}
