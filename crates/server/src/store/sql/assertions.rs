//! Used client assertion ids, in SQL.

use super::dialect::{Arg, Dialect, SqlBackend, write_turn};
use super::run::Run;
use crate::store::{AssertionStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;

#[async_trait]
impl<S: SqlBackend<Db = D>, D: Dialect> AssertionStore for S {
    async fn use_jti(
        &self,
        client_id: &str,
        jti: &str,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> StoreResult<bool> {
        // One statement, so atomic without a transaction: the upsert serialises concurrent
        // inserts of one key (on SQLite, one writer at a time anyway), so exactly one of them
        // inserts or replaces an expired record; a live record changes nothing and affects no row.
        // A write per DPoP token or client assertion: in the write queue where there is one.
        let _turn = write_turn(self).await;
        Ok(sqlx::query(
            "INSERT INTO used_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE used_assertions.expires_at <= $4",
        )
        .arg(client_id)
        .arg(jti)
        .arg(expires_at)
        .arg(now)
        .changed(self.on_pool(), "recording a client assertion")
        .await?
            == 1)
    }
}
