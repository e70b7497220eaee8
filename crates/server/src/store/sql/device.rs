//! Device authorizations (RFC 8628), in SQL: the poll loads the row (locked where the dialect
//! locks rows), asks [`decide_poll`] and applies the answer in the same transaction.

use super::dialect::{Arg, Dialect, SqlBackend, SqlRow};
use super::error::db;
use super::for_update;
use super::grants::insert_grant_in;
use super::row::Columns;
use super::row::record;
use super::run::Run;
use super::tx::in_tx;
use super::upstream::put_tokens;
use crate::model::{
    DeviceAuthorization, DeviceDecision, DevicePoll, DeviceStatus, Grant, RefreshToken,
};
use crate::store::rules::{PollDecision, decide_poll};
use crate::store::{DeviceStore, StoreError, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

fn status_from_row(row: &impl SqlRow) -> StoreResult<DeviceStatus> {
    let status: String = row.col("status")?;
    match status.as_str() {
        "pending" => Ok(DeviceStatus::Pending),
        "denied" => Ok(DeviceStatus::Denied),
        "approved" => match (
            row.col::<Option<String>>("user_id")?,
            row.col::<Option<UnixTime>>("auth_time")?,
        ) {
            (Some(user_id), Some(auth_time)) => Ok(DeviceStatus::Approved { user_id, auth_time }),
            _ => Err(StoreError::Backend(
                "an approved device authorization without its user".into(),
            )),
        },
        other => Err(StoreError::Backend(format!(
            "unknown device authorization status `{other}`"
        ))),
    }
}

fn device_from_row(row: &impl SqlRow) -> StoreResult<DeviceAuthorization> {
    record![row => DeviceAuthorization { device_code_hash, user_code_hash, client_id, resource,
        scope: scope, created_at, expires_at, interval = row.col("poll_interval")?, last_poll_at,
        status = status_from_row(row)? }]
}

#[async_trait]
impl<S: SqlBackend<Db = D>, D: Dialect> DeviceStore for S {
    async fn insert_device_authorization(&self, a: &DeviceAuthorization) -> StoreResult<()> {
        let (user_id, auth_time) = match &a.status {
            DeviceStatus::Approved { user_id, auth_time } => {
                (Some(user_id.as_str()), Some(*auth_time))
            }
            _ => (None, None),
        };
        sqlx::query(
            "INSERT INTO device_authorizations (device_code_hash, user_code_hash, client_id, \
             resource, scope, created_at, expires_at, poll_interval, last_poll_at, status, user_id, \
             auth_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .arg(a.device_code_hash.as_str())
        .arg(a.user_code_hash.as_str())
        .arg(a.client_id.as_str())
        .arg(a.resource.as_str())
        .arg(a.scope.to_string())
        .arg(a.created_at)
        .arg(a.expires_at)
        .arg(a.interval)
        .arg(a.last_poll_at)
        .arg(a.status.as_str())
        .arg(user_id)
        .arg(auth_time)
        .run(self.on_pool(), "device authorization")
        .await
    }

    async fn find_device_authorization(
        &self,
        user_code_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<DeviceAuthorization>> {
        sqlx::query(
            "SELECT * FROM device_authorizations WHERE user_code_hash = $1 AND expires_at > $2",
        )
        .arg(user_code_hash)
        .arg(now)
        .optional(
            self.on_pool(),
            "reading a device authorization",
            device_from_row,
        )
        .await
    }

    async fn decide_device_authorization(
        &self,
        user_code_hash: &str,
        now: UnixTime,
        decision: &DeviceDecision,
    ) -> StoreResult<bool> {
        // A transaction for the approval's upstream tokens, kept only if the decision won.
        in_tx!(self, |tx| decide_in::<D>(tx, user_code_hash, now, decision))
    }

    async fn poll_device_authorization(
        &self,
        device_code_hash: &str,
        client_id: &str,
        now: UnixTime,
        grant: &Grant,
        first_refresh: Option<&RefreshToken>,
    ) -> StoreResult<DevicePoll> {
        in_tx!(self, |tx| poll_in::<D>(
            tx,
            device_code_hash,
            client_id,
            now,
            grant,
            first_refresh
        ))
    }
}

async fn poll_in<D: Dialect>(
    conn: &mut D::Connection,
    device_code_hash: &str,
    client_id: &str,
    now: UnixTime,
    grant: &Grant,
    first_refresh: Option<&RefreshToken>,
) -> StoreResult<DevicePoll> {
    // Locks the row where the dialect locks rows: a concurrent poll waits for this one, then
    // finds the row gone (redeemed) or updated.
    let row = sqlx::query(for_update!(
        D,
        "SELECT * FROM device_authorizations WHERE device_code_hash = $1"
    ))
    .arg(device_code_hash)
    .fetch_optional(D::on(conn))
    .await
    .map_err(db("reading a device authorization"))?;
    let authorization = row.as_ref().map(device_from_row).transpose()?;
    let delete = "DELETE FROM device_authorizations WHERE device_code_hash = $1";
    Ok(
        match decide_poll(authorization.as_ref(), client_id, now, grant, first_refresh)? {
            PollDecision::NotFound => DevicePoll::NotFound,
            PollDecision::OtherClient => DevicePoll::OtherClient,
            PollDecision::Expired => DevicePoll::Expired,
            PollDecision::Pending => {
                sqlx::query(
                    "UPDATE device_authorizations SET last_poll_at = $2 WHERE device_code_hash = $1",
                )
                .arg(device_code_hash)
                .arg(now)
                .run(D::on(conn), "recording a device poll")
                .await?;
                DevicePoll::Pending
            }
            PollDecision::SlowDown { interval } => {
                sqlx::query(
                    "UPDATE device_authorizations SET last_poll_at = $2, poll_interval = $3 \
                     WHERE device_code_hash = $1",
                )
                .arg(device_code_hash)
                .arg(now)
                .arg(interval)
                .run(D::on(conn), "recording a device poll")
                .await?;
                DevicePoll::SlowDown { interval }
            }
            PollDecision::Denied => {
                sqlx::query(delete)
                    .arg(device_code_hash)
                    .run(D::on(conn), "deleting a denied device authorization")
                    .await?;
                DevicePoll::Denied
            }
            PollDecision::Redeem { grant } => {
                insert_grant_in::<D>(conn, &grant, first_refresh).await?;
                sqlx::query(delete)
                    .arg(device_code_hash)
                    .run(D::on(conn), "spending a device code")
                    .await?;
                // Upstream tokens of a federated approval now belong to the grant.
                sqlx::query(
                    "UPDATE upstream_tokens SET grant_id = $1 \
                     WHERE code_hash = $2 AND grant_id IS NULL",
                )
                .arg(grant.id.as_str())
                .arg(device_code_hash)
                .run(D::on(conn), "moving upstream tokens to a grant")
                .await?;
                DevicePoll::Redeemed(grant)
            }
        },
    )
}

/// One conditional `UPDATE`: of two decisions racing, the second finds it no longer pending.
/// An approval's upstream tokens are kept, under the device code's hash, only if it won.
async fn decide_in<D: Dialect>(
    conn: &mut D::Connection,
    user_code_hash: &str,
    now: UnixTime,
    decision: &DeviceDecision,
) -> StoreResult<bool> {
    let q = match decision {
        DeviceDecision::Approve {
            user_id,
            auth_time,
            scope,
            upstream: _,
        } => sqlx::query(
            "UPDATE device_authorizations SET status = 'approved', user_id = $3, \
             auth_time = $4, scope = $5 \
             WHERE user_code_hash = $1 AND expires_at > $2 AND status = 'pending'",
        )
        .arg(user_code_hash)
        .arg(now)
        .arg(user_id.as_str())
        .arg(*auth_time)
        .arg(scope.to_string()),
        DeviceDecision::Deny => sqlx::query(
            "UPDATE device_authorizations SET status = 'denied' \
             WHERE user_code_hash = $1 AND expires_at > $2 AND status = 'pending'",
        )
        .arg(user_code_hash)
        .arg(now),
    };
    let won = q
        .changed(D::on(conn), "deciding a device authorization")
        .await?
        > 0;
    if won
        && let DeviceDecision::Approve {
            upstream: Some(kept),
            ..
        } = decision
    {
        put_tokens::<D>(kept)
            .run(D::on(conn), "keeping upstream tokens")
            .await?;
    }
    Ok(won)
}
