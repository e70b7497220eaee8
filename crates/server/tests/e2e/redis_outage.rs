//! Redis stopped and started under load, and a Redis that never answers. A private
//! `redis-server` (its own port, no persistence) is killed while two instances take concurrent
//! token requests with client assertions and DPoP proofs, each sent to both instances at once:
//! while it is down, replay-protected requests are refused cleanly (`503 temporarily_unavailable`
//! with `Retry-After`, never a 500, never an acceptance) and the rate limits decide per instance
//! (the fallback metric counts it); started again on the same port (its data lost), it is used
//! again without a restart of the servers, credentials from before the loss are refused, and
//! across the run no credential is accepted twice and no acknowledged refresh rotation is lost.

use crate::common::*;
use crate::redis_support::{OwnRedis, SilentListener, metric};
use crate::shared_redis::{Pair, error_and_description};
use mcp_oauth_core::dpop::{self, NewProof};
use mcp_oauth_core::jose::{Algorithm, SigningKey};
use mcp_oauth_core::secret::random_token;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// What the run saw.
#[derive(Default)]
struct Ledger {
    /// Acceptances per credential (assertion + proof pair).
    accepted: HashMap<String, u32>,
    /// Access tokens issued.
    tokens: Vec<String>,
    /// Credentials accepted before Redis lost its data.
    before_loss: Vec<(String, String)>,
    refused_unavailable: u32,
    /// Whether Redis still has the data of the first phase (credentials go to `before_loss`).
    first_phase: bool,
}

/// One answer to a replay-protected request: accepted, or refused in the RFC's shape.
async fn judge(r: reqwest::Response, ledger: &mut Ledger, credential: &str) -> bool {
    let status = r.status();
    assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "never a 500");
    if status == StatusCode::OK {
        let body: Value = r.json().await.unwrap();
        ledger
            .tokens
            .push(body["access_token"].as_str().unwrap().to_owned());
        *ledger.accepted.entry(credential.to_owned()).or_default() += 1;
        return true;
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        assert_eq!(r.headers()["retry-after"], "1");
        let (_, error, _) = error_and_description(r).await;
        assert_eq!(error, "temporarily_unavailable");
        ledger.refused_unavailable += 1;
        return false;
    }
    let (status, error, description) = error_and_description(r).await;
    assert!(
        matches!(error.as_str(), "invalid_client" | "invalid_dpop_proof"),
        "{status} {error} {description}"
    );
    false
}

/// Four credentials, each sent to both instances at once; the secret client at both; the
/// refresh chain one step. Returns how many credentials were accepted.
async fn round(
    p: &Pair,
    dpop_key: &SigningKey,
    ledger: &mut Ledger,
    chain: &mut Chain,
    up: bool,
) -> usize {
    let mut accepted = 0;
    let pairs: Vec<(String, String)> = (0..4).map(|_| (p.assertion(), p.proof(dpop_key))).collect();
    let sends = pairs.iter().map(|(a, d)| async move {
        let (x, y) = tokio::join!(
            p.by_assertion(&p.a.base, a, Some(d)),
            p.by_assertion(&p.b, a, Some(d))
        );
        (format!("{a}|{d}"), x, y)
    });
    for (credential, x, y) in futures::future::join_all(sends).await {
        let ok_x = judge(x, ledger, &credential).await;
        let ok_y = judge(y, ledger, &credential).await;
        assert!(!(ok_x && ok_y), "one credential accepted at both instances");
        if ok_x || ok_y {
            accepted += 1;
        }
        if !up {
            assert!(!ok_x && !ok_y, "accepted while Redis was down");
        }
    }
    if ledger.first_phase {
        ledger.before_loss.extend(pairs);
    }
    // Without a jti, a token request needs no Redis: the per-instance limits decide.
    assert_eq!(p.by_secret(&p.a.base).await.status(), StatusCode::OK);
    assert_eq!(p.by_secret(&p.b).await.status(), StatusCode::OK);
    chain.step(p, dpop_key).await;
    accepted
}

/// A DPoP-bound refresh-token chain of the public client, rotated at alternating instances.
struct Chain {
    refresh_token: String,
    rotations: u32,
    at_b: bool,
}

impl Chain {
    async fn start(p: &Pair, key: &SigningKey) -> Self {
        let code = p.a.code("mcp:tools").await;
        let r =
            p.a.http
                .post(p.a.url("/token"))
                .header("DPoP", p.proof(key))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("client_id", PUBLIC_CLIENT),
                    ("code", &code),
                    ("redirect_uri", PUBLIC_REDIRECT),
                    ("code_verifier", VERIFIER),
                    ("resource", &p.a.resource),
                ])
                .send()
                .await
                .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        Self {
            refresh_token: body["refresh_token"].as_str().unwrap().to_owned(),
            rotations: 0,
            at_b: false,
        }
    }

    async fn step(&mut self, p: &Pair, key: &SigningKey) -> StatusCode {
        let base = if self.at_b {
            p.b.clone()
        } else {
            p.a.base.clone()
        };
        self.at_b = !self.at_b;
        let r =
            p.a.http
                .post(format!("{base}/token"))
                .header("DPoP", p.proof(key))
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", PUBLIC_CLIENT),
                    ("refresh_token", &self.refresh_token),
                ])
                .send()
                .await
                .unwrap();
        let status = r.status();
        match status {
            StatusCode::OK => {
                let body: Value = r.json().await.unwrap();
                self.refresh_token = body["refresh_token"].as_str().unwrap().to_owned();
                self.rotations += 1;
            }
            // Refused before the grant ran: the refresh token is untouched.
            StatusCode::SERVICE_UNAVAILABLE => {
                let (_, error, _) = error_and_description(r).await;
                assert_eq!(error, "temporarily_unavailable");
            }
            // A proof made before Redis lost its data.
            StatusCode::BAD_REQUEST => {
                let (_, error, d) = error_and_description(r).await;
                assert_eq!(error, "invalid_dpop_proof", "{d}");
            }
            other => panic!("refresh answered {other}"),
        }
        status
    }
}

#[tokio::test]
async fn redis_stopped_and_started_under_load() {
    let Some(mut own) = OwnRedis::start() else {
        return;
    };
    let p = Pair::start(&own.url(), "outage:", |c| {
        c.token_rate_limit_per_ip = 100_000;
        c.token_rate_limit_per_client = 100_000;
    })
    .await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let mut ledger = Ledger {
        first_phase: true,
        ..Ledger::default()
    };
    let mut chain = Chain::start(&p, &key).await;

    // Up: every credential accepted once.
    for _ in 0..5 {
        assert_eq!(round(&p, &key, &mut ledger, &mut chain, true).await, 4);
    }
    let rotations_up = chain.rotations;
    assert_eq!(rotations_up, 5);
    assert_eq!(
        metric(&p.a.http, &p.a.base, "mcp_oauth_redis_up").await,
        1.0
    );

    // Down: replay-protected requests refused, the rest served on the per-instance limits.
    own.kill();
    ledger.first_phase = false;
    for _ in 0..5 {
        assert_eq!(round(&p, &key, &mut ledger, &mut chain, false).await, 0);
    }
    assert_eq!(
        chain.rotations, rotations_up,
        "no rotation while the proofs cannot be checked"
    );
    assert!(
        ledger.refused_unavailable >= 40,
        "{}",
        ledger.refused_unavailable
    );
    for base in [&p.a.base, &p.b] {
        assert_eq!(metric(&p.a.http, base, "mcp_oauth_redis_up").await, 0.0);
        let fallbacks = metric(
            &p.a.http,
            base,
            "mcp_oauth_redis_fallbacks_total{limiter=\"token_ip\"}",
        )
        .await;
        assert!(fallbacks > 0.0, "fallbacks counted at {base}");
        assert!(
            metric(
                &p.a.http,
                base,
                "mcp_oauth_redis_replay_refusals_total{store=\"client_assertion\"}"
            )
            .await
                > 0.0
        );
    }

    // Started again on the same port, empty. The servers use it again by themselves.
    own.start_again();
    // The first answer after the loss: Redis's memory of used ids begins now, so a credential
    // that could have been used before (an assertion within its 30 s leeway) is refused.
    // Each instance finds it again by itself (its next probe after the break).
    for base in [&p.a.base, &p.b] {
        let deadline = Instant::now() + Duration::from_secs(20);
        let (status, error, description) = loop {
            let r = p
                .by_assertion(base, &p.assertion(), Some(&p.proof(&key)))
                .await;
            if r.status() != StatusCode::SERVICE_UNAVAILABLE {
                break error_and_description(r).await;
            }
            assert!(
                Instant::now() < deadline,
                "no recovery at {base} after Redis came back"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(
            (status, error.as_str()),
            (StatusCode::UNAUTHORIZED, "invalid_client")
        );
        assert!(
            description.contains("replay cache was emptied"),
            "{description}"
        );
    }
    // Past the leeway, fresh credentials are accepted.
    p.a.clock.advance(31);
    assert_eq!(
        metric(&p.a.http, &p.a.base, "mcp_oauth_redis_up").await,
        1.0
    );
    // Everything accepted before the loss is still refused, at both instances, although Redis
    // forgot it: its memory began after they could first be used.
    for (a, d) in ledger.before_loss.clone() {
        for base in [&p.a.base, &p.b] {
            let r = p.by_assertion(base, &a, Some(&d)).await;
            let (status, error, description) = error_and_description(r).await;
            assert_eq!(
                (status, error.as_str()),
                (StatusCode::UNAUTHORIZED, "invalid_client")
            );
            assert!(
                description.contains("replay cache was emptied"),
                "{description}"
            );
        }
    }
    // Up again: fresh credentials accepted once, the chain rotates again.
    for _ in 0..5 {
        assert_eq!(round(&p, &key, &mut ledger, &mut chain, true).await, 4);
    }
    assert_eq!(chain.rotations, rotations_up + 5);

    // Nothing accepted twice; every acknowledged token and the last refresh token still good.
    assert!(ledger.accepted.values().all(|n| *n == 1));
    assert_eq!(ledger.accepted.len(), 5 * 4 + 5 * 4);
    for t in &ledger.tokens {
        assert_eq!(p.a.introspect(t).await["active"], true);
    }
    assert_eq!(chain.step(&p, &key).await, StatusCode::OK);
}

#[tokio::test]
async fn a_redis_that_never_answers_costs_a_request_the_timeout_at_most() {
    let silent = SilentListener::start().await;
    let p = Pair::start(
        &format!("redis://127.0.0.1:{}", silent.port),
        "silent:",
        |c| {
            c.redis_timeout_ms = 50;
            c.login_free_attempts = 1;
        },
    )
    .await;
    // Bounded: Redis's own answer would never come; 50 ms and a wide margin for this machine.
    let bound = Duration::from_secs(2);
    let t = Instant::now();
    assert_eq!(
        p.by_secret(&p.a.base).await.status(),
        StatusCode::OK,
        "the limits fall back"
    );
    assert!(t.elapsed() < bound, "{:?}", t.elapsed());
    let t = Instant::now();
    let r = p.by_assertion(&p.b, &p.assertion(), None).await;
    assert!(t.elapsed() < bound, "{:?}", t.elapsed());
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "1");
    let (_, error, _) = error_and_description(r).await;
    assert_eq!(error, "temporarily_unavailable");
    // A proof is refused the same way.
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let proof = dpop::sign(
        &key,
        &NewProof {
            method: "POST",
            url: &p.a.url("/token"),
            iat: p.a.state.now(),
            jti: &random_token(16),
            access_token: None,
            nonce: None,
        },
    )
    .unwrap();
    let r =
        p.a.http
            .post(p.a.url("/token"))
            .basic_auth(M2M_CLIENT, Some(&p.a.m2m_secret))
            .header("DPoP", proof)
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", p.a.resource.as_str()),
            ])
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    // The login back-off holds on this instance's own counts.
    let s = &p.a;
    let mut browser = Browser::new(s);
    let page = browser
        .get(&s.authorize_url(&s.authorize_query("mcp:tools")))
        .await;
    for expected in [
        StatusCode::UNAUTHORIZED,
        StatusCode::UNAUTHORIZED,
        StatusCode::TOO_MANY_REQUESTS,
    ] {
        let t = Instant::now();
        let r = browser.log_in(&page, "alice", "wrong").await;
        assert_eq!(r.status, expected);
        assert!(
            t.elapsed() < bound + Duration::from_secs(2),
            "Argon2id and the bound: {:?}",
            t.elapsed()
        );
    }
    assert_eq!(metric(&s.http, &s.base, "mcp_oauth_redis_up").await, 0.0);
    assert!(
        metric(
            &s.http,
            &s.base,
            "mcp_oauth_redis_fallbacks_total{limiter=\"login_backoff\"}"
        )
        .await
            > 0.0
    );
}
