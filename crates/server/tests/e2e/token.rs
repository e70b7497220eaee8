//! Client authentication and the client credentials grant.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::Value;

#[tokio::test]
async fn client_credentials_with_basic_and_post() {
    let s = TestServer::start().await;
    let r = s
        .post_basic(
            "/token",
            M2M_CLIENT,
            &s.m2m_secret,
            &[
                ("grant_type", "client_credentials"),
                ("resource", &s.resource),
                ("scope", "mcp:tools"),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let t: Value = r.json().await.unwrap();
    assert!(
        t.get("refresh_token").is_none(),
        "no refresh token for client credentials"
    );
    assert_eq!(t["scope"], "mcp:tools");
    let c = claims(t["access_token"].as_str().unwrap());
    assert_eq!(c["sub"], M2M_CLIENT);
    assert_eq!(c["client_id"], M2M_CLIENT);
    assert_eq!(c["aud"], s.resource);

    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", M2M_CLIENT),
                ("client_secret", &s.m2m_secret),
                ("resource", &s.other_resource),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["aud"],
        s.other_resource
    );
    assert_eq!(
        t["scope"], "other:read",
        "default scope: what the resource offers and the client may have"
    );
    let i = s.introspect(t["access_token"].as_str().unwrap()).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["sub"], M2M_CLIENT);
}

#[tokio::test]
async fn client_authentication_failures() {
    let s = TestServer::start().await;
    let form = [
        ("grant_type", "client_credentials"),
        ("resource", s.resource.as_str()),
    ];
    // Wrong secret by Basic: 401 with a Basic challenge.
    let r = s.post_basic("/token", M2M_CLIENT, "wrong", &form).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic ")
    );
    assert_eq!(error_of(r).await.1, "invalid_client");
    // Unknown client.
    let r = s.post_basic("/token", "nobody", "x", &form).await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    // Wrong secret in the body: 401 without a Basic challenge.
    let r = s
        .post_form(
            "/token",
            &[
                form[0],
                form[1],
                ("client_id", M2M_CLIENT),
                ("client_secret", "wrong"),
            ],
        )
        .await;
    assert!(r.headers().get("www-authenticate").is_none());
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    // Confidential client without credentials.
    let r = s
        .post_form("/token", &[form[0], form[1], ("client_id", M2M_CLIENT)])
        .await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    // No client at all.
    let r = s.post_form("/token", &form).await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    // Two methods at once.
    let r = s
        .post_basic(
            "/token",
            M2M_CLIENT,
            &s.m2m_secret,
            &[form[0], form[1], ("client_secret", &s.m2m_secret)],
        )
        .await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into())
    );
    // Malformed Basic header.
    let r = s
        .http
        .post(s.url("/token"))
        .header("authorization", "Basic !!!")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic ")
    );
    // A public client cannot use client credentials.
    let r = s
        .post_form("/token", &[form[0], form[1], ("client_id", PUBLIC_CLIENT)])
        .await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::BAD_REQUEST, "unauthorized_client".into())
    );
    // Client assertions are not accepted for these clients.
    let r = s
        .post_form(
            "/token",
            &[
                form[0],
                form[1],
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", "a.b.c"),
            ],
        )
        .await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
}

#[tokio::test]
async fn rotated_secret_replaces_the_old_one() {
    let s = TestServer::start().await;
    let new = mcp_oauth_server::admin::rotate_secret(s.store().as_ref(), M2M_CLIENT)
        .await
        .unwrap();
    let form = [
        ("grant_type", "client_credentials"),
        ("resource", s.resource.as_str()),
    ];
    let r = s
        .post_basic("/token", M2M_CLIENT, &s.m2m_secret, &form)
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = s
        .post_basic("/token", M2M_CLIENT, new.expose(), &form)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

/// The status of a client-credentials request by the M2M client with `secret`.
async fn m2m_token_status(s: &TestServer, secret: &str) -> StatusCode {
    let form = [
        ("grant_type", "client_credentials"),
        ("resource", s.resource.as_str()),
    ];
    s.post_basic("/token", M2M_CLIENT, secret, &form)
        .await
        .status()
}

/// A client changed by another process (here: straight in the store, as `mcp-oauth clients
/// rotate-secret` does) is seen once the record cache's copy expires, and not before.
#[tokio::test]
async fn a_change_made_elsewhere_takes_effect_within_the_record_cache_ttl() {
    let s = TestServer::start_with(|c| c.record_cache_ttl_ms = 400).await;
    assert_eq!(m2m_token_status(&s, &s.m2m_secret).await, StatusCode::OK);
    let rotated_at = std::time::Instant::now();
    let new = mcp_oauth_server::admin::rotate_secret(s.store().as_ref(), M2M_CLIENT)
        .await
        .unwrap();
    // The cached copy still holds the old secret for the rest of its 400 ms...
    assert_eq!(m2m_token_status(&s, &s.m2m_secret).await, StatusCode::OK);
    assert!(rotated_at.elapsed() < std::time::Duration::from_millis(400));
    // ...and then the store's record is read again.
    tokio::time::sleep(std::time::Duration::from_millis(450)).await;
    assert_eq!(
        m2m_token_status(&s, &s.m2m_secret).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(m2m_token_status(&s, new.expose()).await, StatusCode::OK);

    // With the cache off, the change is seen by the next request.
    let s = TestServer::start_with(|c| c.record_cache_ttl_ms = 0).await;
    assert_eq!(m2m_token_status(&s, &s.m2m_secret).await, StatusCode::OK);
    mcp_oauth_server::admin::rotate_secret(s.store().as_ref(), M2M_CLIENT)
        .await
        .unwrap();
    assert_eq!(
        m2m_token_status(&s, &s.m2m_secret).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn confidential_code_flow_with_basic_auth() {
    let s = TestServer::start().await;
    let mut q = s.authorize_query("mcp:tools");
    q[1].1 = CONF_CLIENT.into();
    q[2].1 = CONF_REDIRECT.into();
    let loc = s.browser_authorize(&q, "bob", "builder").await;
    assert!(loc.starts_with(CONF_REDIRECT));
    let code = query_param(&loc, "code").unwrap();
    // Without authentication the confidential client's code is refused.
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", CONF_CLIENT),
                ("code", &code),
                ("redirect_uri", CONF_REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(error_of(r).await.1, "invalid_client");
    let r = s
        .post_basic(
            "/token",
            CONF_CLIENT,
            &s.conf_secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CONF_REDIRECT),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "code not spent by the unauthenticated attempt"
    );
    let t: Value = r.json().await.unwrap();
    assert_eq!(
        claims(t["access_token"].as_str().unwrap())["aud"],
        s.resource,
        "the only resource... is the one requested"
    );
}
