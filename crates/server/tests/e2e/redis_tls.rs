//! `rediss://`: a `redis-server` of this test alone serving TLS only, with a certificate of a CA
//! made here. With that CA as `redis_ca_file`, two instances share the single use of client
//! assertions through it (and their keys are on it); with another CA, the server's certificate
//! does not verify, and the replay check fails closed (`503`) while the rate limits carry on per
//! instance. The system's trust store never knows these CAs, so the check is the file's.

use crate::redis_support::pings;
use crate::shared_redis::{Pair, error_and_description};
use crate::tls_redis::{Ca, TlsRedis};
use reqwest::StatusCode;
use std::path::Path;

async fn pair(redis: &TlsRedis, ca_file: &Path) -> Pair {
    let ca_file = ca_file.to_owned();
    Pair::start(&redis.url(), "mcp-oauth-tls:", move |c| {
        c.redis_ca_file = Some(ca_file);
    })
    .await
}

#[tokio::test]
async fn two_instances_share_a_tls_redis_whose_ca_is_the_configured_file() {
    let ca = Ca::new("redis test CA");
    let Some(redis) = TlsRedis::start(&ca) else {
        return;
    };
    assert!(
        !pings(&format!("127.0.0.1:{}", redis.port)),
        "no plain RESP on the TLS port"
    );
    let p = pair(&redis, &redis.write("trusted.pem", &ca.pem)).await;
    let assertion = p.assertion();
    assert_eq!(
        p.by_assertion(&p.a.base, &assertion, None).await.status(),
        StatusCode::OK
    );
    let (status, error, description) =
        error_and_description(p.by_assertion(&p.b, &assertion, None).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_client"),
        "{description}"
    );
    assert!(description.contains("already used"), "{description}");
    let keys = redis.keys(&ca.pem, "mcp-oauth-tls:");
    assert!(
        keys.iter().any(|k| k.contains("jti")),
        "the used id is on the TLS Redis: {keys:?}"
    );
}

#[tokio::test]
async fn a_tls_redis_whose_certificate_does_not_chain_to_the_file_is_not_used() {
    let ca = Ca::new("redis test CA");
    let Some(redis) = TlsRedis::start(&ca) else {
        return;
    };
    let other = Ca::new("another CA");
    let p = pair(&redis, &redis.write("other.pem", &other.pem)).await;
    // The replay check cannot decide: refused, never accepted unchecked.
    let (status, error, _) =
        error_and_description(p.by_assertion(&p.a.base, &p.assertion(), None).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable")
    );
    // The limits decide on the instance's own counts: a secret client is served.
    assert_eq!(p.by_secret(&p.a.base).await.status(), StatusCode::OK);
    assert!(
        redis.keys(&ca.pem, "mcp-oauth-tls:").is_empty(),
        "nothing was written over the unverified connection"
    );
}
