//! The scheduled key rotation's guarded insert, in SQL.

use super::dialect::{Arg, Column, Dialect, SqlBackend};
use super::error::db;
use super::run::Run;
use super::sessions::insert_key_on;
use super::tx::in_tx;
use crate::model::StoredKey;
use crate::store::{KeyRotationStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

/// The name of the transaction lock ([`Dialect::TRANSACTION_LOCK`]) that serialises scheduled
/// rotations across instances ("mcpkeys" in ASCII).
const KEY_ROTATION_LOCK: i64 = 0x006d_6370_6b65_7973;

async fn insert_if_none_since<D: Dialect>(
    tx: &mut D::Connection,
    key: &StoredKey,
    created_after: UnixTime,
) -> StoreResult<bool> {
    // Row locks alone would let two instances both see no recent key (there is no row to lock
    // yet); the transaction lock, released at commit, makes the check and the insert one step
    // across all instances. Where the write transaction holds the whole database from its first
    // statement (SQLite's BEGIN IMMEDIATE), the two cannot interleave anyway.
    if let Some(lock) = D::TRANSACTION_LOCK {
        sqlx::query(lock)
            .arg(KEY_ROTATION_LOCK)
            .run(D::on(tx), "taking the key rotation lock")
            .await?;
    }
    let recent: i64 =
        sqlx::query("SELECT COUNT(*) AS recent FROM signing_keys WHERE created_at > $1")
            .arg(created_after)
            .fetch_one(D::on(tx))
            .await
            .and_then(|row| row.column("recent"))
            .map_err(db("checking recent signing keys"))?;
    if recent > 0 {
        return Ok(false);
    }
    insert_key_on(D::on(tx), key).await?;
    sqlx::query(
        "UPDATE signing_keys SET retires_at = $1 WHERE kid <> $2 \
         AND (retires_at IS NULL OR retires_at > $1)",
    )
    .arg(key.activates_at)
    .arg(key.kid.as_str())
    .run(D::on(tx), "retiring signing keys")
    .await?;
    Ok(true)
}

#[async_trait]
impl<S: SqlBackend<Db = D>, D: Dialect> KeyRotationStore for S {
    async fn insert_key_if_none_since(
        &self,
        key: &StoredKey,
        created_after: UnixTime,
    ) -> StoreResult<bool> {
        in_tx!(self, |tx| insert_if_none_since::<D>(tx, key, created_after))
    }
}
