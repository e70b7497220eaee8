//! Two instances on one database sharing a Redis (`redis_url`): a login back-off earned at one
//! holds at the other, a rate limit spent at one is spent at the other, and a client assertion or
//! a DPoP proof used at one is refused at the other. Without Redis, each instance counts alone
//! (the last test shows the difference).

use crate::common::*;
use crate::redis_support::SharedRedis;
use mcp_oauth_core::clock::Clock;
use mcp_oauth_core::dpop::{self, NewProof};
use mcp_oauth_core::jose::{Algorithm, SigningKey};
use mcp_oauth_core::secret::random_token;
use mcp_oauth_server::ServerConfig;
use mcp_oauth_server::admin::{self, NewClient};
use mcp_oauth_server::keys::kek::Kek;
use mcp_oauth_server::store::Store;
use mcp_oauth_server::store::sqlite::SqliteStore;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;

pub const JWT_CLIENT: &str = "jwt-machine";
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Instance A (a `TestServer`) and the address of instance B, on one SQLite database and one
/// Redis, with `tune` applied to their shared configuration.
pub struct Pair {
    pub a: TestServer,
    pub b: String,
    pub key: SigningKey,
    b_task: tokio::task::JoinHandle<()>,
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.b_task.abort();
    }
}

impl Pair {
    pub async fn start(
        redis_url: &str,
        prefix: &str,
        tune: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("db.sqlite"))
                .await
                .unwrap(),
        );
        let kek = Kek::generate().unwrap();
        let same_kek = Kek::from_base64url(&kek.to_base64url()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (url, prefix) = (redis_url.to_owned(), prefix.to_owned());
        let a = TestServer::start_on_store(
            listener,
            1_800_000_000,
            store.clone(),
            kek,
            move |c| {
                c.redis_url = mcp_oauth_server::config::RedisUrl::new(url);
                c.redis_key_prefix = prefix;
                tune(c);
            },
            dir,
        )
        .await;
        let (b, b_task) = a.replica(store, same_kek).await;
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        admin::add_client(
            a.store().as_ref(),
            NewClient {
                name: "JWT machine".into(),
                grant_types: vec!["client_credentials".into()],
                client_id: Some(JWT_CLIENT.into()),
                jwks: Some(json!({ "keys": [key.public_jwk()] })),
                scope: Some(mcp_oauth_core::ScopeSet::parse("mcp:tools").unwrap()),
                ..Default::default()
            },
            a.clock.now(),
        )
        .await
        .unwrap();
        Self { a, b, key, b_task }
    }

    /// A fresh client assertion of [`JWT_CLIENT`] at the servers' time.
    pub fn assertion(&self) -> String {
        let now = self.a.clock.now();
        self.key
            .sign(
                "JWT",
                &json!({
                    "iss": JWT_CLIENT, "sub": JWT_CLIENT, "aud": self.a.base,
                    "iat": now, "exp": now + 60, "jti": random_token(12)
                }),
            )
            .unwrap()
    }

    /// A fresh DPoP proof of `key` for the token endpoint (the issuer's, whichever instance it is
    /// sent to).
    pub fn proof(&self, key: &SigningKey) -> String {
        dpop::sign(
            key,
            &NewProof {
                method: "POST",
                url: &self.a.url("/token"),
                iat: self.a.clock.now(),
                jti: &random_token(16),
                access_token: None,
                nonce: None,
            },
        )
        .unwrap()
    }

    /// A client-credentials request at `base` with `assertion`, and a DPoP header when given.
    pub async fn by_assertion(
        &self,
        base: &str,
        assertion: &str,
        proof: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self.a.http.post(format!("{base}/token")).form(&[
            ("grant_type", "client_credentials"),
            ("resource", self.a.resource.as_str()),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ]);
        if let Some(p) = proof {
            req = req.header("DPoP", p);
        }
        req.send().await.unwrap()
    }

    /// A client-credentials request of the secret client at `base`.
    pub async fn by_secret(&self, base: &str) -> reqwest::Response {
        self.a
            .http
            .post(format!("{base}/token"))
            .basic_auth(M2M_CLIENT, Some(&self.a.m2m_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", self.a.resource.as_str()),
            ])
            .send()
            .await
            .unwrap()
    }
}

pub async fn error_and_description(r: reqwest::Response) -> (StatusCode, String, String) {
    let status = r.status();
    let v: Value = r.json().await.unwrap();
    (
        status,
        v["error"].as_str().unwrap_or_default().to_owned(),
        v["error_description"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn a_login_back_off_earned_at_one_instance_holds_at_the_other() {
    let Some(redis) = SharedRedis::get() else {
        return;
    };
    let p = Pair::start(&redis.url, &redis.prefix, |c| c.login_free_attempts = 2).await;
    let s = &p.a;
    let mut browser = Browser::new(s);
    let page = browser
        .get(&s.authorize_url(&s.authorize_query("mcp:tools")))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    // Two free failures and a third that starts the back-off, all at A.
    for _ in 0..3 {
        let failed = browser.log_in(&page, "alice", "not-her-password").await;
        assert_eq!(failed.status, StatusCode::UNAUTHORIZED, "{}", failed.body);
    }
    // At B (the session and its CSRF token are in the shared database): held back, even with the
    // right password.
    let form = [
        ("csrf_token", page.hidden("csrf_token")),
        ("authorize_query", page.hidden("authorize_query")),
        ("username", "alice".to_owned()),
        ("password", "wonderland".to_owned()),
    ];
    let at_b = |form: [(&'static str, String); 4]| {
        let req = s
            .http
            .post(format!("{}/login", p.b))
            .header("cookie", browser.cookie.clone().unwrap())
            .form(&form);
        async move { req.send().await.unwrap() }
    };
    let r = at_b(form.clone()).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        r.headers()["retry-after"],
        "2",
        "2 s after the first failure past the free ones"
    );
    assert!(r.text().await.unwrap().contains("Too many failed attempts"));
    // Once the back-off has run out, the right password works at B.
    s.clock.advance(2);
    let r = at_b(form.clone()).await;
    let status = r.status();
    let body = r.text().await.unwrap();
    assert!(
        status.is_success() || status.is_redirection(),
        "signed in at B: {status} {body}"
    );
    assert!(
        !body.contains("Too many") && !body.contains("incorrect"),
        "{body}"
    );
    assert!(redis.keys() > 0, "the counts live under this test's prefix");
}

#[tokio::test]
async fn a_rate_limit_spent_at_one_instance_is_spent_at_the_other() {
    let Some(redis) = SharedRedis::get() else {
        return;
    };
    let p = Pair::start(&redis.url, &redis.prefix, |c| {
        c.token_rate_limit_per_client = 3;
        c.token_rate_limit_per_ip = 5;
    })
    .await;
    assert_eq!(p.by_secret(&p.a.base).await.status(), StatusCode::OK);
    assert_eq!(p.by_secret(&p.a.base).await.status(), StatusCode::OK);
    assert_eq!(p.by_secret(&p.b).await.status(), StatusCode::OK);
    for base in [&p.b, &p.a.base] {
        let r = p.by_secret(base).await;
        assert_eq!(
            r.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "per client, at {base}"
        );
        assert_eq!(r.headers()["retry-after"], "20", "one token per 20 s");
        let (_, error, _) = error_and_description(r).await;
        assert_eq!(error, "slow_down");
    }
    // The address's budget (5) was spent by the five requests above, at both instances.
    let r = p.by_assertion(&p.b, &p.assertion(), None).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "per address, before authentication"
    );
    // Refilled on the servers' clock, for both.
    p.a.clock.advance(60);
    assert_eq!(p.by_secret(&p.b).await.status(), StatusCode::OK);
    assert_eq!(p.by_secret(&p.a.base).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_client_assertion_used_at_one_instance_is_refused_at_the_other() {
    let Some(redis) = SharedRedis::get() else {
        return;
    };
    let p = Pair::start(&redis.url, &redis.prefix, |_| {}).await;
    let assertion = p.assertion();
    let r = p.by_assertion(&p.a.base, &assertion, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let (status, error, description) =
        error_and_description(p.by_assertion(&p.b, &assertion, None).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    assert!(description.contains("already used"), "{description}");
    let (status, ..) =
        error_and_description(p.by_assertion(&p.a.base, &assertion, None).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "and at A again");
    // A fresh one works at B.
    assert_eq!(
        p.by_assertion(&p.b, &p.assertion(), None).await.status(),
        StatusCode::OK
    );
    // Nothing of it is in the database's table: the ids live on Redis.
    assert!(
        p.a.store()
            .use_jti(
                JWT_CLIENT,
                "never-used",
                p.a.clock.now() + 60,
                p.a.clock.now()
            )
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_dpop_proof_used_at_one_instance_is_refused_at_the_other() {
    let Some(redis) = SharedRedis::get() else {
        return;
    };
    let p = Pair::start(&redis.url, &redis.prefix, |_| {}).await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let proof = p.proof(&key);
    let r = p
        .by_assertion(&p.a.base, &p.assertion(), Some(&proof))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let (status, error, description) =
        error_and_description(p.by_assertion(&p.b, &p.assertion(), Some(&proof)).await).await;
    assert_eq!(
        (status, error.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_dpop_proof")
    );
    assert!(description.contains("already used"), "{description}");
    let fresh = p.proof(&key);
    assert_eq!(
        p.by_assertion(&p.b, &p.assertion(), Some(&fresh))
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn without_redis_each_instance_counts_alone() {
    // The same two instances without `redis_url`: the per-client budget is each instance's.
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("db.sqlite"))
            .await
            .unwrap(),
    );
    let kek = Kek::generate().unwrap();
    let same_kek = Kek::from_base64url(&kek.to_base64url()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = TestServer::start_on_store(
        listener,
        1_800_000_000,
        store.clone(),
        kek,
        |c| c.token_rate_limit_per_client = 1,
        dir,
    )
    .await;
    let (b, task) = a.replica(store, same_kek).await;
    let cc = |base: String| {
        a.http
            .post(format!("{base}/token"))
            .basic_auth(M2M_CLIENT, Some(&a.m2m_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", a.resource.as_str()),
            ])
            .send()
    };
    assert_eq!(cc(a.base.clone()).await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        cc(a.base.clone()).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        cc(b.clone()).await.unwrap().status(),
        StatusCode::OK,
        "B has its own budget"
    );
    task.abort();
}
