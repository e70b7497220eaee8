//! Two instances of our server on one PostgreSQL database (as behind a load balancer) refresh a
//! grant's upstream tokens once between them: token exchanges at both at the same moment, after
//! the kept upstream token expired, make one refresh at the provider (node-oidc-provider counts
//! them); the others wait for it and take its token. A provider that rotates refresh tokens
//! would see a second use of the same one as theft.

use crate::common::TestServer;
use crate::idp::{Browser, Idp};
use crate::upstream::{block, code_of, exchange, exchange_client, sign_in, wall_clock};
use mcp_oauth_core::token::grant_type::TOKEN_EXCHANGE;
use mcp_oauth_server::keys::kek::Kek;
use mcp_oauth_server::store::Store;
use mcp_oauth_server::store::postgres::PostgresStore;
use mcp_oauth_server::store::postgres::test_db::TestDatabase;
use reqwest::StatusCode;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::Ordering;

const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// RFC 8693 at the instance at `base`.
async fn exchange_at(base: &str, secret: &str, token: &str) -> (StatusCode, Value) {
    let r = reqwest::Client::new()
        .post(format!("{base}/token"))
        .basic_auth("mcp-server", Some(secret))
        .form(&[
            ("grant_type", TOKEN_EXCHANGE),
            ("subject_token", token),
            ("subject_token_type", ACCESS_TOKEN_TYPE),
            ("audience", "corp"),
        ])
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_refresh_a_grants_upstream_tokens_once() {
    let Some(db) = TestDatabase::create("two_instances_refresh_upstream_once").await else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(db.url()).await.unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    // A slow token endpoint: the instances' refreshes would overlap without the lease.
    let Some(idp) = Idp::start_with(
        &[format!("{base}/upstream/corp/callback")],
        &[("IDP_TOKEN_DELAY_MS", "700")],
    ) else {
        return;
    };
    let mut corp = block("corp", "Corp", &idp.issuer);
    corp.scopes = Some(
        ["openid", "email", "profile", "offline_access"]
            .map(String::from)
            .to_vec(),
    );
    let kek = Kek::generate().unwrap();
    let same_kek = Kek::from_base64url(&kek.to_base64url()).unwrap();
    let a = TestServer::start_on_store(
        listener,
        wall_clock(),
        store.clone(),
        kek,
        |c| {
            c.access_token_ttl = 7_200;
            c.upstream = vec![corp];
        },
        tempfile::tempdir().unwrap(),
    )
    .await;
    let (b, b_task) = a.replica(store.clone(), same_kek).await;
    let secret = exchange_client(&a).await;

    let code = code_of(&sign_in(&a, &idp, &Browser::new(), "Corp", "ann").await);
    let tokens: Value = a.exchange(&code).await.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, first) = exchange(&a, "mcp-server", &secret, &access, "corp").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(idp.refreshes.load(Ordering::SeqCst), 0, "fresh: no refresh");

    // The kept upstream token expires (its expiry is a column outside the seal).
    let gid = crate::common::claims(&access)["gid"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut kept = store
        .get_grant_upstream_tokens(&gid)
        .await
        .unwrap()
        .unwrap();
    kept.expires_at = Some(0);
    assert!(store.update_grant_upstream_tokens(&kept).await.unwrap());

    // Three exchanges at each instance at once.
    let all = futures::future::join_all((0..6).map(|i| {
        let at = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.clone()
        };
        let (secret, access) = (secret.clone(), access.clone());
        async move { exchange_at(&at, &secret, &access).await }
    }))
    .await;
    let got: std::collections::BTreeSet<String> = all
        .iter()
        .map(|(status, got)| {
            assert_eq!(*status, StatusCode::OK, "{got}");
            got["access_token"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        idp.refreshes.load(Ordering::SeqCst),
        1,
        "one refresh at the provider for both instances"
    );
    assert_eq!(got.len(), 1, "every exchange got the refreshed token");
    assert_ne!(
        got.first().unwrap(),
        first["access_token"].as_str().unwrap()
    );
    b_task.abort();
}
