//! Revocation (RFC 7009) and introspection (RFC 7662).

use crate::common::*;
use mcp_oauth_core::clock::Clock;
use mcp_oauth_server::admin::{self, NewClient};
use reqwest::StatusCode;

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family_and_access_tokens() {
    let s = TestServer::start().await;
    let t = s.tokens("mcp:tools").await;
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    assert_eq!(s.introspect(rt).await["active"], true);
    assert_eq!(s.introspect(rt).await["token_type"], "refresh_token");
    let r = s
        .post_form(
            "/revoke",
            &[
                ("client_id", PUBLIC_CLIENT),
                ("token", rt),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(s.introspect(rt).await, serde_json::json!({"active": false}));
    assert_eq!(s.introspect(at).await, serde_json::json!({"active": false}));
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", PUBLIC_CLIENT),
                ("refresh_token", rt),
            ],
        )
        .await;
    assert_eq!(error_of(r).await.1, "invalid_grant");
}

#[tokio::test]
async fn revoking_an_access_token() {
    let s = TestServer::start().await;
    let t = s.tokens("mcp:tools").await;
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();
    // A wrong hint still finds it.
    let r = s
        .post_form(
            "/revoke",
            &[
                ("client_id", PUBLIC_CLIENT),
                ("token", at),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(s.introspect(at).await["active"], false);
    assert_eq!(
        s.introspect(rt).await["active"],
        true,
        "the family lives on"
    );
}

#[tokio::test]
async fn revocation_edge_cases() {
    let s = TestServer::start().await;
    // Unknown tokens: 200 (RFC 7009 §2.2).
    let r = s
        .post_form(
            "/revoke",
            &[("client_id", PUBLIC_CLIENT), ("token", "no-such-token")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    // Missing token.
    let r = s
        .post_form("/revoke", &[("client_id", PUBLIC_CLIENT)])
        .await;
    assert_eq!(error_of(r).await.1, "invalid_request");
    // Another client's token is not revoked.
    let t = s.tokens("mcp:tools").await;
    let rt = t["refresh_token"].as_str().unwrap();
    let r = s
        .post_basic("/revoke", CONF_CLIENT, &s.conf_secret, &[("token", rt)])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(s.introspect(rt).await["active"], true);
    // Bad client authentication.
    let r = s
        .post_basic("/revoke", CONF_CLIENT, "wrong", &[("token", rt)])
        .await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
}

#[tokio::test]
async fn introspection_requires_a_confidential_client() {
    let s = TestServer::start().await;
    let t = s.tokens("mcp:tools").await;
    let at = t["access_token"].as_str().unwrap();
    let r = s.post_form("/introspect", &[("token", at)]).await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let r = s
        .post_form(
            "/introspect",
            &[("client_id", PUBLIC_CLIENT), ("token", at)],
        )
        .await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let r = s
        .post_basic("/introspect", M2M_CLIENT, "wrong", &[("token", at)])
        .await;
    assert_eq!(error_of(r).await.0, StatusCode::UNAUTHORIZED);
    // Junk, and expired tokens, are just inactive.
    assert_eq!(
        s.introspect("junk").await,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        s.introspect("a.b.c").await,
        serde_json::json!({"active": false})
    );
    s.clock.advance(901);
    assert_eq!(s.introspect(at).await, serde_json::json!({"active": false}));
}

#[tokio::test]
async fn only_resource_servers_introspect_and_only_their_own_tokens() {
    let s = TestServer::start().await;
    let t = s.tokens("mcp:tools").await;
    let at = t["access_token"].as_str().unwrap();
    let rt = t["refresh_token"].as_str().unwrap();

    // A confidential client an administrator did not mark, and one registered anonymously a
    // second ago: authenticated, not allowed.
    let reg = crate::registration::registered(
        &s,
        &serde_json::json!({
            "client_name": "Anonymous",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "token_endpoint_auth_method": "client_secret_basic",
        }),
    )
    .await;
    let (anon_id, anon_secret) = (
        reg["client_id"].as_str().unwrap(),
        reg["client_secret"].as_str().unwrap(),
    );
    for (id, secret) in [
        (M2M_CLIENT, s.m2m_secret.as_str()),
        (CONF_CLIENT, s.conf_secret.as_str()),
        (anon_id, anon_secret),
    ] {
        for token in [at, rt] {
            let r = s
                .post_basic("/introspect", id, secret, &[("token", token)])
                .await;
            assert_eq!(r.headers()["cache-control"], "no-store");
            let (status, error) = error_of(r).await;
            assert_eq!(
                (status, error.as_str()),
                (StatusCode::FORBIDDEN, "unauthorized_client"),
                "{id}"
            );
        }
    }

    // A resource server of another resource learns nothing about this one's tokens.
    let other_rs = admin::add_client(
        s.store().as_ref(),
        NewClient {
            name: "Other RS".into(),
            client_id: Some("other-rs".into()),
            introspect_resources: vec![s.other_resource.clone()],
            ..Default::default()
        },
        s.clock.now(),
    )
    .await
    .unwrap()
    .1
    .unwrap();
    for token in [at, rt] {
        let r = s
            .post_basic(
                "/introspect",
                "other-rs",
                other_rs.expose(),
                &[("token", token)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v, serde_json::json!({"active": false}));
    }
    // The resource's own server sees both.
    assert_eq!(s.introspect(at).await["active"], true);
    assert_eq!(s.introspect(rt).await["active"], true);
}
