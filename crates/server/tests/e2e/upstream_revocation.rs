//! Kept upstream tokens are revoked at the provider (RFC 7009, node-oidc-provider) on every
//! path that deletes them here, not only `/revoke`: an authorization code replayed, the user or
//! the client removed (from the CLI: the server's maintenance revokes what they queued), the
//! grant expired and purged. Each is checked at the provider: its userinfo endpoint refuses the
//! upstream access token afterwards.

use crate::common::{PUBLIC_CLIENT, TestServer};
use crate::idp::{Browser, Idp};
use crate::upstream::{code_of, exchange, exchange_client, setup, sign_in, userinfo};
use reqwest::StatusCode;
use serde_json::Value;

/// Our server and the provider, with refresh tokens upstream (`offline_access`) and a
/// resource server's client for token exchange; its secret.
async fn federated() -> Option<(TestServer, Idp, String)> {
    let (srv, idp) = setup(&[("corp", "Corp")], |b| {
        b[0].scopes = Some(
            ["openid", "email", "profile", "offline_access"]
                .map(String::from)
                .to_vec(),
        );
    })
    .await?;
    let secret = exchange_client(&srv).await;
    Some((srv, idp, secret))
}

/// A sign-in of `login` through the provider, redeemed: the code, and the upstream access
/// token the resource server gets by exchange (live at the provider).
async fn signed_in(srv: &TestServer, idp: &Idp, rs_secret: &str, login: &str) -> (String, String) {
    let code = code_of(&sign_in(srv, idp, &Browser::new(), "Corp", login).await);
    let r = srv.exchange(&code).await;
    assert_eq!(r.status(), StatusCode::OK);
    let tokens: Value = r.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let (status, got) = exchange(srv, "mcp-server", rs_secret, access, "corp").await;
    assert_eq!(status, StatusCode::OK, "{got}");
    let upstream = got["access_token"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(idp, &upstream).await.status(), StatusCode::OK);
    (code, upstream)
}

async fn live_at_provider(idp: &Idp, upstream: &str) -> bool {
    match userinfo(idp, upstream).await.status() {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => false,
        other => panic!("userinfo answered {other}"),
    }
}

#[tokio::test]
async fn code_replay_and_removals_revoke_the_kept_tokens_upstream() {
    let Some((srv, idp, rs)) = federated().await else {
        return;
    };
    // A replayed code revokes its grant: the provider hears of it before the answer.
    let (code, upstream) = signed_in(&srv, &idp, &rs, "ann").await;
    let r = srv.exchange(&code).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(!live_at_provider(&idp, &upstream).await, "replay");

    // The user removed from the CLI (another process: only the store): queued there, revoked
    // by the server's next maintenance round.
    let (_, upstream) = signed_in(&srv, &idp, &rs, "bob").await;
    assert!(srv.store().delete_user("corp-bob").await.unwrap());
    assert!(live_at_provider(&idp, &upstream).await, "not yet: queued");
    srv.server.maintain().await;
    assert!(!live_at_provider(&idp, &upstream).await, "user removed");

    // The MCP client removed: the same.
    let (_, upstream) = signed_in(&srv, &idp, &rs, "cat").await;
    assert!(srv.store().delete_client(PUBLIC_CLIENT).await.unwrap());
    srv.server.maintain().await;
    assert!(!live_at_provider(&idp, &upstream).await, "client removed");
    assert!(
        srv.store()
            .take_upstream_revocations(100)
            .await
            .unwrap()
            .is_empty(),
        "nothing left queued"
    );
}

#[tokio::test]
async fn an_expired_grant_purged_is_revoked_upstream() {
    let Some((srv, idp, rs)) = federated().await else {
        return;
    };
    let (_, upstream) = signed_in(&srv, &idp, &rs, "ann").await;
    // Past the grant's lifetime, the purge deletes it and its kept tokens: revoked there too.
    srv.clock.advance(srv.state.config().refresh_family_ttl + 1);
    srv.server.maintain().await;
    assert!(!live_at_provider(&idp, &upstream).await);
}
