//! The device-code poll rule (RFC 8628 §3.5), as a pure decision over the loaded row.

use super::check_family;
use crate::model::{DeviceAuthorization, DeviceStatus, Grant, RefreshToken};
use crate::store::StoreResult;
use mcp_oauth_core::clock::UnixTime;

/// How much a `slow_down` adds to the interval (RFC 8628 §3.5: "increased by 5 seconds").
pub(crate) const SLOW_DOWN_STEP: i64 = 5;

/// What to do with a poll.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PollDecision {
    /// Unknown: change nothing.
    NotFound,
    /// Another client's device code: change nothing (its own client's polling goes on).
    OtherClient,
    /// Expired: change nothing (the purge deletes it).
    Expired,
    /// Undecided and polled at a decent pace: record the poll time.
    Pending,
    /// Undecided and polled too soon: store the longer interval and the poll time.
    SlowDown {
        /// The new interval.
        interval: i64,
    },
    /// Denied: delete the row (the client is told once, then the code is unknown).
    Denied,
    /// Approved: store `grant` (and the first refresh token), delete the row.
    Redeem {
        /// The grant, with the approved user, resource, scope and authentication time.
        grant: Grant,
    },
}

/// The poll rule. `row` is the authorization as read inside the backend's atomic step (locked
/// where the dialect locks rows); `grant` and `first_refresh` are what the caller wants stored
/// if it redeems.
///
/// `slow_down` applies only while the authorization is pending (RFC 8628 §3.5 calls it "a variant
/// of authorization_pending"): a client that polls a little early after the user approved gets
/// its tokens rather than a longer wait.
pub(crate) fn decide_poll(
    row: Option<&DeviceAuthorization>,
    client_id: &str,
    now: UnixTime,
    grant: &Grant,
    first_refresh: Option<&RefreshToken>,
) -> StoreResult<PollDecision> {
    let Some(row) = row else {
        return Ok(PollDecision::NotFound);
    };
    if row.client_id != client_id {
        return Ok(PollDecision::OtherClient);
    }
    if row.expires_at <= now {
        return Ok(PollDecision::Expired);
    }
    match &row.status {
        DeviceStatus::Pending => match row.last_poll_at {
            Some(last) if now - last < row.interval => Ok(PollDecision::SlowDown {
                interval: row.interval + SLOW_DOWN_STEP,
            }),
            _ => Ok(PollDecision::Pending),
        },
        DeviceStatus::Denied => Ok(PollDecision::Denied),
        DeviceStatus::Approved { user_id, auth_time } => {
            if let Some(t) = first_refresh {
                check_family(&grant.id, t)?;
            }
            Ok(PollDecision::Redeem {
                grant: Grant {
                    client_id: row.client_id.clone(),
                    user_id: Some(user_id.clone()),
                    resource: row.resource.clone(),
                    scope: row.scope.clone(),
                    auth_time: Some(*auth_time),
                    ..grant.clone()
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_oauth_core::ScopeSet;

    const NOW: UnixTime = 1_000;

    fn row(status: DeviceStatus, last_poll_at: Option<UnixTime>) -> DeviceAuthorization {
        DeviceAuthorization {
            device_code_hash: "dh".into(),
            user_code_hash: "uh".into(),
            client_id: "c".into(),
            resource: "https://mcp.example/".into(),
            scope: ScopeSet::parse("read").unwrap(),
            created_at: 900,
            expires_at: 1_500,
            interval: 5,
            last_poll_at,
            status,
        }
    }

    fn grant() -> Grant {
        Grant {
            id: "g".into(),
            client_id: "c".into(),
            user_id: None,
            resource: String::new(),
            scope: ScopeSet::default(),
            auth_time: None,
            created_at: NOW,
            expires_at: NOW + 100,
            revoked_at: None,
        }
    }

    fn decide(r: Option<&DeviceAuthorization>, client: &str, now: UnixTime) -> PollDecision {
        decide_poll(r, client, now, &grant(), None).unwrap()
    }

    #[test]
    fn unknown_other_client_and_expired_change_nothing() {
        assert_eq!(decide(None, "c", NOW), PollDecision::NotFound);
        let r = row(DeviceStatus::Pending, None);
        assert_eq!(decide(Some(&r), "other", NOW), PollDecision::OtherClient);
        assert_eq!(decide(Some(&r), "c", 1_500), PollDecision::Expired);
        let approved = row(
            DeviceStatus::Approved {
                user_id: "u".into(),
                auth_time: 950,
            },
            None,
        );
        assert_eq!(
            decide(Some(&approved), "other", NOW),
            PollDecision::OtherClient,
            "another client never redeems"
        );
        assert_eq!(decide(Some(&approved), "c", 1_500), PollDecision::Expired);
    }

    #[test]
    fn pending_polls_slow_down_when_early() {
        assert_eq!(
            decide(Some(&row(DeviceStatus::Pending, None)), "c", NOW),
            PollDecision::Pending
        );
        let polled = row(DeviceStatus::Pending, Some(NOW - 5));
        assert_eq!(decide(Some(&polled), "c", NOW), PollDecision::Pending);
        let early = row(DeviceStatus::Pending, Some(NOW - 4));
        assert_eq!(
            decide(Some(&early), "c", NOW),
            PollDecision::SlowDown { interval: 10 }
        );
    }

    #[test]
    fn denied_and_approved() {
        assert_eq!(
            decide(Some(&row(DeviceStatus::Denied, Some(NOW))), "c", NOW),
            PollDecision::Denied
        );
        let approved = row(
            DeviceStatus::Approved {
                user_id: "u".into(),
                auth_time: 950,
            },
            Some(NOW),
        );
        match decide(Some(&approved), "c", NOW) {
            PollDecision::Redeem { grant } => {
                assert_eq!(grant.user_id.as_deref(), Some("u"));
                assert_eq!(grant.resource, "https://mcp.example/");
                assert_eq!(grant.scope.to_string(), "read");
                assert_eq!(grant.auth_time, Some(950));
            }
            other => panic!("{other:?}"),
        }
    }
}
