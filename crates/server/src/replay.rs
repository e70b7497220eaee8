//! Single use of the `jti`s of client assertions (RFC 7523 §3) and DPoP proofs (RFC 9449 §11.1),
//! behind one trait so that every instance of a deployment can share the memory of them.
//!
//! [`StoreSingleUse`] keeps them in the database's used-assertions table (one atomic upsert per
//! id, purged with the expired rows): shared by every instance on one PostgreSQL database, and
//! what a deployment without Redis uses. [`crate::shared::replay::RedisSingleUse`] keeps them on
//! Redis (`SET NX PXAT`). Either way a check that cannot be made refuses the request: nothing is
//! ever accepted twice because a backend did not answer.

use crate::store::{AssertionStore, StoreError};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;
use std::sync::Arc;

/// What used the id: the kind of credential, and whose it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner<'a> {
    /// A client assertion of the client with this id.
    ClientAssertion(&'a str),
    /// A DPoP proof of the key with this RFC 7638 thumbprint.
    DpopProof(&'a str),
}

/// The namespace of DPoP proof ids in the used-assertions table: no client id contains a space.
const DPOP_NAMESPACE: &str = "dpop jkt ";

impl Owner<'_> {
    /// The namespace the id is remembered under: the client id for assertions (as before DPoP
    /// existed), `dpop jkt <thumbprint>` for proofs.
    pub fn namespace(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Self::ClientAssertion(client_id) => std::borrow::Cow::Borrowed(client_id),
            Self::DpopProof(jkt) => std::borrow::Cow::Owned(format!("{DPOP_NAMESPACE}{jkt}")),
        }
    }

    /// The label of metrics and log lines.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ClientAssertion(_) => "client_assertion",
            Self::DpopProof(_) => "dpop_proof",
        }
    }
}

/// One presented id.
#[derive(Debug, Clone, Copy)]
pub struct Use<'a> {
    /// Whose credential carried it.
    pub owner: Owner<'a>,
    /// The `jti`.
    pub jti: &'a str,
    /// Remembered until then: the last moment the credential could still be accepted.
    pub until: UnixTime,
    /// The first moment the credential could have been accepted (its `iat`, `nbf` and `exp`
    /// less the leeways): a memory that began after it cannot tell whether it was used before.
    pub earliest: UnixTime,
}

/// The answer for one id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Not seen before: recorded now, accept.
    First,
    /// Seen before and still remembered: a replay.
    Replay,
    /// The memory of used ids began after this credential could first be used (Redis lost its
    /// data): it may have been used then, so it is refused; a fresh one is accepted.
    BeforeMemory,
}

/// Why the check could not be made (the request is refused, never accepted).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Redis did not answer in time.
    #[error("the shared replay cache did not answer")]
    Unavailable,
}

/// Where used ids are remembered.
#[async_trait]
pub trait SingleUse: Send + Sync {
    /// Records the use, or says why it must be refused.
    async fn first_use(&self, used: Use<'_>, now: UnixTime) -> Result<Outcome, ReplayError>;
}

/// [`SingleUse`] in the server's store. The database keeps its rows across restarts, so
/// `earliest` never matters here.
pub struct StoreSingleUse<S: ?Sized>(pub Arc<S>);

#[async_trait]
impl<S: AssertionStore + ?Sized> SingleUse for StoreSingleUse<S> {
    async fn first_use(&self, used: Use<'_>, now: UnixTime) -> Result<Outcome, ReplayError> {
        let first = self
            .0
            .use_jti(&used.owner.namespace(), used.jti, used.until, now)
            .await?;
        Ok(if first {
            Outcome::First
        } else {
            Outcome::Replay
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    fn proof<'a>(jkt: &'a str, jti: &'a str, until: UnixTime) -> Use<'a> {
        Use {
            owner: Owner::DpopProof(jkt),
            jti,
            until,
            earliest: 0,
        }
    }

    #[tokio::test]
    async fn an_id_is_used_once_per_owner_until_it_expires() {
        let r = StoreSingleUse(Arc::new(MemoryStore::default()));
        assert_eq!(
            r.first_use(proof("k1", "j", 100), 0).await.unwrap(),
            Outcome::First
        );
        assert_eq!(
            r.first_use(proof("k1", "j", 100), 50).await.unwrap(),
            Outcome::Replay
        );
        assert_eq!(
            r.first_use(proof("k2", "j", 100), 50).await.unwrap(),
            Outcome::First,
            "another key"
        );
        assert_eq!(
            r.first_use(proof("k1", "j", 200), 100).await.unwrap(),
            Outcome::First,
            "expired"
        );
        let assertion = Use {
            owner: Owner::ClientAssertion("k1"),
            jti: "j",
            until: 300,
            earliest: 0,
        };
        assert_eq!(
            r.first_use(assertion, 150).await.unwrap(),
            Outcome::First,
            "a client id is another namespace than a key"
        );
    }

    #[test]
    fn namespaces_keep_the_old_rows() {
        assert_eq!(Owner::ClientAssertion("c1").namespace(), "c1");
        assert_eq!(Owner::DpopProof("abc").namespace(), "dpop jkt abc");
    }
}
