//! Authorization codes, grants, refresh tokens and revoked access tokens in PostgreSQL.

use super::{PostgresStore, col, db, finish, in_tx, scope_col};
use crate::model::{AuthorizationCode, Grant, RedeemOutcome, RefreshToken, RotateOutcome};
use crate::store::rules::{
    CodeRow, RedeemDecision, RotateDecision, check_family, decide_redeem, decide_rotate,
};
use crate::store::{CodeStore, GrantStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

fn code_from_row(row: &PgRow) -> StoreResult<AuthorizationCode> {
    Ok(AuthorizationCode {
        code_hash: col(row, "code_hash")?,
        client_id: col(row, "client_id")?,
        redirect_uri: col(row, "redirect_uri")?,
        code_challenge: col(row, "code_challenge")?,
        resource: col(row, "resource")?,
        scope: scope_col(row, "scope")?,
        user_id: col(row, "user_id")?,
        auth_time: col(row, "auth_time")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
    })
}

fn grant_from_row(row: &PgRow) -> StoreResult<Grant> {
    Ok(Grant {
        id: col(row, "id")?,
        client_id: col(row, "client_id")?,
        user_id: col(row, "user_id")?,
        resource: col(row, "resource")?,
        scope: scope_col(row, "scope")?,
        auth_time: col(row, "auth_time")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
        revoked_at: col(row, "revoked_at")?,
    })
}

fn refresh_from_row(row: &PgRow) -> StoreResult<RefreshToken> {
    Ok(RefreshToken {
        token_hash: col(row, "token_hash")?,
        grant_id: col(row, "grant_id")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
        rotated_at: col(row, "rotated_at")?,
        successor_hash: col(row, "successor_hash")?,
    })
}

async fn fetch_grant(conn: &mut PgConnection, id: &str) -> StoreResult<Option<Grant>> {
    sqlx::query("SELECT * FROM grants WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db("reading a grant"))?
        .as_ref()
        .map(grant_from_row)
        .transpose()
}

/// Reads a grant and locks its row until the transaction ends.
async fn lock_grant(conn: &mut PgConnection, id: &str) -> StoreResult<Option<Grant>> {
    sqlx::query("SELECT * FROM grants WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await
        .map_err(db("reading a grant"))?
        .as_ref()
        .map(grant_from_row)
        .transpose()
}

async fn fetch_refresh(conn: &mut PgConnection, hash: &str) -> StoreResult<Option<RefreshToken>> {
    sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = $1")
        .bind(hash)
        .fetch_optional(conn)
        .await
        .map_err(db("reading a refresh token"))?
        .as_ref()
        .map(refresh_from_row)
        .transpose()
}

async fn insert_refresh(conn: &mut PgConnection, t: &RefreshToken) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens \
         (token_hash, grant_id, created_at, expires_at, rotated_at, successor_hash) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(t.token_hash.as_str())
    .bind(t.grant_id.as_str())
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(t.rotated_at)
    .bind(t.successor_hash.as_deref())
    .execute(conn)
    .await
    .map_err(db("refresh token"))?;
    Ok(())
}

/// Inserts a grant and its first refresh token (which must belong to it).
async fn insert_grant_in(
    conn: &mut PgConnection,
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
    .bind(g.id.as_str())
    .bind(g.client_id.as_str())
    .bind(g.user_id.as_deref())
    .bind(g.resource.as_str())
    .bind(g.scope.to_string())
    .bind(g.auth_time)
    .bind(g.created_at)
    .bind(g.expires_at)
    .bind(g.revoked_at)
    .execute(&mut *conn)
    .await
    .map_err(db("grant"))?;
    if let Some(t) = first {
        insert_refresh(conn, t).await?;
    }
    Ok(())
}

/// Revokes a grant if it is active; returns whether it was.
async fn revoke_in(conn: &mut PgConnection, grant_id: &str, now: UnixTime) -> StoreResult<bool> {
    let done =
        sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(grant_id)
            .execute(conn)
            .await
            .map_err(db("revoking a grant"))?;
    Ok(done.rows_affected() > 0)
}

#[async_trait]
impl CodeStore for PostgresStore {
    async fn insert_code(&self, code: &AuthorizationCode) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, client_id, redirect_uri, code_challenge, \
             resource, scope, user_id, auth_time, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(code.code_hash.as_str())
        .bind(code.client_id.as_str())
        .bind(code.redirect_uri.as_str())
        .bind(code.code_challenge.as_str())
        .bind(code.resource.as_str())
        .bind(code.scope.to_string())
        .bind(code.user_id.as_str())
        .bind(code.auth_time)
        .bind(code.created_at)
        .bind(code.expires_at)
        .execute(&self.pool)
        .await
        .map_err(db("authorization code"))?;
        Ok(())
    }

    async fn redeem_code(
        &self,
        code_hash: &str,
        now: UnixTime,
        grant: &Grant,
        first_refresh: Option<&RefreshToken>,
    ) -> StoreResult<RedeemOutcome> {
        in_tx!(self, |tx| redeem_in(
            tx,
            code_hash,
            now,
            grant,
            first_refresh
        ))
    }
}

async fn redeem_in(
    conn: &mut PgConnection,
    code_hash: &str,
    now: UnixTime,
    grant: &Grant,
    first_refresh: Option<&RefreshToken>,
) -> StoreResult<RedeemOutcome> {
    let Some(row) =
        sqlx::query("SELECT * FROM authorization_codes WHERE code_hash = $1 FOR UPDATE")
            .bind(code_hash)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("reading a code"))?
    else {
        return Ok(RedeemOutcome::NotFound);
    };
    let code = CodeRow {
        code: code_from_row(&row)?,
        used_at: col(&row, "used_at")?,
        grant_id: col(&row, "grant_id")?,
    };
    let grant = match decide_redeem(Some(&code), now, grant, first_refresh)? {
        RedeemDecision::NotFound => return Ok(RedeemOutcome::NotFound),
        RedeemDecision::Replay { revoke } => {
            // The foreign key nulls `grant_id` when that grant is purged.
            if let Some(g) = &revoke {
                revoke_in(conn, g, now).await?;
            }
            return Ok(RedeemOutcome::Replayed {
                revoked_grant: revoke,
            });
        }
        RedeemDecision::Redeem { grant } => grant,
    };
    insert_grant_in(conn, &grant, first_refresh).await?;
    sqlx::query("UPDATE authorization_codes SET used_at = $1, grant_id = $2 WHERE code_hash = $3")
        .bind(now)
        .bind(grant.id.as_str())
        .bind(code_hash)
        .execute(&mut *conn)
        .await
        .map_err(db("spending a code"))?;
    Ok(RedeemOutcome::Redeemed(code.code))
}

#[async_trait]
impl GrantStore for PostgresStore {
    async fn insert_grant(
        &self,
        grant: &Grant,
        first_refresh: Option<&RefreshToken>,
    ) -> StoreResult<()> {
        in_tx!(self, |tx| insert_grant_in(tx, grant, first_refresh))
    }

    async fn get_grant(&self, grant_id: &str) -> StoreResult<Option<Grant>> {
        let mut conn = self.pool.acquire().await.map_err(db("reading a grant"))?;
        fetch_grant(&mut conn, grant_id).await
    }

    async fn rotate_refresh(
        &self,
        presented_hash: &str,
        successor: &RefreshToken,
        now: UnixTime,
        grace: i64,
    ) -> StoreResult<RotateOutcome> {
        in_tx!(self, |tx| rotate_in(
            tx,
            presented_hash,
            successor,
            now,
            grace
        ))
    }

    async fn get_refresh(&self, token_hash: &str) -> StoreResult<Option<(RefreshToken, Grant)>> {
        // Two reads in one read-only snapshot.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(db("reading a refresh token"))?;
        let result = async {
            let Some(token) = fetch_refresh(&mut tx, token_hash).await? else {
                return Ok(None);
            };
            Ok(fetch_grant(&mut tx, &token.grant_id)
                .await?
                .map(|g| (token, g)))
        }
        .await;
        finish(tx, result).await
    }

    async fn revoke_grant(&self, grant_id: &str, now: UnixTime) -> StoreResult<bool> {
        let mut conn = self.pool.acquire().await.map_err(db("revoking a grant"))?;
        revoke_in(&mut conn, grant_id, now).await
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: UnixTime) -> StoreResult<()> {
        // Keep the later expiry: forgetting a revocation early would revive the token.
        sqlx::query(
            "INSERT INTO revoked_jtis (jti, expires_at) VALUES ($1, $2) \
             ON CONFLICT (jti) DO UPDATE SET expires_at = CASE \
             WHEN excluded.expires_at > revoked_jtis.expires_at THEN excluded.expires_at \
             ELSE revoked_jtis.expires_at END",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(db("revoking an access token"))?;
        Ok(())
    }

    async fn is_access_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1::BIGINT FROM revoked_jtis WHERE jti = $1")
                .bind(jti)
                .fetch_optional(&self.pool)
                .await
                .map_err(db("reading revoked access tokens"))?;
        Ok(found.is_some())
    }

    async fn list_grants_for_user(&self, user_id: &str) -> StoreResult<Vec<Grant>> {
        sqlx::query("SELECT * FROM grants WHERE user_id = $1 ORDER BY created_at, id COLLATE \"C\"")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing grants"))?
            .iter()
            .map(grant_from_row)
            .collect()
    }

    async fn purge_expired(&self, now: UnixTime) -> StoreResult<u64> {
        in_tx!(self, |tx| purge_in(tx, now))
    }
}

async fn rotate_in(
    conn: &mut PgConnection,
    presented_hash: &str,
    successor: &RefreshToken,
    now: UnixTime,
    grace: i64,
) -> StoreResult<RotateOutcome> {
    // Find the family, lock its grant row (serialising every change to the family across
    // connections and processes), then read the token as the last committed change left it.
    let Some(family) = fetch_refresh(conn, presented_hash).await? else {
        return Ok(RotateOutcome::Invalid);
    };
    let Some(grant) = lock_grant(conn, &family.grant_id).await? else {
        return Ok(RotateOutcome::Invalid);
    };
    let Some(token) = fetch_refresh(conn, presented_hash).await? else {
        return Ok(RotateOutcome::Invalid);
    };
    // The successor's row matters only to a retry; on a first rotation a stored duplicate is the
    // insert's unique violation (`Conflict`), so the common path reads nothing more.
    let stored_successor = match token.rotated_at {
        Some(_) => fetch_refresh(conn, &successor.token_hash).await?,
        None => None,
    };
    let decision = decide_rotate(
        Some(&token),
        Some(&grant),
        successor,
        stored_successor.as_ref(),
        now,
        grace,
    )?;
    match decision {
        RotateDecision::Rotate => {
            insert_refresh(conn, successor).await?;
            sqlx::query("UPDATE refresh_tokens SET rotated_at = $1, successor_hash = $2 WHERE token_hash = $3")
                .bind(now)
                .bind(successor.token_hash.as_str())
                .bind(presented_hash)
                .execute(&mut *conn)
                .await
                .map_err(db("rotating a refresh token"))?;
        }
        RotateDecision::RevokeFamily => {
            revoke_in(conn, &grant.id, now).await?;
        }
        RotateDecision::Invalid | RotateDecision::GraceRetry => {}
    }
    Ok(decision.outcome(Some(grant)))
}

async fn purge_in(conn: &mut PgConnection, now: UnixTime) -> StoreResult<u64> {
    const STEPS: [&str; 7] = [
        "DELETE FROM authorization_codes WHERE expires_at <= $1",
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
            .bind(now)
            .execute(&mut *conn)
            .await
            .map_err(db("purging"))?
            .rows_affected();
    }
    Ok(purged)
}
