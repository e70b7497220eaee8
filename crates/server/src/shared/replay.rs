//! Single use of `jti`s on Redis: `SET key NX PX` (until the credential's last acceptable moment)
//! in a script that also checks when the
//! memory of used ids began (the epoch mark, [`super::EPOCH_KEY`]). Redis restarted without its
//! data (no AOF), or flushed, has lost the mark with the ids: the first script to notice sets the
//! mark to now, and every credential that could have been used before it (its `earliest`, from
//! `iat`/`nbf`/`exp` and the leeways) is refused as [`Outcome::BeforeMemory`] for the rest of
//! its life; fresh ones are accepted at once. Redis not answering refuses the request
//! ([`ReplayError::Unavailable`]): a replay check fails closed.

use super::{EPOCH_KEY, Redis};
use crate::replay::{Outcome, ReplayError, SingleUse, Use};
use async_trait::async_trait;
use mcp_oauth_core::clock::UnixTime;
use std::sync::Arc;

/// [`SingleUse`] on Redis.
pub(crate) struct RedisSingleUse(pub Arc<Redis>);

#[async_trait]
impl SingleUse for RedisSingleUse {
    async fn first_use(&self, used: Use<'_>, now: UnixTime) -> Result<Outcome, ReplayError> {
        let mut id = used.owner.namespace().into_owned().into_bytes();
        id.push(0);
        id.extend_from_slice(used.jti.as_bytes());
        let key = self.0.key("jti", &id);
        let epoch = self.0.named_key(EPOCH_KEY);
        // Relative to the server clock (`PX`), which decided `until`: Redis's own clock never
        // enters, so the instances' clocks are the only ones that must agree. At least a second.
        let ttl_ms = used.until.saturating_sub(now).max(1).saturating_mul(1000);
        let answer = self
            .0
            .run(|mut c| async move {
                self.0
                    .scripts()
                    .jti
                    .key(key)
                    .key(epoch)
                    .arg(ttl_ms)
                    .arg(used.earliest)
                    .arg(now)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await;
        match answer {
            Ok(1) => Ok(Outcome::First),
            Ok(0) => Ok(Outcome::Replay),
            Ok(_) => Ok(Outcome::BeforeMemory),
            Err(_) => {
                self.0.refused(used.owner.kind());
                Err(ReplayError::Unavailable)
            }
        }
    }
}
