//! [`HealthStore`] of a SQL backend: a ping on a pooled connection, and the pool's gauges.

use super::dialect::{Dialect, SqlBackend};
use super::run::Run;
use crate::store::{HealthStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl<S: SqlBackend<Db = D>, D: Dialect> HealthStore for S {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .run(self.on_pool(), "database ping")
            .await
    }

    fn pool_stats(&self) -> Option<(u32, u32)> {
        let p = self.pool();
        Some((p.size(), u32::try_from(p.num_idle()).unwrap_or(u32::MAX)))
    }
}
