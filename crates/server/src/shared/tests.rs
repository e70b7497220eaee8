//! The scripts' semantics on a real Redis (the shared one on 127.0.0.1:6379, under a prefix of
//! each test's own whose keys are deleted at the end; never a flush): GCRA bursts, refill and
//! `Retry-After`; back-off growth, cap and clearing; single use, expiry and the lost-memory mark.
//! Skipped loudly without Redis, failed when `MCP_OAUTH_REQUIRE_REDIS` is set.

use super::backoff::SharedBackoff;
use super::limits::SharedBudget;
use super::replay::RedisSingleUse;
use super::{EPOCH_KEY, Redis};
use crate::config::RedisUrl;
use crate::metrics::RedisMetrics;
use crate::rate_limit::Budget;
use crate::replay::{Outcome, Owner, SingleUse, Use};
use crate::throttle::{LoginBackoff, LoginThrottle};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

const ADDR: &str = "127.0.0.1:6379";

/// A handle under a fresh prefix, deleting its keys when dropped.
struct Scratch {
    redis: Arc<Redis>,
    prefix: String,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(format!("redis://{ADDR}")) else {
            return;
        };
        let Ok(mut c) = client.get_connection_with_timeout(Duration::from_secs(1)) else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut c)
            .unwrap_or_default();
        for k in keys {
            let _: Result<i64, _> = redis::cmd("DEL").arg(k).query(&mut c);
        }
    }
}

fn scratch() -> Option<Scratch> {
    let up =
        std::net::TcpStream::connect_timeout(&ADDR.parse().unwrap(), Duration::from_millis(500))
            .is_ok();
    if !up {
        assert!(
            std::env::var_os("MCP_OAUTH_REQUIRE_REDIS").is_none(),
            "Redis is required (MCP_OAUTH_REQUIRE_REDIS) but none answers at {ADDR}"
        );
        eprintln!(
            "\n!!!!! skipped: no Redis at {ADDR} (MCP_OAUTH_REQUIRE_REDIS=1 to fail instead) !!!!!\n"
        );
        return None;
    }
    let prefix = format!(
        "mcp-oauth-unit:{}:",
        mcp_oauth_core::secret::random_token(9)
    );
    let redis = Redis::new(
        &RedisUrl::new(format!("redis://{ADDR}")),
        None,
        // Generous: these tests check the scripts, not the bound.
        Duration::from_secs(2),
        &prefix,
        RedisMetrics::default(),
    )
    .unwrap();
    Some(Scratch {
        redis: Arc::new(redis),
        prefix,
    })
}

#[tokio::test]
async fn gcra_bursts_then_waits_then_refills() {
    let Some(s) = scratch() else { return };
    let l = SharedBudget::<IpAddr>::new("unit", 3, s.redis.clone());
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    for _ in 0..3 {
        assert_eq!(l.take(&ip, 1000).await, Ok(()));
    }
    assert_eq!(l.take(&ip, 1000).await, Err(20), "one token per 20 s");
    assert_eq!(l.take(&ip, 1010).await, Err(10), "a refusal spends nothing");
    assert_eq!(l.take(&ip, 1020).await, Ok(()));
    assert_eq!(l.take(&ip, 1020).await, Err(20));
    let other: IpAddr = "192.0.2.2".parse().unwrap();
    assert_eq!(l.take(&other, 1020).await, Ok(()), "addresses apart");
    // A full minute refills the whole bucket, and no more.
    for _ in 0..3 {
        assert_eq!(l.take(&ip, 1100).await, Ok(()));
    }
    assert!(l.take(&ip, 1100).await.is_err());
    // IPv6 by /64.
    assert!(l.take(&"2001:db8:1:2::1".parse().unwrap(), 0).await.is_ok());
    let one = SharedBudget::<IpAddr>::new("unit1", 1, s.redis.clone());
    assert!(
        one.take(&"2001:db8:1:2::1".parse().unwrap(), 0)
            .await
            .is_ok()
    );
    assert!(
        one.take(&"2001:db8:1:2::ffff".parse().unwrap(), 0)
            .await
            .is_err()
    );
    assert!(
        one.take(&"2001:db8:1:3::1".parse().unwrap(), 0)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn gcra_with_fractional_intervals_and_client_keys() {
    let Some(s) = scratch() else { return };
    // 7 a minute: 8.571… s per token; the bucket still holds exactly 7.
    let l = SharedBudget::<String>::new("unit7", 7, s.redis.clone());
    for _ in 0..7 {
        assert_eq!(l.take("client-a", 5_000).await, Ok(()));
    }
    assert_eq!(
        l.take("client-a", 5_000).await,
        Err(9),
        "8.57 s, rounded up"
    );
    assert_eq!(l.take("client-b", 5_000).await, Ok(()), "clients apart");
    assert_eq!(l.take("client-a", 5_009).await, Ok(()));
    // Two budgets of one Redis count together: two instances.
    let twin = SharedBudget::<String>::new("unit7", 7, s.redis.clone());
    assert!(
        twin.take("client-a", 5_009).await.is_err(),
        "spent by the other"
    );
}

#[tokio::test]
async fn back_off_grows_caps_and_clears() {
    let Some(s) = scratch() else { return };
    let t = SharedBackoff::new(s.redis.clone(), LoginThrottle::new(2, 10));
    // Another instance: its own local table, the same Redis.
    let other = SharedBackoff::new(s.redis.clone(), LoginThrottle::new(2, 10));
    let keys = vec!["user:alice".to_owned(), "ip:127.0.0.1".to_owned()];
    t.fail(&keys, 100).await;
    other.fail(&keys, 100).await;
    assert_eq!(
        t.check(&keys, 100).await,
        None,
        "free attempts, counted together"
    );
    other.fail(&keys, 100).await;
    assert_eq!(t.check(&keys, 100).await, Some(2));
    t.fail(&keys, 102).await;
    assert_eq!(other.check(&keys, 102).await, Some(4));
    for _ in 0..10 {
        other.fail(&keys, 200).await;
    }
    assert_eq!(t.check(&keys, 200).await, Some(10), "capped");
    assert_eq!(t.check(&keys, 211).await, None);
    other.succeed("user:alice").await;
    assert_eq!(
        t.check(&["user:alice".to_owned()], 200).await,
        None,
        "a success clears the account"
    );
    assert!(
        t.check(&["ip:127.0.0.1".to_owned()], 200).await.is_some(),
        "not the address"
    );
    // Keys expire after their memory (2 × max_backoff past the last failure).
    let key = s.redis.key("bo", b"ip:127.0.0.1");
    let ttl: i64 = s
        .redis
        .run(|mut c| async move { redis::cmd("TTL").arg(key).query_async(&mut c).await })
        .await
        .unwrap();
    assert!((1..=20).contains(&ttl), "{ttl}");
}

fn used<'a>(jti: &'a str, until: i64, earliest: i64) -> Use<'a> {
    Use {
        owner: Owner::DpopProof("jkt1"),
        jti,
        until,
        earliest,
    }
}

#[tokio::test]
async fn ids_are_used_once_and_a_lost_memory_refuses_older_credentials() {
    let Some(s) = scratch() else { return };
    let r = RedisSingleUse(s.redis.clone());
    let now = 1_000;
    assert_eq!(
        r.first_use(used("j1", now + 60, now - 5), now)
            .await
            .unwrap(),
        Outcome::First
    );
    assert_eq!(
        r.first_use(used("j1", now + 60, now - 5), now + 1)
            .await
            .unwrap(),
        Outcome::Replay
    );
    let other = Use {
        owner: Owner::ClientAssertion("jkt1"),
        ..used("j1", now + 60, now - 5)
    };
    assert_eq!(
        r.first_use(other, now).await.unwrap(),
        Outcome::First,
        "another owner"
    );
    // Remembered until `until` (relative to the server clock): a 1 s memory is gone after 1 s.
    assert_eq!(
        r.first_use(used("short", now + 1, now), now).await.unwrap(),
        Outcome::First
    );
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(
        r.first_use(used("short", now + 2, now), now + 1)
            .await
            .unwrap(),
        Outcome::First,
        "expired, so new"
    );
    // Redis loses its data (the mark with it): the memory begins at the next use.
    let epoch = s.redis.named_key(EPOCH_KEY);
    let (first, mark) = (s.redis.key("jti", b"dpop jkt jkt1\0j1"), epoch.clone());
    s.redis
        .run(|mut c| async move {
            redis::cmd("DEL")
                .arg(first)
                .arg(mark)
                .query_async::<i64>(&mut c)
                .await
        })
        .await
        .unwrap();
    let later = now + 10;
    assert_eq!(
        r.first_use(used("j1", now + 60, now - 5), later)
            .await
            .unwrap(),
        Outcome::BeforeMemory,
        "j1 may have been used before: refused although forgotten"
    );
    assert_eq!(
        r.first_use(used("j2", later + 60, later - 5), later)
            .await
            .unwrap(),
        Outcome::BeforeMemory,
        "made just before the loss was noticed"
    );
    assert_eq!(
        r.first_use(used("j3", later + 60, later), later)
            .await
            .unwrap(),
        Outcome::First,
        "made after: accepted"
    );
    let since: i64 = s
        .redis
        .run(|mut c| async move { redis::cmd("GET").arg(epoch).query_async(&mut c).await })
        .await
        .unwrap();
    assert_eq!(since, later);
}

#[tokio::test]
async fn a_first_deployment_accepts_at_once() {
    let Some(s) = scratch() else { return };
    // The first connection marks an absent memory as valid since forever: no refusals at start.
    let r = RedisSingleUse(s.redis.clone());
    assert_eq!(
        r.first_use(used("j", 1_060, 995), 1_000).await.unwrap(),
        Outcome::First
    );
}
