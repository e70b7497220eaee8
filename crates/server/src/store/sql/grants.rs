//! Authorization codes, grants, refresh tokens and revoked access tokens, in SQL.

use super::dialect::{Arg, Dialect, SqlBackend, SqlRow, formatted};
use super::error::db;
use super::for_update;
use super::revocations::{discard_tokens_in, doomed, queue_revocations_in};
use super::row::Columns;
use super::row::record;
use super::run::Run;
use super::tx::in_tx;
use crate::model::{AuthorizationCode, Grant, RedeemOutcome, RefreshToken, RotateOutcome};
use crate::store::rules::{
    CodeRow, RedeemDecision, RotateDecision, check_family, decide_redeem, decide_rotate,
};
use crate::store::{CodeStore, GrantStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

fn code_from_row(row: &impl SqlRow) -> StoreResult<AuthorizationCode> {
    record![row => AuthorizationCode { code_hash, client_id, redirect_uri, code_challenge,
        resource, scope: scope, user_id, auth_time, created_at, expires_at }]
}

fn grant_from_row(row: &impl SqlRow) -> StoreResult<Grant> {
    record![row => Grant { id, client_id, user_id, resource, scope: scope, auth_time, created_at,
        expires_at, revoked_at }]
}

fn refresh_from_row(row: &impl SqlRow) -> StoreResult<RefreshToken> {
    record![row => RefreshToken { token_hash, grant_id, created_at, expires_at, rotated_at,
        successor_hash }]
}

/// The columns of a refresh token joined to its grant (`r`, `g`), the token's times renamed.
macro_rules! token_and_grant {
    () => {
        "r.token_hash, r.grant_id, r.created_at AS token_created_at, \
         r.expires_at AS token_expires_at, r.rotated_at, r.successor_hash, g.*"
    };
}

/// A refresh token and its grant from one joined row (the token's times under other names).
fn refresh_and_grant_from_row(row: &impl SqlRow) -> StoreResult<(RefreshToken, Grant)> {
    let token = record![row => RefreshToken { token_hash, grant_id,
        created_at = row.col("token_created_at")?, expires_at = row.col("token_expires_at")?,
        rotated_at, successor_hash }]?;
    Ok((token, grant_from_row(row)?))
}

/// Reads a grant; with `lock`, where the dialect locks rows, also locks its row until the
/// transaction ends.
async fn fetch_grant<D: Dialect>(
    conn: &mut D::Connection,
    id: &str,
    lock: bool,
) -> StoreResult<Option<Grant>> {
    let query = if lock {
        sqlx::query(for_update!(D, "SELECT * FROM grants WHERE id = $1"))
    } else {
        sqlx::query("SELECT * FROM grants WHERE id = $1")
    };
    query
        .arg(id)
        .optional(D::on(conn), "reading a grant", grant_from_row)
        .await
}

async fn fetch_refresh<D: Dialect>(
    conn: &mut D::Connection,
    hash: &str,
) -> StoreResult<Option<RefreshToken>> {
    sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = $1")
        .arg(hash)
        .optional(D::on(conn), "reading a refresh token", refresh_from_row)
        .await
}

async fn insert_refresh<D: Dialect>(conn: &mut D::Connection, t: &RefreshToken) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens \
         (token_hash, grant_id, created_at, expires_at, rotated_at, successor_hash) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .arg(t.token_hash.as_str())
    .arg(t.grant_id.as_str())
    .arg(t.created_at)
    .arg(t.expires_at)
    .arg(t.rotated_at)
    .arg(t.successor_hash.as_deref())
    .run(D::on(conn), "refresh token")
    .await
}

/// Inserts a grant and its first refresh token (which must belong to it).
pub(super) async fn insert_grant_in<D: Dialect>(
    conn: &mut D::Connection,
    g: &Grant,
    first: Option<&RefreshToken>,
) -> StoreResult<()> {
    if let Some(t) = first {
        check_family(&g.id, t)?;
    }
    sqlx::query(
        "INSERT INTO grants (id, client_id, user_id, resource, scope, auth_time, created_at, \
         expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .arg(g.id.as_str())
    .arg(g.client_id.as_str())
    .arg(g.user_id.as_deref())
    .arg(g.resource.as_str())
    .arg(g.scope.to_string())
    .arg(g.auth_time)
    .arg(g.created_at)
    .arg(g.expires_at)
    .arg(g.revoked_at)
    .run(D::on(conn), "grant")
    .await?;
    if let Some(t) = first {
        insert_refresh::<D>(conn, t).await?;
    }
    Ok(())
}

/// Revokes a grant if it is active; returns whether it was.
async fn revoke_in<D: Dialect>(
    conn: &mut D::Connection,
    grant_id: &str,
    now: UnixTime,
) -> StoreResult<bool> {
    // A revoked grant keeps no upstream token (they are deleted with it, not just unusable,
    // and queued to be revoked at the provider).
    discard_tokens_in::<D>(conn, doomed::GRANT, grant_id).await?;
    Ok(
        sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .arg(now)
            .arg(grant_id)
            .changed(D::on(conn), "revoking a grant")
            .await?
            > 0,
    )
}

#[async_trait]
impl<S: SqlBackend<Db = D>, D: Dialect> CodeStore for S {
    async fn insert_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, code_challenge, \
             resource, scope, user_id, auth_time, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .arg(code.code_hash.as_str())
        .arg(code.client_id.as_str())
        .arg(code.redirect_uri.as_str())
        .arg(code.code_challenge.as_str())
        .arg(code.resource.as_str())
        .arg(code.scope.to_string())
        .arg(code.user_id.as_str())
        .arg(code.auth_time)
        .arg(code.created_at)
        .arg(code.expires_at)
        .run(self.on_pool(), "authorization code")
        .await
    }

    async fn redeem_code(
        &self,
        code_hash: &str,
        now: UnixTime,
        grant: &Grant,
        first_refresh: Option<&RefreshToken>,
    ) -> StoreResult<RedeemOutcome> {
        in_tx!(self, |tx| redeem_in::<D>(
            tx,
            code_hash,
            now,
            grant,
            first_refresh
        ))
    }
}

async fn redeem_in<D: Dialect>(
    conn: &mut D::Connection,
    code_hash: &str,
    now: UnixTime,
    grant: &Grant,
    first_refresh: Option<&RefreshToken>,
) -> StoreResult<RedeemOutcome> {
    // Locks the code where the dialect locks rows: a second redemption waits for this one.
    let Some(row) = sqlx::query(for_update!(
        D,
        "SELECT * FROM authorization_codes WHERE code_hash = $1"
    ))
    .arg(code_hash)
    .fetch_optional(D::on(conn))
    .await
    .map_err(db("reading a code"))?
    else {
        return Ok(RedeemOutcome::NotFound);
    };
    let code = CodeRow {
        code: code_from_row(&row)?,
        used_at: row.col("used_at")?,
        grant_id: row.col("grant_id")?,
    };
    let grant = match decide_redeem(Some(&code), now, grant, first_refresh)? {
        RedeemDecision::NotFound => return Ok(RedeemOutcome::NotFound),
        RedeemDecision::Replay { revoke } => {
            // The foreign key nulls `grant_id` when that grant is purged.
            if let Some(g) = &revoke {
                revoke_in::<D>(conn, g, now).await?;
            }
            return Ok(RedeemOutcome::Replayed {
                revoked_grant: revoke,
            });
        }
        RedeemDecision::Redeem { grant } => grant,
    };
    insert_grant_in::<D>(conn, &grant, first_refresh).await?;
    sqlx::query("UPDATE authorization_codes SET used_at = $1, grant_id = $2 WHERE code_hash = $3")
        .arg(now)
        .arg(grant.id.as_str())
        .arg(code_hash)
        .run(D::on(conn), "spending a code")
        .await?;
    // Upstream tokens kept with the code (federated login) now belong to its grant.
    sqlx::query(
        "UPDATE upstream_tokens SET grant_id = $1 WHERE code_hash = $2 AND grant_id IS NULL",
    )
    .arg(grant.id.as_str())
    .arg(code_hash)
    .run(D::on(conn), "moving upstream tokens to a grant")
    .await?;
    Ok(RedeemOutcome::Redeemed(code.code))
}

#[async_trait]
impl<S: SqlBackend<Db = D>, D: Dialect> GrantStore for S {
    async fn insert_grant(
        &self,
        grant: &Grant,
        first_refresh: Option<&RefreshToken>,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| insert_grant_in::<D>(tx, grant, first_refresh))
    }

    async fn get_grant(&self, grant_id: &str) -> StoreResult<Option<Grant>> {
        let mut conn = self.pool().acquire().await.map_err(db("reading a grant"))?;
        fetch_grant::<D>(&mut conn, grant_id, false).await
    }

    async fn rotate_refresh(
        &self,
        presented_hash: &str,
        successor: &RefreshToken,
        now: UnixTime,
        grace: i64,
    ) -> StoreResult<RotateOutcome> {
        in_tx!(self, |tx| rotate_in::<D>(
            tx,
            presented_hash,
            successor,
            now,
            grace
        ))
    }

    async fn get_refresh(&self, token_hash: &str) -> StoreResult<Option<(RefreshToken, Grant)>> {
        // One statement, so one snapshot in every dialect, in one round trip: a refresh reads
        // this before it rotates, and a transaction around two reads cost three more
        // (BEGIN, a second SELECT, COMMIT; bench/notes.md, issue 19).
        sqlx::query(concat!(
            "SELECT ",
            token_and_grant!(),
            " FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id WHERE r.token_hash = $1"
        ))
        .arg(token_hash)
        .optional(
            self.on_pool(),
            "reading a refresh token",
            refresh_and_grant_from_row,
        )
        .await
    }

    async fn revoke_grant(&self, grant_id: &str, now: UnixTime) -> StoreResult<bool> {
        let mut conn = self
            .pool()
            .acquire()
            .await
            .map_err(db("revoking a grant"))?;
        revoke_in::<D>(&mut conn, grant_id, now).await
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime) -> StoreResult<()> {
        // Keep the later expiry: forgetting a revocation early would revive the token.
        sqlx::query(
            "INSERT INTO revoked_jtis (jti, expires_at) VALUES ($1, $2) \
             ON CONFLICT (jti) DO UPDATE SET expires_at = CASE \
             WHEN excluded.expires_at > revoked_jtis.expires_at THEN excluded.expires_at \
             ELSE revoked_jtis.expires_at END",
        )
        .arg(jti)
        .arg(expires_at)
        .run(self.on_pool(), "revoking an access token")
        .await
    }

    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        let found = sqlx::query("SELECT 1 FROM revoked_jtis WHERE jti = $1")
            .arg(jti)
            .fetch_optional(self.on_pool())
            .await
            .map_err(db("reading revoked access tokens"))?;
        Ok(found.is_some())
    }

    async fn list_grants_for_user(&self, user_id: &str) -> StoreResult<Vec<Grant>> {
        formatted(format!(
            "SELECT * FROM grants WHERE user_id = $1 ORDER BY created_at, id{}",
            D::BYTE_ORDER
        ))
        .arg(user_id)
        .all(self.on_pool(), "listing grants", grant_from_row)
        .await
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        in_tx!(self, |tx| purge_in::<D>(tx, now))
    }
}

/// The presented token, its grant and whether the grant's account is active (no user, or one
/// not disabled), as the transaction sees them.
///
/// Where the dialect locks rows, the grant row is locked first, which serialises every change to
/// the family across connections and processes; then the token is read again as the last
/// committed change to the family left it (a rotation that held the lock before may have changed
/// it), and the account. Where the write transaction holds the whole database (SQLite), one
/// joined read already is all of that: one round trip to the database instead of three.
async fn family_in<D: Dialect>(
    conn: &mut D::Connection,
    presented_hash: &str,
) -> StoreResult<Option<(RefreshToken, Grant, bool)>> {
    if !D::ROW_LOCKS {
        let row = sqlx::query(concat!(
            "SELECT ",
            token_and_grant!(),
            ", u.id AS account_id, u.disabled_at AS account_disabled_at \
             FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id \
             LEFT JOIN users u ON u.id = g.user_id WHERE r.token_hash = $1"
        ))
        .arg(presented_hash)
        .fetch_optional(D::on(conn))
        .await
        .map_err(db("reading a refresh token"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (token, grant) = refresh_and_grant_from_row(&row)?;
        let account: Option<String> = row.col("account_id")?;
        let disabled: Option<UnixTime> = row.col("account_disabled_at")?;
        let active = grant.user_id.is_none() || (account.is_some() && disabled.is_none());
        return Ok(Some((token, grant, active)));
    }
    let Some(found) = fetch_refresh::<D>(conn, presented_hash).await? else {
        return Ok(None);
    };
    let Some(grant) = fetch_grant::<D>(conn, &found.grant_id, true).await? else {
        return Ok(None);
    };
    let Some(token) = fetch_refresh::<D>(conn, presented_hash).await? else {
        return Ok(None);
    };
    let active = match grant.user_id.as_deref() {
        None => true,
        Some(user) => sqlx::query("SELECT disabled_at FROM users WHERE id = $1")
            .arg(user)
            .fetch_optional(D::on(conn))
            .await
            .map_err(db("reading an account"))?
            .map(|row| row.col::<Option<UnixTime>>("disabled_at"))
            .transpose()?
            .is_some_and(|disabled| disabled.is_none()),
    };
    Ok(Some((token, grant, active)))
}

async fn rotate_in<D: Dialect>(
    conn: &mut D::Connection,
    presented_hash: &str,
    successor: &RefreshToken,
    now: UnixTime,
    grace: i64,
) -> StoreResult<RotateOutcome> {
    let Some((token, grant, account_active)) = family_in::<D>(conn, presented_hash).await? else {
        return Ok(RotateOutcome::Invalid);
    };
    // The successor's row matters only to a retry; on a first rotation a stored duplicate is the
    // insert's unique violation (`Conflict`), so the common path reads nothing more.
    let stored_successor = match token.rotated_at {
        Some(_) => fetch_refresh::<D>(conn, &successor.token_hash).await?,
        None => None,
    };
    let decision = decide_rotate(
        Some(&token),
        Some(&grant),
        successor,
        stored_successor.as_ref(),
        now,
        grace,
    )?
    .for_account(account_active);
    match decision {
        RotateDecision::Rotate => {
            insert_refresh::<D>(conn, successor).await?;
            sqlx::query("UPDATE refresh_tokens SET rotated_at = $1, successor_hash = $2 WHERE token_hash = $3")
                .arg(now)
                .arg(successor.token_hash.as_str())
                .arg(presented_hash)
                .run(D::on(conn), "rotating a refresh token").await?;
        }
        RotateDecision::RevokeFamily => {
            revoke_in::<D>(conn, &grant.id, now).await?;
        }
        RotateDecision::Invalid | RotateDecision::GraceRetry | RotateDecision::AccountDisabled => {}
    }
    Ok(decision.outcome(Some(grant)))
}

async fn purge_in<D: Dialect>(conn: &mut D::Connection, now: UnixTime) -> StoreResult<u64> {
    // The upstream tokens of expiring grants go by cascade: queued for revocation first.
    queue_revocations_in::<D, i64>(conn, doomed::EXPIRED_GRANTS, Some(now)).await?;
    const STEPS: [&str; 8] = [
        "DELETE FROM authorization_codes WHERE expires_at <= $1",
        "DELETE FROM device_authorizations WHERE expires_at <= $1",
        "DELETE FROM refresh_tokens WHERE expires_at <= $1",
        // The tokens of expiring grants, counted here rather than vanishing by cascade.
        "DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE expires_at <= $1)",
        "DELETE FROM grants WHERE expires_at <= $1",
        "DELETE FROM revoked_jtis WHERE expires_at <= $1",
        "DELETE FROM registration_tokens WHERE expires_at <= $1",
        "DELETE FROM used_assertions WHERE expires_at <= $1",
    ];
    let mut purged = 0;
    for step in STEPS {
        purged += sqlx::query(step)
            .arg(now)
            .changed(D::on(conn), "purging")
            .await?;
    }
    // Upstream tokens of a code that expired unredeemed: queued, then deleted.
    queue_revocations_in::<D, &str>(conn, doomed::ORPHANS, None).await?;
    purged += formatted::<D>(format!(
        "DELETE FROM upstream_tokens WHERE {}",
        doomed::ORPHANS
    ))
    .changed(D::on(conn), "purging")
    .await?;
    Ok(purged)
}
