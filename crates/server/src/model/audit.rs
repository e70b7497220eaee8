//! The audit trail's data: what happened ([`AuditKind`]), one event ([`AuditEvent`]) and which
//! events to list ([`AuditFilter`]). Plain data the store persists; writing an event is
//! [`crate::audit::record`].

use mcp_oauth_core::clock::UnixTime;
use serde::Serialize;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditKind {
    /// A user signed in.
    LoginSucceeded,
    /// A wrong username or password.
    LoginFailed,
    /// A login attempt refused by the back-off or the per-IP budget before the password was checked.
    LoginThrottled,
    /// A user approved a client's access.
    ConsentGiven,
    /// A user denied a client's request.
    ConsentDenied,
    /// A remembered consent was withdrawn.
    ConsentRevoked,
    /// A client was registered (`detail.origin`: `admin`, `dcr` or `cimd`).
    ClientRegistered,
    /// A client was removed (administrator, RFC 7592 `DELETE`, or the purge of unused ones).
    ClientRemoved,
    /// A refresh-token family or an access token was revoked (RFC 7009).
    TokenRevoked,
    /// A rotated refresh token was presented again; its family is revoked.
    RefreshReuse,
    /// A spent authorization code was presented again; what it produced is revoked.
    CodeReplay,
    /// A new signing key was created (`detail.activates_at`), by rotation or at first start.
    KeyRotated,
    /// A retired signing key was deleted after every token it signed expired.
    KeyDeleted,
    /// An administrator disabled or enabled a client (`detail.disabled`).
    ClientDisabled,
    /// An administrator disabled or enabled a user (`detail.disabled`).
    UserDisabled,
    /// An API key was created (`detail.key_id`, `resource`, `scope`, `expires_at`).
    ApiKeyCreated,
    /// An API key was revoked.
    ApiKeyRevoked,
    /// An API key was accepted (in-process or through introspection; `client_id`: who asked).
    ApiKeyUsed,
    /// A device authorization was started (RFC 8628 §3.2; `client_id`, the resource).
    DeviceAuthorizationIssued,
    /// The signed-in user approved a device authorization.
    DeviceApproved,
    /// The signed-in user denied a device authorization.
    DeviceDenied,
    /// An approved device code was redeemed for tokens.
    DeviceCodeRedeemed,
    /// A user code entered on the device page matched no live authorization, or the attempts
    /// were throttled (guessing, RFC 8628 §5.1).
    DeviceUserCodeFailed,
}

/// Every kind, for parsing and help texts.
pub const KINDS: [AuditKind; 23] = [
    AuditKind::LoginSucceeded,
    AuditKind::LoginFailed,
    AuditKind::LoginThrottled,
    AuditKind::ConsentGiven,
    AuditKind::ConsentDenied,
    AuditKind::ConsentRevoked,
    AuditKind::ClientRegistered,
    AuditKind::ClientRemoved,
    AuditKind::TokenRevoked,
    AuditKind::RefreshReuse,
    AuditKind::CodeReplay,
    AuditKind::KeyRotated,
    AuditKind::KeyDeleted,
    AuditKind::ClientDisabled,
    AuditKind::UserDisabled,
    AuditKind::ApiKeyCreated,
    AuditKind::ApiKeyRevoked,
    AuditKind::ApiKeyUsed,
    AuditKind::DeviceAuthorizationIssued,
    AuditKind::DeviceApproved,
    AuditKind::DeviceDenied,
    AuditKind::DeviceCodeRedeemed,
    AuditKind::DeviceUserCodeFailed,
];

impl AuditKind {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::LoginThrottled => "login_throttled",
            Self::ConsentGiven => "consent_given",
            Self::ConsentDenied => "consent_denied",
            Self::ConsentRevoked => "consent_revoked",
            Self::ClientRegistered => "client_registered",
            Self::ClientRemoved => "client_removed",
            Self::TokenRevoked => "token_revoked",
            Self::RefreshReuse => "refresh_reuse",
            Self::CodeReplay => "code_replay",
            Self::KeyRotated => "key_rotated",
            Self::KeyDeleted => "key_deleted",
            Self::ClientDisabled => "client_disabled",
            Self::UserDisabled => "user_disabled",
            Self::ApiKeyCreated => "api_key_created",
            Self::ApiKeyRevoked => "api_key_revoked",
            Self::ApiKeyUsed => "api_key_used",
            Self::DeviceAuthorizationIssued => "device_authorization_issued",
            Self::DeviceApproved => "device_approved",
            Self::DeviceDenied => "device_denied",
            Self::DeviceCodeRedeemed => "device_code_redeemed",
            Self::DeviceUserCodeFailed => "device_user_code_failed",
        }
    }
}

impl std::fmt::Display for AuditKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AuditKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KINDS
            .iter()
            .copied()
            .find(|k| k.as_str() == s.trim())
            .ok_or_else(|| {
                let names: Vec<&str> = KINDS.iter().map(|k| k.as_str()).collect();
                format!("`{s}` is not an audit event kind ({})", names.join(", "))
            })
    }
}

/// One security event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    /// Assigned by the store (increasing); `0` before it is stored.
    pub id: i64,
    /// When it happened (server clock).
    pub at: UnixTime,
    /// What happened.
    pub kind: AuditKind,
    /// The user concerned, by id.
    pub user_id: Option<String>,
    /// The client concerned.
    pub client_id: Option<String>,
    /// The caller's address, when the event comes from a request that has one.
    pub ip: Option<String>,
    /// Further facts (grant id, key id, origin, count); never a secret.
    pub detail: serde_json::Value,
}

impl AuditEvent {
    /// An event of `kind` at `at` with nothing else known yet.
    pub fn new(kind: AuditKind, at: UnixTime) -> Self {
        Self {
            id: 0,
            at,
            kind,
            user_id: None,
            client_id: None,
            ip: None,
            detail: serde_json::Value::Null,
        }
    }
    /// Names the user.
    pub fn user(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }
    /// Names the client.
    pub fn client(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }
    /// Names the caller's address.
    pub fn ip(mut self, ip: impl Into<String>) -> Self {
        self.ip = Some(ip.into());
        self
    }
    /// Adds facts.
    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}

/// Which events to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only events at or after this time.
    pub since: Option<UnixTime>,
    /// Only events of this kind.
    pub kind: Option<AuditKind>,
    /// At most this many (the newest); `None` for all.
    pub limit: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in KINDS {
            assert_eq!(k.as_str().parse::<AuditKind>(), Ok(k));
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::json!(k.as_str())
            );
        }
        assert!("nope".parse::<AuditKind>().is_err());
    }
}
