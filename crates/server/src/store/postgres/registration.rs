//! Initial access tokens and the purge of unused dynamic registrations, in PostgreSQL.

use super::{PostgresStore, col, db, in_tx};
use crate::model::{ClientOrigin, RegistrationToken};
use crate::store::{RegistrationStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

fn token_from_row(row: &PgRow) -> StoreResult<RegistrationToken> {
    Ok(RegistrationToken {
        id: col(row, "id")?,
        token_hash: col(row, "token_hash")?,
        label: col(row, "label")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
    })
}

#[async_trait]
impl RegistrationStore for PostgresStore {
    async fn insert_registration_token(&self, token: &RegistrationToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO registration_tokens (id, token_hash, label, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token.id.as_str())
        .bind(token.token_hash.as_str())
        .bind(token.label.as_str())
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(&self.pool)
        .await
        .map_err(db("registration token"))?;
        Ok(())
    }

    async fn find_registration_token(
        &self,
        token_hash: &str,
        now: UnixTime,
    ) -> StoreResult<Option<RegistrationToken>> {
        sqlx::query(
            "SELECT * FROM registration_tokens WHERE token_hash = $1 \
             AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await
        .map_err(db("reading a registration token"))?
        .as_ref()
        .map(token_from_row)
        .transpose()
    }

    async fn list_registration_tokens(&self) -> StoreResult<Vec<RegistrationToken>> {
        sqlx::query("SELECT * FROM registration_tokens ORDER BY created_at, id COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing registration tokens"))?
            .iter()
            .map(token_from_row)
            .collect()
    }

    async fn delete_registration_token(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM registration_tokens WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db("deleting a registration token"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_unused_registrations(&self, created_before: UnixTime) -> StoreResult<u64> {
        in_tx!(self, |tx| purge_unused_in(tx, created_before))
    }
}

/// The purge, inside the caller's transaction: what hangs off the doomed clients first, then
/// the clients (the same statements as deleting one client, over a set).
async fn purge_unused_in(conn: &mut PgConnection, created_before: UnixTime) -> StoreResult<u64> {
    const DOOMED: &str = "SELECT client_id FROM clients WHERE origin = $1 \
         AND last_used_at IS NULL AND created_at <= $2";
    let steps = [
        format!("DELETE FROM authorization_codes WHERE client_id IN ({DOOMED})"),
        format!(
            "DELETE FROM refresh_tokens WHERE grant_id IN \
             (SELECT id FROM grants WHERE client_id IN ({DOOMED}))"
        ),
        format!("DELETE FROM grants WHERE client_id IN ({DOOMED})"),
        format!("DELETE FROM consents WHERE client_id IN ({DOOMED})"),
    ];
    for step in &steps {
        sqlx::query(sqlx::AssertSqlSafe(step.as_str()))
            .bind(ClientOrigin::Dcr.as_str())
            .bind(created_before)
            .execute(&mut *conn)
            .await
            .map_err(db("purging unused registrations"))?;
    }
    let done = sqlx::query(
        "DELETE FROM clients WHERE origin = $1 AND last_used_at IS NULL AND created_at <= $2",
    )
    .bind(ClientOrigin::Dcr.as_str())
    .bind(created_before)
    .execute(&mut *conn)
    .await
    .map_err(db("purging unused registrations"))?;
    Ok(done.rows_affected())
}
