//! The memory store has nothing that can fail to answer, and no pool.

use super::MemoryStore;
use crate::store::{HealthStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl HealthStore for MemoryStore {
    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }
}
