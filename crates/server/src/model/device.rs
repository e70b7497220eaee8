//! The device authorization grant's record (RFC 8628): one row per authorization in flight,
//! from `/device_authorization` until its device code is redeemed, denied and polled, or expired.
//! Both codes are stored only as SHA-256 hashes: a database read yields neither a code to poll
//! with nor one to type in.

use crate::model::upstream::UpstreamTokens;
use mcp_oauth_core::ScopeSet;
use mcp_oauth_core::clock::UnixTime;

/// Where the user's decision stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Nobody has decided yet.
    Pending,
    /// Approved by `user_id`, who authenticated at `auth_time`.
    Approved {
        /// The user who approved.
        user_id: String,
        /// When they authenticated.
        auth_time: UnixTime,
    },
    /// The user said no.
    Denied,
}

impl DeviceStatus {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved { .. } => "approved",
            Self::Denied => "denied",
        }
    }
}

/// A device authorization in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceAuthorization {
    /// SHA-256 of the device code (the client's secret to poll with).
    pub device_code_hash: String,
    /// SHA-256 of the normalised user code (eight letters, no dash).
    pub user_code_hash: String,
    /// The client that started it.
    pub client_id: String,
    /// The resource (RFC 8707) the tokens will be for.
    pub resource: String,
    /// The scopes asked for, narrowed at approval to what the user's roles allow.
    pub scope: ScopeSet,
    /// Issue time.
    pub created_at: UnixTime,
    /// When both codes stop working.
    pub expires_at: UnixTime,
    /// Seconds the client must wait between polls; grows by 5 at each `slow_down`.
    pub interval: i64,
    /// The last poll, for `slow_down`.
    pub last_poll_at: Option<UnixTime>,
    /// The user's decision.
    pub status: DeviceStatus,
}

/// What the user decided on the device page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceDecision {
    /// Approve, for `scope` (the request's scopes as the user's roles allow).
    Approve {
        /// The user.
        user_id: String,
        /// When they authenticated.
        auth_time: UnixTime,
        /// The scopes granted.
        scope: ScopeSet,
        /// The upstream's tokens when the approval came through a federated sign-in, kept under
        /// the device code's hash (in the decision's own transaction, so they can only follow
        /// this approval into its grant) until the poll moves them to the grant.
        upstream: Option<UpstreamTokens>,
    },
    /// Deny.
    Deny,
}

/// The outcome of one poll at `/token` (RFC 8628 §3.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DevicePoll {
    /// Unknown, already redeemed, or denied and already told.
    NotFound,
    /// A device code of another client: nothing changed.
    OtherClient,
    /// Past its expiry.
    Expired,
    /// Still undecided.
    Pending,
    /// Polled before the interval passed: the interval is now this (the old one plus 5 s).
    SlowDown {
        /// The new interval in seconds.
        interval: i64,
    },
    /// Denied; the record is gone.
    Denied,
    /// Approved: this grant (user, resource, scope and authentication time from the record)
    /// and its first refresh token are stored, and the record is gone.
    Redeemed(super::Grant),
}
