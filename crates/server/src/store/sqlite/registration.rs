//! Initial access tokens and the purge of unused dynamic registrations, in SQLite.

use super::{SqliteStore, col, db, finish};
use crate::model::{ClientOrigin, RegistrationToken};
use crate::store::{RegistrationStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

fn token_from_row(row: &SqliteRow) -> StoreResult<RegistrationToken> {
    Ok(RegistrationToken {
        id: col(row, "id")?,
        token_hash: col(row, "token_hash")?,
        label: col(row, "label")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
    })
}

#[async_trait]
impl RegistrationStore for SqliteStore {
    async fn insert_registration_token(&self, token: &RegistrationToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO registration_tokens (id, token_hash, label, created_at, expires_at) \
             VALUES (?, ?, ?, ?, ?)",
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
            "SELECT * FROM registration_tokens WHERE token_hash = ? \
             AND (expires_at IS NULL OR expires_at > ?)",
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
        sqlx::query("SELECT * FROM registration_tokens ORDER BY created_at, id")
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing registration tokens"))?
            .iter()
            .map(token_from_row)
            .collect()
    }

    async fn delete_registration_token(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM registration_tokens WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db("deleting a registration token"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn purge_unused_registrations(&self, created_before: UnixTime) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let result = purge_unused_in(&mut tx, created_before).await;
        finish(tx, result).await
    }
}

/// The purge, inside the caller's transaction: what hangs off the doomed clients first, then
/// the clients (the same statements as deleting one client, over a set).
async fn purge_unused_in(
    conn: &mut SqliteConnection,
    created_before: UnixTime,
) -> StoreResult<u64> {
    macro_rules! doomed {
        () => {
            "SELECT client_id FROM clients WHERE origin = ? AND last_used_at IS NULL AND created_at <= ?"
        };
    }
    const STEPS: [&str; 4] = [
        concat!(
            "DELETE FROM authorization_codes WHERE client_id IN (",
            doomed!(),
            ")"
        ),
        concat!(
            "DELETE FROM refresh_tokens WHERE grant_id IN (SELECT id FROM grants WHERE client_id IN (",
            doomed!(),
            "))"
        ),
        concat!("DELETE FROM grants WHERE client_id IN (", doomed!(), ")"),
        concat!("DELETE FROM consents WHERE client_id IN (", doomed!(), ")"),
    ];
    for step in STEPS {
        sqlx::query(step)
            .bind(ClientOrigin::Dcr.as_str())
            .bind(created_before)
            .execute(&mut *conn)
            .await
            .map_err(db("purging unused registrations"))?;
    }
    let done = sqlx::query(
        "DELETE FROM clients WHERE origin = ? AND last_used_at IS NULL AND created_at <= ?",
    )
    .bind(ClientOrigin::Dcr.as_str())
    .bind(created_before)
    .execute(&mut *conn)
    .await
    .map_err(db("purging unused registrations"))?;
    Ok(done.rows_affected())
}
