//! Client assertion ids (RFC 7523 §3): single use until expiry.

use super::*;

/// Client assertion ids: single use per client until expiry, then replaceable; purged with the
/// other expired records. Runs just before [`purge`], whose first step clears what it leaves.
pub async fn assertions<S: Store>(store: &S) {
    assert!(store.use_jti("as-c1", "j1", 200, 100).await.unwrap());
    assert!(
        !store.use_jti("as-c1", "j1", 200, 100).await.unwrap(),
        "replay"
    );
    assert!(
        !store.use_jti("as-c1", "j1", 900, 199).await.unwrap(),
        "still a replay just before expiry, whatever expiry the replay claims"
    );
    assert!(
        store.use_jti("as-c2", "j1", 200, 100).await.unwrap(),
        "ids are per client"
    );
    assert!(
        store.use_jti("as-c1", "j1", 400, 200).await.unwrap(),
        "an expired record is replaced"
    );
    assert!(
        !store.use_jti("as-c1", "j1", 400, 300).await.unwrap(),
        "with its new expiry"
    );
    // Purging removes expired ids: afterwards the pair is new again even at an earlier time.
    store.purge_expired(400).await.unwrap();
    assert!(store.use_jti("as-c1", "j1", 450, 0).await.unwrap());
    assert!(store.use_jti("as-c2", "j1", 450, 0).await.unwrap());
}

/// Concurrent uses of one client assertion: exactly one succeeds.
pub async fn concurrent_assertions<S: Store>(store: Arc<S>) {
    let outcomes = race(&store, |s, _| async move {
        s.use_jti("ca-client", "ca-jti", 500, 100).await
    })
    .await;
    let firsts = outcomes
        .into_iter()
        .map(|o| o.expect("no backend error"))
        .filter(|first| *first)
        .count();
    assert_eq!(firsts, 1);
}
