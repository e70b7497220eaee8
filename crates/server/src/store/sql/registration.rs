//! Initial access tokens and the purge of unused dynamic registrations, in SQL.

use super::dialect::{Arg, Dialect, SqlBackend, SqlRow, formatted};
use super::row::Columns;
use super::row::record;
use super::run::Run;
use super::tx::in_tx;
use crate::model::{ClientOrigin, RegistrationToken};
use crate::store::{RegistrationStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

fn token_from_row(row: &impl SqlRow) -> StoreResult<RegistrationToken> {
    record![row => RegistrationToken { id, token_hash, label, created_at, expires_at }]
}

#[async_trait]
impl<S: SqlBackend<Db = D>, D: Dialect> RegistrationStore for S {
    async fn insert_registration_token(&self, token: &RegistrationToken) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO registration_tokens (id, token_hash, label, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .arg(token.id.as_str())
        .arg(token.token_hash.as_str())
        .arg(token.label.as_str())
        .arg(token.created_at)
        .arg(token.expires_at)
        .run(self.on_pool(), "registration token")
        .await
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
        .arg(token_hash)
        .arg(now)
        .optional(
            self.on_pool(),
            "reading a registration token",
            token_from_row,
        )
        .await
    }

    async fn list_registration_tokens(&self) -> StoreResult<Vec<RegistrationToken>> {
        formatted(format!(
            "SELECT * FROM registration_tokens ORDER BY created_at, id{}",
            D::BYTE_ORDER
        ))
        .all(
            self.on_pool(),
            "listing registration tokens",
            token_from_row,
        )
        .await
    }

    async fn delete_registration_token(&self, id: &str) -> StoreResult<bool> {
        Ok(sqlx::query("DELETE FROM registration_tokens WHERE id = $1")
            .arg(id)
            .changed(self.on_pool(), "deleting a registration token")
            .await?
            > 0)
    }

    async fn purge_unused_registrations(&self, created_before: UnixTime) -> StoreResult<u64> {
        in_tx!(self, |tx| purge_unused_in::<D>(tx, created_before))
    }
}

/// The purge, inside the caller's transaction: what hangs off the doomed clients first, then
/// the clients (the same statements as deleting one client, over a set).
async fn purge_unused_in<D: Dialect>(
    conn: &mut D::Connection,
    created_before: UnixTime,
) -> StoreResult<u64> {
    macro_rules! doomed {
        () => {
            "SELECT client_id FROM clients WHERE origin = $1 AND last_used_at IS NULL \
             AND created_at <= $2"
        };
    }
    const STEPS: [&str; 5] = [
        concat!(
            "DELETE FROM authorization_codes WHERE client_id IN (",
            doomed!(),
            ")"
        ),
        concat!(
            "DELETE FROM device_authorizations WHERE client_id IN (",
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
            .arg(ClientOrigin::Dcr.as_str())
            .arg(created_before)
            .run(D::on(conn), "purging unused registrations")
            .await?;
    }
    sqlx::query(
        "DELETE FROM clients WHERE origin = $1 AND last_used_at IS NULL AND created_at <= $2",
    )
    .arg(ClientOrigin::Dcr.as_str())
    .arg(created_before)
    .changed(D::on(conn), "purging unused registrations")
    .await
}
