//! The audit trail: appended in order with an increasing id, listed newest first.

use super::MemoryStore;
use crate::store::{AuditStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

#[async_trait]
impl AuditStore for MemoryStore {
    async fn append_audit(&self, event: &crate::model::audit::AuditEvent) -> StoreResult<()> {
        let mut s = self.lock()?;
        s.audit_seq += 1;
        let id = s.audit_seq;
        s.audit.push(crate::model::audit::AuditEvent {
            id,
            ..event.clone()
        });
        Ok(())
    }

    async fn list_audit(
        &self,
        filter: &crate::model::audit::AuditFilter,
    ) -> StoreResult<Vec<crate::model::audit::AuditEvent>> {
        let s = self.lock()?;
        let mut v: Vec<_> = s
            .audit
            .iter()
            .filter(|e| filter.since.is_none_or(|t| e.at >= t))
            .filter(|e| filter.kind.is_none_or(|k| e.kind == k))
            .cloned()
            .collect();
        v.sort_by_key(|e| std::cmp::Reverse((e.at, e.id)));
        if let Some(n) = filter.limit {
            v.truncate(n as usize);
        }
        Ok(v)
    }

    async fn purge_audit(&self, before: UnixTime) -> StoreResult<u64> {
        let mut s = self.lock()?;
        let n = s.audit.len();
        s.audit.retain(|e| e.at >= before);
        Ok((n - s.audit.len()) as u64)
    }
}
