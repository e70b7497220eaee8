//! The grant rules, as pure decisions: each backend loads the rows (with its own locking), asks
//! the rule what to do, and applies the answer. A rule changes here, once, and is tested without
//! a database.
//!
//! - [`decide_redeem`]: the code-replay rule (a used code revokes what it produced, even after it
//!   expired; an expired code is not found; otherwise the code becomes a grant).
//! - [`decide_rotate`]: the refresh-rotation rule (a current token rotates; a retry within the
//!   grace window with the same, still unused successor gets it again; any other reuse revokes the
//!   family).
//! - [`decide_poll`] (`rules/device.rs`): a device-code poll (RFC 8628 §3.5: pending,
//!   `slow_down`, denied, expired, redeemed once).

use crate::model::{AuthorizationCode, Grant, RefreshToken, RotateOutcome};
use crate::store::{StoreError, StoreResult};
use mcp_oauth_core::clock::UnixTime;

/// A stored authorization code and what became of it.
#[derive(Debug, Clone)]
pub(crate) struct CodeRow {
    pub(crate) code: AuthorizationCode,
    pub(crate) used_at: Option<UnixTime>,
    /// The grant its first use produced (nulled when that grant is purged).
    pub(crate) grant_id: Option<String>,
}

/// What to do with a code presented for redemption.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RedeemDecision {
    /// Unknown or expired: change nothing.
    NotFound,
    /// Already used: revoke the grant it produced (if it still exists), answer `Replayed`.
    Replay {
        /// The grant to revoke.
        revoke: Option<String>,
    },
    /// First use: store `grant` (and the first refresh token), mark the code used by it.
    Redeem {
        /// The grant to store, with what the code carries.
        grant: Grant,
    },
}

/// The code-replay rule. `row` is the code as read inside the backend's atomic step; `grant` and
/// `first_refresh` are what the caller wants stored on first use.
pub(crate) fn decide_redeem(
    row: Option<&CodeRow>,
    now: UnixTime,
    grant: &Grant,
    first_refresh: Option<&RefreshToken>,
) -> StoreResult<RedeemDecision> {
    let Some(row) = row else {
        return Ok(RedeemDecision::NotFound);
    };
    if row.used_at.is_some() {
        // A replay is answered by revoking what the first use produced, even once the code has
        // expired: the replay is the signal that the code leaked.
        return Ok(RedeemDecision::Replay {
            revoke: row.grant_id.clone(),
        });
    }
    if row.code.expires_at <= now {
        return Ok(RedeemDecision::NotFound);
    }
    let grant = grant_from_code(grant, &row.code);
    if let Some(t) = first_refresh {
        check_family(&grant.id, t)?;
    }
    Ok(RedeemDecision::Redeem { grant })
}

/// What to do with a refresh token presented for rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RotateDecision {
    /// Unknown, expired, or its family revoked or expired: change nothing.
    Invalid,
    /// Current: store the successor and mark the presented token rotated to it.
    Rotate,
    /// A retry within the grace window: change nothing, hand out the same successor.
    GraceRetry,
    /// Reuse: revoke the family.
    RevokeFamily,
    /// The family's account is disabled (or gone): change nothing, hand out nothing.
    AccountDisabled,
}

impl RotateDecision {
    /// The outcome the caller sees once the decision is applied; `None` for `Invalid` is
    /// `RotateOutcome::Invalid`.
    pub(crate) fn outcome(self, grant: Option<Grant>) -> RotateOutcome {
        match (self, grant) {
            (Self::Rotate, Some(g)) => RotateOutcome::Rotated(g),
            (Self::GraceRetry, Some(g)) => RotateOutcome::GraceRetry(g),
            (Self::RevokeFamily, Some(g)) => RotateOutcome::Reused { grant_id: g.id },
            (Self::AccountDisabled, Some(_)) => RotateOutcome::AccountDisabled,
            _ => RotateOutcome::Invalid,
        }
    }

    /// This decision for a family whose account is `active` or not (a family without a user,
    /// the client credentials grant's, is always active). A disabled account's token is neither
    /// rotated nor retried, so it still refreshes once the account is enabled again; a reuse
    /// still revokes the family.
    pub(crate) fn for_account(self, active: bool) -> Self {
        match self {
            Self::Rotate | Self::GraceRetry if !active => Self::AccountDisabled,
            other => other,
        }
    }
}

/// The refresh-rotation rule.
///
/// `token` is the presented token and `grant` its family as read inside the backend's atomic
/// step (after the family's lock, where there is one); `stored_successor` is the stored row with
/// the hash of `successor`, if any (it decides only a retry, so a backend whose insert refuses a
/// duplicate hash need not read it for a token not yet rotated). `grace` is the retry window in
/// seconds (`0` disables it).
pub(crate) fn decide_rotate(
    token: Option<&RefreshToken>,
    grant: Option<&Grant>,
    successor: &RefreshToken,
    stored_successor: Option<&RefreshToken>,
    now: UnixTime,
    grace: i64,
) -> StoreResult<RotateDecision> {
    let (Some(token), Some(grant)) = (token, grant) else {
        return Ok(RotateDecision::Invalid);
    };
    if token.expires_at <= now || grant.revoked_at.is_some() || grant.expires_at <= now {
        return Ok(RotateDecision::Invalid);
    }
    check_family(&grant.id, successor)?;
    let Some(rotated_at) = token.rotated_at else {
        if stored_successor.is_some() {
            return Err(StoreError::Conflict("refresh token".into()));
        }
        return Ok(RotateDecision::Rotate);
    };
    let same_successor = token.successor_hash.as_deref() == Some(successor.token_hash.as_str());
    let successor_unused = stored_successor.is_some_and(|t| t.rotated_at.is_none());
    if grace > 0 && now - rotated_at <= grace && same_successor && successor_unused {
        Ok(RotateDecision::GraceRetry)
    } else {
        Ok(RotateDecision::RevokeFamily)
    }
}

/// Refuses a refresh token that names another grant than the one it is stored with: a caller bug
/// that would put the token outside the family revocation covers.
pub(crate) fn check_family(grant_id: &str, token: &RefreshToken) -> StoreResult<()> {
    if token.grant_id == grant_id {
        Ok(())
    } else {
        Err(StoreError::Backend(
            "refresh token does not belong to the grant it is stored with".into(),
        ))
    }
}

/// The grant a code produces: the caller's `grant` with the user, resource, scope and
/// authentication time the code carries, which the caller cannot know before the code is read in
/// the same atomic step.
pub(crate) fn grant_from_code(grant: &Grant, code: &AuthorizationCode) -> Grant {
    Grant {
        user_id: Some(code.user_id.clone()),
        resource: code.resource.clone(),
        scope: code.scope.clone(),
        auth_time: Some(code.auth_time),
        ..grant.clone()
    }
}

mod device;
pub(crate) use device::{PollDecision, decide_poll};

#[cfg(test)]
mod tests;
