//! The guard with an RFC 7662 introspection verifier against a live endpoint.

use crate::support::*;
use axum::http::StatusCode;
use mcp_oauth_core::secret::Secret;
use mcp_oauth_core::token::{Audience, IntrospectionResponse};
use mcp_oauth_resource::{IntrospectionVerifier, RequireBearerLayer, ScopePolicy};
use std::sync::Arc;

fn active(aud: &str, scope: &str, exp: i64) -> IntrospectionResponse {
    IntrospectionResponse {
        active: true,
        scope: Some(scope.into()),
        client_id: Some("client-1".into()),
        sub: Some("bob".into()),
        exp: Some(exp),
        aud: Some(Audience::One(aud.into())),
        token_type: Some("Bearer".into()),
        ..Default::default()
    }
}

async fn setup(
    issuer: &Issuer,
    secret: &str,
    endpoint: bool,
) -> (Guarded, mcp_oauth_core::clock::TestClock) {
    let clock = test_clock();
    let c = clock.clone();
    let g = guarded(|resource| {
        let mut b = IntrospectionVerifier::builder(
            issuer.url.clone(),
            resource,
            RS_CLIENT,
            Secret::new(secret),
        )
        .insecure_allow_http(true)
        .clock(Arc::new(c));
        if endpoint {
            b = b.endpoint(format!("{}/introspect", issuer.url));
        }
        RequireBearerLayer::builder(resource, b.build().unwrap())
            .policy(ScopePolicy::new().default_scopes("mcp"))
            .build()
            .unwrap()
    })
    .await;
    (g, clock)
}

#[tokio::test]
async fn active_token_passes_and_is_cached_until_exp() {
    let issuer = Issuer::start().await;
    let (g, clock) = setup(&issuer, RS_SECRET, true).await;
    issuer.register_opaque("opaque-1", active(&g.resource, "mcp", NOW + 30));
    let r = rpc(&g.base, Some("opaque-1"), &tools_list()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["subject"], "bob");
    assert_eq!(r.body["issuer"], issuer.url);
    assert_eq!(
        rpc(&g.base, Some("opaque-1"), &tools_list()).await.status,
        StatusCode::OK
    );
    assert_eq!(
        issuer.introspections(),
        1,
        "second request served from the cache"
    );
    clock.advance(30);
    // The cached answer expired with the token; the issuer is asked again (and the token, now
    // past exp but within leeway per the issuer's own answer, is still accepted).
    assert_eq!(
        rpc(&g.base, Some("opaque-1"), &tools_list()).await.status,
        StatusCode::OK
    );
    assert_eq!(issuer.introspections(), 2);
}

#[tokio::test]
async fn inactive_wrong_audience_and_scope() {
    let issuer = Issuer::start().await;
    let (g, clock) = setup(&issuer, RS_SECRET, false).await;
    // Unknown to the issuer: inactive, cached briefly.
    let r = rpc(&g.base, Some("nope"), &tools_list()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error().as_deref(), Some("invalid_token"));
    assert_eq!(
        rpc(&g.base, Some("nope"), &tools_list()).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(issuer.introspections(), 1);
    clock.advance(10);
    assert_eq!(
        rpc(&g.base, Some("nope"), &tools_list()).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(issuer.introspections(), 2);

    issuer.register_opaque(
        "other-aud",
        active("http://127.0.0.1:1/other", "mcp", NOW + 300),
    );
    let r = rpc(&g.base, Some("other-aud"), &tools_list()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.error().as_deref(), Some("invalid_token"));

    issuer.register_opaque(
        "no-aud",
        IntrospectionResponse {
            aud: None,
            ..active(&g.resource, "mcp", NOW + 300)
        },
    );
    assert_eq!(
        rpc(&g.base, Some("no-aud"), &tools_list()).await.status,
        StatusCode::UNAUTHORIZED
    );

    issuer.register_opaque("weak", active(&g.resource, "other", NOW + 300));
    let r = rpc(&g.base, Some("weak"), &tools_list()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.challenge().scope.as_deref(), Some("mcp"));
}

#[tokio::test]
async fn wrong_client_credentials_are_503_not_401() {
    let issuer = Issuer::start().await;
    let (g, _clock) = setup(&issuer, "wrong secret", true).await;
    issuer.register_opaque("opaque-1", active(&g.resource, "mcp", NOW + 300));
    let r = rpc(&g.base, Some("opaque-1"), &tools_list()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["error"], "temporarily_unavailable");
}
