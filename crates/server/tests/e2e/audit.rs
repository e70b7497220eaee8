//! The audit trail: every security decision leaves one event in the database, without secrets.

use crate::common::*;
use mcp_oauth_server::audit::{AuditFilter, AuditKind};
use reqwest::StatusCode;
use serde_json::Value;

async fn kinds(s: &TestServer) -> Vec<AuditKind> {
    let mut v: Vec<_> = s
        .store()
        .list_audit(&AuditFilter::default())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    v.reverse();
    v
}

#[tokio::test]
async fn security_events_are_recorded_without_secrets() {
    let s = TestServer::start().await;
    // A failed login with a known account and one with an unknown one, then the flow.
    let mut b = Browser::new(&s);
    let page = b
        .get(&s.authorize_url(&s.authorize_query("mcp:tools")))
        .await;
    let csrf = page.hidden("csrf_token");
    let aq = page.hidden("authorize_query");
    for (user, pw) in [("alice", "wrong-password-1"), ("hunter2-typed-here", "x")] {
        let p = b
            .post(
                "/login",
                &[
                    ("csrf_token", &csrf),
                    ("authorize_query", &aq),
                    ("username", user),
                    ("password", pw),
                ],
            )
            .await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    }
    let code = s.code("mcp:tools").await;
    let r = s.exchange(&code).await;
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    // Code replay.
    assert_eq!(s.exchange(&code).await.status(), StatusCode::BAD_REQUEST);
    // Refresh reuse on a second grant.
    let t2 = s.tokens("mcp:tools").await;
    let rt = t2["refresh_token"].as_str().unwrap();
    let refresh = |rt: String| {
        let s = &s;
        async move {
            s.post_form(
                "/token",
                &[
                    ("grant_type", "refresh_token"),
                    ("client_id", PUBLIC_CLIENT),
                    ("refresh_token", &rt),
                ],
            )
            .await
            .status()
        }
    };
    assert_eq!(refresh(rt.to_owned()).await, StatusCode::OK);
    s.clock.advance(60);
    assert_eq!(refresh(rt.to_owned()).await, StatusCode::BAD_REQUEST);
    // Revocation of a third grant's refresh token.
    let t3 = s.tokens("mcp:tools").await;
    let r = s
        .post_form(
            "/revoke",
            &[
                ("client_id", PUBLIC_CLIENT),
                ("token", t3["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let kinds = kinds(&s).await;
    for k in [
        AuditKind::LoginFailed,
        AuditKind::LoginSucceeded,
        AuditKind::ConsentGiven,
        AuditKind::CodeReplay,
        AuditKind::RefreshReuse,
        AuditKind::TokenRevoked,
        AuditKind::KeyRotated,
        AuditKind::ClientRegistered,
    ] {
        assert!(kinds.contains(&k), "{k} recorded: {kinds:?}");
    }
    let failed = s
        .store()
        .list_audit(&AuditFilter {
            kind: Some(AuditKind::LoginFailed),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().all(|e| e.ip.as_deref() == Some("127.0.0.1")));
    // Newest first: the unknown account is not named, the known one is, by id.
    assert_eq!(failed[0].user_id, None);
    assert!(failed[1].user_id.is_some());
    let all = serde_json::to_string(&s.store().list_audit(&AuditFilter::default()).await.unwrap())
        .unwrap();
    for secret in [
        "wrong-password-1",
        "hunter2-typed-here",
        "wonderland",
        code.as_str(),
        rt,
        t["access_token"].as_str().unwrap(),
        t["refresh_token"].as_str().unwrap(),
        t3["refresh_token"].as_str().unwrap(),
    ] {
        assert!(!all.contains(secret), "no secret in the audit trail");
    }
    // The retention purge keeps recent events and drops old ones.
    let before = all_len(&s).await;
    s.server.maintain().await;
    assert_eq!(all_len(&s).await, before, "recent events are kept");
    s.clock.advance(s.state.config().audit_retention + 120);
    s.server.maintain().await;
    let cutoff = s.state.now() - s.state.config().audit_retention;
    let left = s.store().list_audit(&AuditFilter::default()).await.unwrap();
    assert!(
        left.iter().all(|e| e.at >= cutoff),
        "events past the retention are purged: {left:?}"
    );
    assert!(left.len() < before);
}

async fn all_len(s: &TestServer) -> usize {
    s.store()
        .list_audit(&AuditFilter::default())
        .await
        .unwrap()
        .len()
}
