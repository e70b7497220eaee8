//! The scheduled key rotation's guarded insert, in PostgreSQL.

use super::{PostgresStore, db, in_tx, to_json};
use crate::model::StoredKey;
use crate::store::{KeyRotationStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;
use sqlx::PgConnection;

/// The transaction-scoped advisory lock that serialises scheduled rotations across instances
/// ("mcpkeys" in ASCII).
pub const KEY_ROTATION_LOCK: i64 = 0x006d_6370_6b65_7973;

async fn insert_if_none_since(
    tx: &mut PgConnection,
    key: &StoredKey,
    created_after: UnixTime,
) -> StoreResult<bool> {
    // READ COMMITTED alone would let two instances both see no recent key; the advisory lock,
    // released at commit, makes the check and the insert one step across all instances.
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(KEY_ROTATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(db("taking the key rotation lock"))?;
    let recent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys WHERE created_at > $1")
        .bind(created_after)
        .fetch_one(&mut *tx)
        .await
        .map_err(db("checking recent signing keys"))?;
    if recent > 0 {
        return Ok(false);
    }
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
    .execute(&mut *tx)
    .await
    .map_err(db("signing key"))?;
    sqlx::query(
        "UPDATE signing_keys SET retires_at = $1 WHERE kid <> $2 \
         AND (retires_at IS NULL OR retires_at > $1)",
    )
    .bind(key.activates_at)
    .bind(key.kid.as_str())
    .execute(&mut *tx)
    .await
    .map_err(db("retiring signing keys"))?;
    Ok(true)
}

#[async_trait]
impl KeyRotationStore for PostgresStore {
    async fn insert_key_if_none_since(
        &self,
        key: &StoredKey,
        created_after: UnixTime,
    ) -> StoreResult<bool> {
        in_tx!(self, |tx| insert_if_none_since(tx, key, created_after))
    }
}
