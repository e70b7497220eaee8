//! A client secret rotated with an overlap window (issue 16): both secrets work during the
//! window, then only the new one; a rotation without a window ends the old one at once; a client
//! disabled by an administrator gets nothing.

use crate::common::*;
use mcp_oauth_core::clock::Clock;
use mcp_oauth_server::admin;
use reqwest::StatusCode;

async fn status(s: &TestServer, secret: &str) -> StatusCode {
    let form = [
        ("grant_type", "client_credentials"),
        ("resource", s.resource.as_str()),
    ];
    s.post_basic("/token", M2M_CLIENT, secret, &form)
        .await
        .status()
}

#[tokio::test]
async fn both_secrets_work_during_the_overlap_then_only_the_new_one() {
    let s = TestServer::start_with(|c| c.record_cache_ttl_ms = 0).await;
    let old = s.m2m_secret.clone();
    let now = s.clock.now();
    let new = admin::rotate_secret_with_overlap(s.store().as_ref(), M2M_CLIENT, 3600, now)
        .await
        .unwrap();
    assert_eq!(status(&s, &old).await, StatusCode::OK, "old, in the window");
    assert_eq!(status(&s, new.expose()).await, StatusCode::OK, "new");
    s.clock.advance(3600);
    assert_eq!(
        status(&s, &old).await,
        StatusCode::UNAUTHORIZED,
        "old, after"
    );
    assert_eq!(status(&s, new.expose()).await, StatusCode::OK);

    // A second rotation without a window: only the newest works.
    let newest =
        admin::rotate_secret_with_overlap(s.store().as_ref(), M2M_CLIENT, 0, s.clock.now())
            .await
            .unwrap();
    assert_eq!(status(&s, new.expose()).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&s, newest.expose()).await, StatusCode::OK);
    assert!(
        admin::rotate_secret_with_overlap(s.store().as_ref(), M2M_CLIENT, -1, 0)
            .await
            .is_err()
    );

    // Disabled: unknown to the token endpoint; enabled again: back.
    admin::set_client_disabled(s.store().as_ref(), M2M_CLIENT, true, s.clock.now())
        .await
        .unwrap();
    assert_eq!(status(&s, newest.expose()).await, StatusCode::UNAUTHORIZED);
    admin::set_client_disabled(s.store().as_ref(), M2M_CLIENT, false, s.clock.now())
        .await
        .unwrap();
    assert_eq!(status(&s, newest.expose()).await, StatusCode::OK);
}

/// A disabled user: the grant does not refresh, the access token is inactive at introspection,
/// signing in is refused (and the sessions end); enabled again, a new sign-in works, and the
/// refresh token refused meanwhile refreshes (it was not rotated, so it is no reuse).
#[tokio::test]
async fn a_disabled_user_gets_nothing() {
    let s = TestServer::start().await;
    let tokens = s.tokens("mcp:tools").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(s.introspect(&access).await["active"], true);
    admin::set_user_disabled(s.store().as_ref(), "alice", true, s.clock.now())
        .await
        .unwrap();
    assert_eq!(s.introspect(&access).await["active"], false);
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", PUBLIC_CLIENT),
                ("refresh_token", &refresh),
            ],
        )
        .await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::BAD_REQUEST, "invalid_grant".into())
    );
    let mut b = Browser::new(&s);
    let page = b
        .get(&s.authorize_url(&s.authorize_query("mcp:tools")))
        .await;
    let after = b.log_in(&page, "alice", "wonderland").await;
    assert_eq!(
        after.status,
        StatusCode::UNAUTHORIZED,
        "as a wrong password"
    );
    // Long after any retry window.
    s.clock.advance(3_600);
    admin::set_user_disabled(s.store().as_ref(), "alice", false, s.clock.now())
        .await
        .unwrap();
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", PUBLIC_CLIENT),
                ("refresh_token", &refresh),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "the same refresh token again");
    let mut b = Browser::new(&s);
    let page = b
        .get(&s.authorize_url(&s.authorize_query("mcp:tools")))
        .await;
    let after = b.log_in(&page, "alice", "wonderland").await;
    assert!(
        after.status.is_redirection() || after.status == StatusCode::OK,
        "{}",
        after.status
    );
}
