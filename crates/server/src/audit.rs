//! The audit trail: security events, stored in the database ([`crate::store::AuditStore`]) and
//! logged under the tracing target `mcp_oauth::audit`.
//!
//! Events name users by id, clients by id and addresses as seen on the TCP connection; they never
//! carry a password, token, code or secret. A failed login names the account only when it exists
//! (a mistyped password in the username field of an unknown account must not be kept). Writing an
//! event never fails the request that caused it: a storage failure is logged and the request goes
//! on, because refusing logins or token revocations when the audit table is unwritable would turn
//! an operational problem into an outage.

pub use crate::model::audit::{AuditEvent, AuditFilter, AuditKind, KINDS};
use crate::store::AuditStore;

/// Logs `event` under `mcp_oauth::audit` and appends it to the store. A storage failure is
/// logged, never returned: the request that caused the event must not fail because of it.
pub async fn record<S: AuditStore + ?Sized>(store: &S, event: AuditEvent) {
    let detail = if event.detail.is_null() {
        String::new()
    } else {
        event.detail.to_string()
    };
    tracing::info!(
        target: "mcp_oauth::audit",
        kind = event.kind.as_str(),
        user_id = event.user_id.as_deref().unwrap_or(""),
        client_id = event.client_id.as_deref().unwrap_or(""),
        ip = event.ip.as_deref().unwrap_or(""),
        %detail,
        "audit event"
    );
    if let Err(e) = store.append_audit(&event).await {
        tracing::warn!(target: "mcp_oauth::audit", kind = event.kind.as_str(), error = %e, "the audit event could not be stored");
    }
}
