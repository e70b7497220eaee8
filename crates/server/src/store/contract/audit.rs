//! The audit trail.

use super::*;

/// Appends, filters (time, kind, limit), orders newest first, round-trips every field, purges
/// by age.
pub async fn audit<S: Store>(store: &S) {
    use crate::model::audit::{AuditEvent, AuditFilter, AuditKind};
    let base: UnixTime = 500_000;
    let full = AuditEvent::new(AuditKind::LoginFailed, base)
        .user("u-audit")
        .client("c-audit")
        .ip("192.0.2.7")
        .detail(serde_json::json!({"reason": "password", "n": 3}));
    store.append_audit(&full).await.unwrap();
    store
        .append_audit(&AuditEvent::new(AuditKind::LoginSucceeded, base + 10).user("u-audit"))
        .await
        .unwrap();
    store
        .append_audit(&AuditEvent::new(AuditKind::LoginFailed, base + 10))
        .await
        .unwrap();
    store
        .append_audit(&AuditEvent::new(AuditKind::KeyRotated, base + 20))
        .await
        .unwrap();
    let all = store
        .list_audit(&AuditFilter {
            since: Some(base),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    let kinds: Vec<_> = all.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            AuditKind::KeyRotated,
            AuditKind::LoginFailed,
            AuditKind::LoginSucceeded,
            AuditKind::LoginFailed
        ],
        "newest first; the same second by insertion order, newest first"
    );
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "ids increase");
    let stored = &all[3];
    assert!(stored.id > 0);
    assert_eq!(
        AuditEvent {
            id: 0,
            ..stored.clone()
        },
        full,
        "every field"
    );
    assert!(all[1].user_id.is_none() && all[1].detail.is_null());
    let failed = store
        .list_audit(&AuditFilter {
            since: Some(base),
            kind: Some(AuditKind::LoginFailed),
            limit: None,
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 2);
    let recent = store
        .list_audit(&AuditFilter {
            since: Some(base + 10),
            kind: None,
            limit: Some(2),
        })
        .await
        .unwrap();
    assert_eq!(
        recent.iter().map(|e| e.at).collect::<Vec<_>>(),
        [base + 20, base + 10]
    );
    assert_eq!(store.purge_audit(base + 10).await.unwrap(), 1);
    assert_eq!(
        store
            .list_audit(&AuditFilter {
                since: Some(base),
                ..Default::default()
            })
            .await
            .unwrap()
            .len(),
        3
    );
    assert_eq!(store.purge_audit(base + 100).await.unwrap(), 3);
}
