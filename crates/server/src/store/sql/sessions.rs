//! Consents, signing keys and browser sessions, in SQL.

use super::dialect::{Arg, Column, Dialect, SqlBackend, SqlRow, formatted};
use super::error::db;
use super::for_update;
use super::row::record;
use super::row::{Columns, parse_scope, to_json};
use super::run::Run;
use super::tx::in_tx;
use crate::model::{Consent, Session, StoredKey};
use crate::store::{ConsentStore, KeyStore, SessionStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::ScopeSet;
use mcp_oauth_core::clock::UnixTime;
use sqlx::Executor;

fn consent_from_row(row: &impl SqlRow) -> StoreResult<Consent> {
    record![row => Consent { user_id, client_id, resource, scope: scope, updated_at }]
}

#[async_trait]
impl<S: SqlBackend<Db = D>, D: Dialect> ConsentStore for S {
    async fn get_consent(
        &self,
        user_id: &str,
        client_id: &str,
        resource: &str,
    ) -> StoreResult<Option<Consent>> {
        sqlx::query(
            "SELECT * FROM consents WHERE user_id = $1 AND client_id = $2 AND resource = $3",
        )
        .arg(user_id)
        .arg(client_id)
        .arg(resource)
        .optional(self.on_pool(), "reading a consent", consent_from_row)
        .await
    }

    async fn add_consent(
        &self,
        user_id: &str,
        client_id: &str,
        resource: &str,
        scope: &ScopeSet,
        now: UnixTime,
    ) -> StoreResult<()> {
        // Read, union, write in one write transaction (under the row's lock where the dialect
        // locks rows), so concurrent additions lose nothing.
        in_tx!(self, |tx| add_consent_in::<D>(
            tx, user_id, client_id, resource, scope, now
        ))
    }

    async fn revoke_consent(&self, user_id: &str, client_id: &str) -> StoreResult<u64> {
        Ok(
            sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
                .arg(user_id)
                .arg(client_id)
                .changed(self.on_pool(), "revoking consent")
                .await?,
        )
    }

    async fn list_consents(&self, user_id: &str) -> StoreResult<Vec<Consent>> {
        formatted(format!(
            "SELECT * FROM consents WHERE user_id = $1 ORDER BY client_id{c}, resource{c}",
            c = D::BYTE_ORDER
        ))
        .arg(user_id)
        .all(self.on_pool(), "listing consents", consent_from_row)
        .await
    }
}

async fn add_consent_in<D: Dialect>(
    conn: &mut D::Connection,
    user_id: &str,
    client_id: &str,
    resource: &str,
    scope: &ScopeSet,
    now: UnixTime,
) -> StoreResult<()> {
    if D::ROW_LOCKS {
        // Make sure the row exists (an empty placeholder, invisible to others until commit; a
        // concurrent insert of the same key waits for this transaction), so there is a row to
        // lock. Where the transaction holds the whole database, nobody can come between.
        sqlx::query(
            "INSERT INTO consents (user_id, client_id, resource, scope, updated_at) \
             VALUES ($1, $2, $3, '', $4) ON CONFLICT (user_id, client_id, resource) DO NOTHING",
        )
        .arg(user_id)
        .arg(client_id)
        .arg(resource)
        .arg(now)
        .run(D::on(conn), "recording consent")
        .await?;
    }
    let existing: Option<String> = sqlx::query(for_update!(
        D,
        "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2 AND resource = $3"
    ))
    .arg(user_id)
    .arg(client_id)
    .arg(resource)
    .fetch_optional(D::on(conn))
    .await
    .and_then(|row| row.map(|row| row.column("scope")).transpose())
    .map_err(db("reading a consent"))?;
    let merged = match existing {
        Some(s) => parse_scope(&s)?.union(scope),
        None => scope.clone(),
    };
    sqlx::query(
        "INSERT INTO consents (user_id, client_id, resource, scope, updated_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, client_id, resource) \
         DO UPDATE SET scope = excluded.scope, updated_at = excluded.updated_at",
    )
    .arg(user_id)
    .arg(client_id)
    .arg(resource)
    .arg(merged.to_string())
    .arg(now)
    .run(D::on(conn), "recording consent")
    .await
}

/// Stores a signing key, on the pool or inside the caller's transaction.
pub(super) async fn insert_key_on<'c, D: Dialect>(
    on: impl Executor<'c, Database = D> + 'c,
    key: &StoredKey,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, encrypted_private_key, public_jwk, created_at, \
         activates_at, retires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .arg(key.kid.as_str())
    .arg(key.alg.as_str())
    .arg(key.encrypted_private_key.as_slice())
    .arg(to_json(&key.public_jwk)?)
    .arg(key.created_at)
    .arg(key.activates_at)
    .arg(key.retires_at)
    .run(on, "signing key")
    .await
}

fn key_from_row(row: &impl SqlRow) -> StoreResult<StoredKey> {
    record![row => StoredKey { kid, alg, encrypted_private_key, public_jwk: json, created_at,
        activates_at, retires_at }]
}

#[async_trait]
impl<S: SqlBackend<Db = D>, D: Dialect> KeyStore for S {
    async fn insert_key(&self, key: &StoredKey) -> StoreResult<()> {
        insert_key_on(self.on_pool(), key).await
    }

    async fn list_keys(&self) -> StoreResult<Vec<StoredKey>> {
        formatted(format!(
            "SELECT * FROM signing_keys ORDER BY created_at, kid{}",
            D::BYTE_ORDER
        ))
        .all(self.on_pool(), "listing signing keys", key_from_row)
        .await
    }

    async fn retire_key(&self, kid: &str, retires_at: UnixTime) -> StoreResult<bool> {
        Ok(
            sqlx::query("UPDATE signing_keys SET retires_at = $1 WHERE kid = $2")
                .arg(retires_at)
                .arg(kid)
                .changed(self.on_pool(), "retiring a signing key")
                .await?
                > 0,
        )
    }

    async fn delete_key(&self, kid: &str) -> StoreResult<bool> {
        Ok(sqlx::query("DELETE FROM signing_keys WHERE kid = $1")
            .arg(kid)
            .changed(self.on_pool(), "deleting a signing key")
            .await?
            > 0)
    }
}

fn session_from_row(row: &impl SqlRow) -> StoreResult<Session> {
    record![row => Session { id_hash, user_id, csrf_token, auth_time, created_at, expires_at }]
}

#[async_trait]
impl<S: SqlBackend<Db = D>, D: Dialect> SessionStore for S {
    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, auth_time, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .arg(session.id_hash.as_str())
        .arg(session.user_id.as_deref())
        .arg(session.csrf_token.as_str())
        .arg(session.auth_time)
        .arg(session.created_at)
        .arg(session.expires_at)
        .run(self.on_pool(), "session")
        .await
    }

    async fn get_session(&self, id_hash: &str, now: UnixTime) -> StoreResult<Option<Session>> {
        sqlx::query("SELECT * FROM sessions WHERE id_hash = $1 AND expires_at > $2")
            .arg(id_hash)
            .arg(now)
            .optional(self.on_pool(), "reading a session", session_from_row)
            .await
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .arg(id_hash)
            .run(self.on_pool(), "deleting a session")
            .await
    }

    async fn purge_sessions(&self, now: UnixTime) -> StoreResult<u64> {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .arg(now)
            .changed(self.on_pool(), "purging sessions")
            .await
    }

    async fn list_user_sessions(&self, user_id: &str, now: UnixTime) -> StoreResult<Vec<Session>> {
        formatted(format!(
            "SELECT * FROM sessions WHERE user_id = $1 AND expires_at > $2 \
             ORDER BY created_at, id_hash{}",
            D::BYTE_ORDER
        ))
        .arg(user_id.to_owned())
        .arg(now)
        .all(
            self.on_pool(),
            "listing a user's sessions",
            session_from_row,
        )
        .await
    }

    async fn delete_user_sessions(&self, user_id: &str, keep: Option<&str>) -> StoreResult<u64> {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
            .arg(user_id)
            .arg(keep.unwrap_or(""))
            .changed(self.on_pool(), "signing a user out")
            .await
    }
}
