//! Device authorizations (as `sql/device.rs`): the poll is one critical section applying
//! [`decide_poll`].

use super::MemoryStore;
use crate::model::{
    DeviceAuthorization, DeviceDecision, DevicePoll, DeviceStatus, Grant, RefreshToken,
};
use crate::store::rules::{PollDecision, decide_poll};
use crate::store::{DeviceStore, StoreError, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn insert_device_authorization(&self, a: &DeviceAuthorization) -> StoreResult<()> {
        let mut s = self.lock()?;
        if s.device_authorizations.contains_key(&a.device_code_hash)
            || s.device_authorizations
                .values()
                .any(|x| x.user_code_hash == a.user_code_hash)
        {
            return Err(StoreError::Conflict("device authorization".into()));
        }
        if !s.clients.contains_key(&a.client_id) {
            return Err(StoreError::Backend(
                "device authorization for an unknown client".into(),
            ));
        }
        s.device_authorizations
            .insert(a.device_code_hash.clone(), a.clone());
        Ok(())
    }

    async fn find_device_authorization(
        &self,
        user_code_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        Ok(self
            .lock()?
            .device_authorizations
            .values()
            .find(|a| a.user_code_hash == user_code_hash && a.expires_at > now)
            .cloned())
    }

    async fn decide_device_authorization(
        &self,
        user_code_hash: &str,
        now: UnixTime,
        decision: &DeviceDecision,
    ) -> StoreResult<bool> {
        let mut guard = self.lock()?;
        let s = &mut *guard;
        if let DeviceDecision::Approve { user_id, .. } = decision
            && !s.users.contains_key(user_id)
        {
            // As the SQL backends' foreign key refuses it.
            return Err(StoreError::Backend(
                "device authorization approved by an unknown user".into(),
            ));
        }
        let Some(a) = s.device_authorizations.values_mut().find(|a| {
            a.user_code_hash == user_code_hash
                && a.expires_at > now
                && a.status == DeviceStatus::Pending
        }) else {
            return Ok(false);
        };
        match decision {
            DeviceDecision::Approve {
                user_id,
                auth_time,
                scope,
                upstream,
            } => {
                a.status = DeviceStatus::Approved {
                    user_id: user_id.clone(),
                    auth_time: *auth_time,
                };
                a.scope = scope.clone();
                // Under the same lock: kept only for the approval that won.
                if let Some(kept) = upstream {
                    s.upstream_tokens
                        .insert(kept.code_hash.clone(), kept.clone());
                }
            }
            DeviceDecision::Deny => a.status = DeviceStatus::Denied,
        }
        Ok(true)
    }

    async fn poll_device_authorization(
        &self,
        device_code_hash: &str,
        client_id: &str,
        now: UnixTime,
        grant: &Grant,
        first_refresh: Option<&RefreshToken>,
    ) -> StoreResult<DevicePoll> {
        let mut s = self.lock()?;
        let row = s.device_authorizations.get(device_code_hash);
        Ok(
            match decide_poll(row, client_id, now, grant, first_refresh)? {
                PollDecision::NotFound => DevicePoll::NotFound,
                PollDecision::OtherClient => DevicePoll::OtherClient,
                PollDecision::Expired => DevicePoll::Expired,
                PollDecision::Pending => {
                    if let Some(a) = s.device_authorizations.get_mut(device_code_hash) {
                        a.last_poll_at = Some(now);
                    }
                    DevicePoll::Pending
                }
                PollDecision::SlowDown { interval } => {
                    if let Some(a) = s.device_authorizations.get_mut(device_code_hash) {
                        a.last_poll_at = Some(now);
                        a.interval = interval;
                    }
                    DevicePoll::SlowDown { interval }
                }
                PollDecision::Denied => {
                    s.device_authorizations.remove(device_code_hash);
                    DevicePoll::Denied
                }
                PollDecision::Redeem { grant } => {
                    s.check_new_grant(&grant, first_refresh)?;
                    s.put_grant(&grant, first_refresh);
                    s.device_authorizations.remove(device_code_hash);
                    if let Some(t) = s.upstream_tokens.get_mut(device_code_hash)
                        && t.grant_id.is_none()
                    {
                        t.grant_id = Some(grant.id.clone());
                    }
                    DevicePoll::Redeemed(grant)
                }
            },
        )
    }
}
