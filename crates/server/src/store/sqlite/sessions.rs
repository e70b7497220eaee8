//! Consents, signing keys and browser sessions in SQLite.

use super::{SqliteStore, col, db, finish, json_col, parse_scope, scope_col, to_json};
use crate::model::{Consent, Session, StoredKey};
use crate::store::{ConsentStore, KeyStore, SessionStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::ScopeSet;
use mcp_oauth_core::clock::UnixTime;
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

fn consent_from_row(row: &SqliteRow) -> StoreResult<Consent> {
    Ok(Consent {
        user_id: col(row, "user_id")?,
        client_id: col(row, "client_id")?,
        resource: col(row, "resource")?,
        scope: scope_col(row, "scope")?,
        updated_at: col(row, "updated_at")?,
    })
}

#[async_trait]
impl ConsentStore for SqliteStore {
    async fn get_consent(
        &self,
        user_id: &str,
        client_id: &str,
        resource: &str,
    ) -> StoreResult<Option<Consent>> {
        sqlx::query("SELECT * FROM consents WHERE user_id = ? AND client_id = ? AND resource = ?")
            .bind(user_id)
            .bind(client_id)
            .bind(resource)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a consent"))?
            .as_ref()
            .map(consent_from_row)
            .transpose()
    }

    async fn add_consent(
        &self,
        user_id: &str,
        client_id: &str,
        resource: &str,
        scope: &ScopeSet,
        now: UnixTime,
    ) -> StoreResult<()> {
        // Read, union, write: one write transaction, so concurrent additions lose nothing.
        let mut tx = self.begin().await?;
        let result = add_consent_in(&mut tx, user_id, client_id, resource, scope, now).await;
        finish(tx, result).await
    }

    async fn revoke_consent(&self, user_id: &str, client_id: &str) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM consents WHERE user_id = ? AND client_id = ?")
            .bind(user_id)
            .bind(client_id)
            .execute(&self.pool)
            .await
            .map_err(db("revoking consent"))?;
        Ok(done.rows_affected())
    }

    async fn list_consents(&self, user_id: &str) -> StoreResult<Vec<Consent>> {
        sqlx::query("SELECT * FROM consents WHERE user_id = ? ORDER BY client_id, resource")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing consents"))?
            .iter()
            .map(consent_from_row)
            .collect()
    }
}

async fn add_consent_in(
    conn: &mut SqliteConnection,
    user_id: &str,
    client_id: &str,
    resource: &str,
    scope: &ScopeSet,
    now: UnixTime,
) -> StoreResult<()> {
    let existing: Option<String> = sqlx::query_scalar(
        "SELECT scope FROM consents WHERE user_id = ? AND client_id = ? AND resource = ?",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(resource)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db("reading a consent"))?;
    let merged = match existing {
        Some(s) => parse_scope(&s)?.union(scope),
        None => scope.clone(),
    };
    sqlx::query(
        "INSERT INTO consents (user_id, client_id, resource, scope, updated_at) \
         VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, client_id, resource) \
         DO UPDATE SET scope = excluded.scope, updated_at = excluded.updated_at",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(resource)
    .bind(merged.to_string())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db("recording consent"))?;
    Ok(())
}

fn key_from_row(row: &SqliteRow) -> StoreResult<StoredKey> {
    Ok(StoredKey {
        kid: col(row, "kid")?,
        alg: col(row, "alg")?,
        encrypted_private_key: col(row, "encrypted_private_key")?,
        public_jwk: json_col(row, "public_jwk")?,
        created_at: col(row, "created_at")?,
        activates_at: col(row, "activates_at")?,
        retires_at: col(row, "retires_at")?,
    })
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_key(&self, key: &StoredKey) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, encrypted_private_key, public_jwk, created_at, \
             activates_at, retires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(key.kid.as_str())
        .bind(key.alg.as_str())
        .bind(key.encrypted_private_key.as_slice())
        .bind(to_json(&key.public_jwk)?)
        .bind(key.created_at)
        .bind(key.activates_at)
        .bind(key.retires_at)
        .execute(&self.pool)
        .await
        .map_err(db("signing key"))?;
        Ok(())
    }

    async fn list_keys(&self) -> StoreResult<Vec<StoredKey>> {
        sqlx::query("SELECT * FROM signing_keys ORDER BY created_at, kid")
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing signing keys"))?
            .iter()
            .map(key_from_row)
            .collect()
    }

    async fn retire_key(&self, kid: &str, retires_at: UnixTime) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE signing_keys SET retires_at = ? WHERE kid = ?")
            .bind(retires_at)
            .bind(kid)
            .execute(&self.pool)
            .await
            .map_err(db("retiring a signing key"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_key(&self, kid: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM signing_keys WHERE kid = ?")
            .bind(kid)
            .execute(&self.pool)
            .await
            .map_err(db("deleting a signing key"))?;
        Ok(done.rows_affected() > 0)
    }
}

fn session_from_row(row: &SqliteRow) -> StoreResult<Session> {
    Ok(Session {
        id_hash: col(row, "id_hash")?,
        user_id: col(row, "user_id")?,
        csrf_token: col(row, "csrf_token")?,
        auth_time: col(row, "auth_time")?,
        created_at: col(row, "created_at")?,
        expires_at: col(row, "expires_at")?,
    })
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, auth_time, created_at, \
             expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(session.id_hash.as_str())
        .bind(session.user_id.as_deref())
        .bind(session.csrf_token.as_str())
        .bind(session.auth_time)
        .bind(session.created_at)
        .bind(session.expires_at)
        .execute(&self.pool)
        .await
        .map_err(db("session"))?;
        Ok(())
    }

    async fn get_session(&self, id_hash: &str, now: UnixTime) -> StoreResult<Option<Session>> {
        sqlx::query("SELECT * FROM sessions WHERE id_hash = ? AND expires_at > ?")
            .bind(id_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(db("reading a session"))?
            .as_ref()
            .map(session_from_row)
            .transpose()
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = ?")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(db("deleting a session"))?;
        Ok(())
    }

    async fn purge_sessions(&self, now: UnixTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= ?")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db("purging sessions"))?;
        Ok(done.rows_affected())
    }
}
