//! Consents, signing keys and browser sessions in PostgreSQL.

use super::{PostgresStore, col, db, in_tx, json_col, parse_scope, scope_col, to_json};
use crate::model::{Consent, Session, StoredKey};
use crate::store::{ConsentStore, HealthStore, KeyStore, SessionStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::ScopeSet;
use mcp_oauth_core::clock::UnixTime;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

fn consent_from_row(row: &PgRow) -> StoreResult<Consent> {
    Ok(Consent {
        user_id: col(row, "user_id")?,
        client_id: col(row, "client_id")?,
        resource: col(row, "resource")?,
        scope: scope_col(row, "scope")?,
        updated_at: col(row, "updated_at")?,
    })
}

#[async_trait]
impl ConsentStore for PostgresStore {
    async fn get_consent(
        &self,
        user_id: &str,
        client_id: &str,
        resource: &str,
    ) -> StoreResult<Option<Consent>> {
        sqlx::query(
            "SELECT * FROM consents WHERE user_id = $1 AND client_id = $2 AND resource = $3",
        )
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
        // Read, union, write under the row's lock, so concurrent additions lose nothing.
        in_tx!(self, |tx| add_consent_in(
            tx, user_id, client_id, resource, scope, now
        ))
    }

    async fn revoke_consent(&self, user_id: &str, client_id: &str) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client_id)
            .execute(&self.pool)
            .await
            .map_err(db("revoking consent"))?;
        Ok(done.rows_affected())
    }

    async fn list_consents(&self, user_id: &str) -> StoreResult<Vec<Consent>> {
        sqlx::query(
            "SELECT * FROM consents WHERE user_id = $1 \
             ORDER BY client_id COLLATE \"C\", resource COLLATE \"C\"",
        )
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
    conn: &mut PgConnection,
    user_id: &str,
    client_id: &str,
    resource: &str,
    scope: &ScopeSet,
    now: UnixTime,
) -> StoreResult<()> {
    // Make sure the row exists (an empty placeholder, invisible to others until commit; a
    // concurrent insert of the same key waits for this transaction), then lock it.
    sqlx::query(
        "INSERT INTO consents (user_id, client_id, resource, scope, updated_at) \
         VALUES ($1, $2, $3, '', $4) ON CONFLICT (user_id, client_id, resource) DO NOTHING",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(resource)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db("recording consent"))?;
    let existing: Option<String> = sqlx::query_scalar(
        "SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2 AND resource = $3 \
         FOR UPDATE",
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
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, client_id, resource) \
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

fn key_from_row(row: &PgRow) -> StoreResult<StoredKey> {
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
impl KeyStore for PostgresStore {
    async fn insert_key(&self, key: &StoredKey) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, encrypted_private_key, public_jwk, created_at, \
             activates_at, retires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
        sqlx::query("SELECT * FROM signing_keys ORDER BY created_at, kid COLLATE \"C\"")
            .fetch_all(&self.pool)
            .await
            .map_err(db("listing signing keys"))?
            .iter()
            .map(key_from_row)
            .collect()
    }

    async fn retire_key(&self, kid: &str, retires_at: UnixTime) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE signing_keys SET retires_at = $1 WHERE kid = $2")
            .bind(retires_at)
            .bind(kid)
            .execute(&self.pool)
            .await
            .map_err(db("retiring a signing key"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_key(&self, kid: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM signing_keys WHERE kid = $1")
            .bind(kid)
            .execute(&self.pool)
            .await
            .map_err(db("deleting a signing key"))?;
        Ok(done.rows_affected() > 0)
    }
}

fn session_from_row(row: &PgRow) -> StoreResult<Session> {
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
impl SessionStore for PostgresStore {
    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, auth_time, created_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
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
        sqlx::query("SELECT * FROM sessions WHERE id_hash = $1 AND expires_at > $2")
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
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(db("deleting a session"))?;
        Ok(())
    }

    async fn purge_sessions(&self, now: UnixTime) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(db("purging sessions"))?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl HealthStore for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db("database ping"))?;
        Ok(())
    }

    fn pool_stats(&self) -> Option<(u32, u32)> {
        Some((
            self.pool.size(),
            u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
        ))
    }
}
