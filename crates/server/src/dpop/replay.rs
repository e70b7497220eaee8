//! Single use of DPoP proof `jti`s (RFC 9449 §11.1), across every instance of the server.
//!
//! Behind [`ProofReplay`] so that a deployment may put it elsewhere (Redis, say) without touching
//! the check. [`StoreReplay`] keeps the ids in the database, in the table of used client
//! assertion ids (one atomic upsert per proof; expired rows are purged with them), under the
//! key's thumbprint in a namespace no client id can take (client ids never contain a space).

use crate::store::{AssertionStore, StoreResult};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;
use std::sync::Arc;

/// Where used proof ids are remembered.
#[async_trait]
pub trait ProofReplay: Send + Sync {
    /// Records that the key `jkt` used the proof `jti`, to be remembered until `until`.
    /// `false` when it was used before and is still remembered: a replay.
    async fn first_use(
        &self,
        jkt: &str,
        jti: &str,
        until: UnixTime,
        now: UnixTime,
    ) -> StoreResult<bool>;
}

/// The namespace of proof ids in the used-assertions table.
const NAMESPACE: &str = "dpop jkt ";

/// [`ProofReplay`] in the server's store.
pub struct StoreReplay<S: ?Sized>(pub Arc<S>);

#[async_trait]
impl<S: AssertionStore + ?Sized> ProofReplay for StoreReplay<S> {
    async fn first_use(
        &self,
        jkt: &str,
        jti: &str,
        until: UnixTime,
        now: UnixTime,
    ) -> StoreResult<bool> {
        self.0
            .use_jti(&format!("{NAMESPACE}{jkt}"), jti, until, now)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    #[tokio::test]
    async fn a_proof_id_is_used_once_per_key_until_it_expires() {
        let r = StoreReplay(Arc::new(MemoryStore::default()));
        assert!(r.first_use("k1", "j", 100, 0).await.unwrap());
        assert!(!r.first_use("k1", "j", 100, 50).await.unwrap(), "replay");
        assert!(
            r.first_use("k2", "j", 100, 50).await.unwrap(),
            "another key"
        );
        assert!(r.first_use("k1", "j", 200, 100).await.unwrap(), "expired");
    }
}
