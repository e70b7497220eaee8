//! Kept upstream tokens on their way out: every statement that deletes them (a grant revoked,
//! a client or user removed, grants and codes expired) first copies them, in the same
//! transaction, to `upstream_revocations`, from which the server revokes them at their provider
//! ([`crate::upstream::revocation`]). Deleting without queueing would leave them valid there.

use super::dialect::{Arg, Binds, Dialect, formatted};
use super::run::Run;
use crate::store::StoreResult;

/// The kept tokens of grants and codes about to be deleted, as conditions on `upstream_tokens`
/// with `$1` their one argument, for [`discard_tokens_in`] and [`queue_revocations_in`].
pub(super) mod doomed {
    /// Of one grant (`$1` its id).
    pub const GRANT: &str = "grant_id = $1";
    /// Of a client's grants, codes and device authorizations (`$1` the client id).
    pub const CLIENT: &str = "grant_id IN (SELECT id FROM grants WHERE client_id = $1) \
        OR code_hash IN (SELECT code_hash FROM authorization_codes WHERE client_id = $1) \
        OR code_hash IN (SELECT device_code_hash FROM device_authorizations WHERE client_id = $1)";
    /// Of a user's grants, codes and the device authorizations they approved (`$1` the user id).
    pub const USER: &str = "grant_id IN (SELECT id FROM grants WHERE user_id = $1) \
        OR code_hash IN (SELECT code_hash FROM authorization_codes WHERE user_id = $1) \
        OR code_hash IN (SELECT device_code_hash FROM device_authorizations WHERE user_id = $1)";
    /// Of grants that expire (`$1` now).
    pub const EXPIRED_GRANTS: &str = "grant_id IN (SELECT id FROM grants WHERE expires_at <= $1)";
    /// Of codes and device authorizations gone unredeemed (no argument). The tokens of a device
    /// sign-in are kept under the device code's hash until its poll redeems it.
    pub const ORPHANS: &str = "grant_id IS NULL \
        AND code_hash NOT IN (SELECT code_hash FROM authorization_codes) \
        AND code_hash NOT IN (SELECT device_code_hash FROM device_authorizations)";
}

/// Copies the kept tokens `cond` selects to the revocation queue, in the caller's transaction,
/// so that what is deleted here is revoked at the provider too (by the server, later).
pub(super) async fn queue_revocations_in<D: Dialect + Binds<T>, T>(
    conn: &mut D::Connection,
    cond: &'static str,
    key: Option<T>,
) -> StoreResult<()> {
    let q = formatted::<D>(format!(
        "INSERT INTO upstream_revocations (code_hash, upstream_id, sealed) \
         SELECT code_hash, upstream_id, sealed FROM upstream_tokens WHERE {cond} \
         ON CONFLICT (code_hash) DO NOTHING"
    ));
    let q = match key {
        Some(k) => q.arg(k),
        None => q,
    };
    q.run(D::on(conn), "queueing upstream revocations").await
}

/// Queues, then deletes, the kept tokens `cond` selects (`$1` = `key`).
pub(super) async fn discard_tokens_in<D: Dialect>(
    conn: &mut D::Connection,
    cond: &'static str,
    key: &str,
) -> StoreResult<()> {
    queue_revocations_in::<D, &str>(conn, cond, Some(key)).await?;
    formatted::<D>(format!("DELETE FROM upstream_tokens WHERE {cond}"))
        .arg(key)
        .run(D::on(conn), "deleting upstream tokens")
        .await
}
