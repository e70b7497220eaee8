//! Discovery and registration against a real loopback server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{AsDoc, Cfg, TestClient, TestServer, manager, manager_with, test_fetcher};
use mcp_oauth_client::discovery::{discover, probe};
use mcp_oauth_client::store::StoredRegistration;
use mcp_oauth_client::{
    ClientAuth, ClientConfig, ClientRegistration, CredentialStore, Error, MemoryStore,
};
use mcp_oauth_core::clock::TestClock;
use mcp_oauth_core::secret::Secret;
use std::sync::Arc;

const PRM: &str = "/.well-known/oauth-protected-resource";

#[tokio::test]
async fn header_resource_metadata_url_is_used_first() {
    let s = TestServer::start(Cfg {
        prm_header_path: Some("/custom/metadata/location.json"),
        prm_path_inserted: true,
        prm_root: true,
        ..Cfg::default()
    })
    .await;
    let f = test_fetcher();
    let c = probe(&f, &s.mcp_url()).await.unwrap().unwrap();
    assert_eq!(
        c.resource_metadata.as_deref(),
        Some(format!("{}/custom/metadata/location.json", s.base).as_str())
    );
    let d = discover(&f, &s.mcp_url(), Some(&c), true).await.unwrap();
    assert_eq!(
        d.resource_metadata_url.as_deref(),
        c.resource_metadata.as_deref()
    );
    let gets = s.get_paths();
    assert_eq!(gets[0], "/custom/metadata/location.json");
    assert!(!gets.iter().any(|p| p.starts_with(PRM)), "{gets:?}");
    s.stop().await;
}

#[tokio::test]
async fn path_inserted_before_root_and_root_not_fetched_after_success() {
    let s = TestServer::start(Cfg {
        prm_path_inserted: true,
        prm_root: true,
        ..Cfg::default()
    })
    .await;
    let d = discover(&test_fetcher(), &s.mcp_url(), None, true)
        .await
        .unwrap();
    assert!(!d.legacy);
    assert_eq!(d.resource, s.mcp_url());
    let gets = s.get_paths();
    assert_eq!(gets[0], format!("{PRM}/mcp"));
    assert!(!gets.contains(&PRM.to_owned()), "{gets:?}");
    // Discovery requests carry the protocol version.
    for h in s.hits() {
        assert_eq!(
            h.protocol_version.as_deref(),
            Some("2025-11-25"),
            "{}",
            h.path
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn root_prm_when_path_inserted_is_missing() {
    let s = TestServer::start(Cfg {
        prm_path_inserted: false,
        prm_root: true,
        ..Cfg::default()
    })
    .await;
    let d = discover(&test_fetcher(), &s.mcp_url(), None, true)
        .await
        .unwrap();
    assert_eq!(d.resource_metadata_url, Some(format!("{}{PRM}", s.base)));
    let gets = s.get_paths();
    assert_eq!(&gets[..2], &[format!("{PRM}/mcp"), PRM.to_owned()]);
    assert_eq!(d.attempts[0].outcome, "HTTP 404");
    s.stop().await;
}

#[tokio::test]
async fn as_metadata_order_for_issuer_with_path() {
    let s = TestServer::start(Cfg {
        issuer_path: "/tenant1",
        as_docs: vec![AsDoc::OidcAppend],
        ..Cfg::default()
    })
    .await;
    let d = discover(&test_fetcher(), &s.mcp_url(), None, true)
        .await
        .unwrap();
    assert_eq!(d.issuer, format!("{}/tenant1", s.base));
    let gets = s.get_paths();
    assert_eq!(
        &gets[1..],
        &[
            "/.well-known/oauth-authorization-server/tenant1".to_owned(),
            "/.well-known/openid-configuration/tenant1".to_owned(),
            "/tenant1/.well-known/openid-configuration".to_owned(),
        ]
    );
    s.stop().await;
}

#[tokio::test]
async fn as_metadata_root_forms_for_pathless_issuer() {
    let s = TestServer::start(Cfg {
        as_docs: vec![AsDoc::OidcInsert],
        ..Cfg::default()
    })
    .await;
    discover(&test_fetcher(), &s.mcp_url(), None, true)
        .await
        .unwrap();
    assert_eq!(
        &s.get_paths()[1..],
        &[
            "/.well-known/oauth-authorization-server".to_owned(),
            "/.well-known/openid-configuration".to_owned(),
        ]
    );
    s.stop().await;
}

#[tokio::test]
async fn issuer_mismatch_is_refused_with_the_urls_tried() {
    let s = TestServer::start(Cfg {
        as_docs: vec![AsDoc::OAuthInsert, AsDoc::OidcInsert],
        metadata_issuer: Some("https://evil.example".into()),
        ..Cfg::default()
    })
    .await;
    let err = discover(&test_fetcher(), &s.mcp_url(), None, true)
        .await
        .unwrap_err();
    let Error::AuthorizationServerMetadataNotFound { attempts, .. } = &err else {
        panic!("{err}");
    };
    let msg = err.to_string();
    assert!(msg.contains("issuer mismatch"), "{msg}");
    assert!(msg.contains("/.well-known/openid-configuration"), "{msg}");
    assert_eq!(attempts.len(), 3, "PRM + two AS URLs: {attempts:?}");
    s.stop().await;
}

#[tokio::test]
async fn missing_s256_stops_before_registration() {
    let s = TestServer::start(Cfg {
        pkce: None,
        ..Cfg::default()
    })
    .await;
    let m = manager(ClientConfig::new());
    let err = m.login(&s.mcp_url()).await.unwrap_err();
    assert!(matches!(err, Error::PkceUnsupported { .. }), "{err}");
    assert!(s.hits_to("/register").is_empty());
    assert!(s.hits_to("/authorize").is_empty());
    s.set_cfg(|c| c.pkce = Some(vec!["plain"]));
    let err = m.login(&s.mcp_url()).await.unwrap_err();
    assert!(matches!(err, Error::PkceUnsupported { .. }), "{err}");
    s.stop().await;
}

#[tokio::test]
async fn prm_resource_mismatch_stops_the_flow() {
    let s = TestServer::start(Cfg {
        prm_resource: Some("https://other.example/mcp".into()),
        prm_root: true,
        ..Cfg::default()
    })
    .await;
    let m = manager(ClientConfig::new());
    let err = m.login(&s.mcp_url()).await.unwrap_err();
    assert!(matches!(err, Error::ResourceMismatch { .. }), "{err}");
    // Neither the root PRM nor any AS metadata was fetched.
    assert_eq!(s.get_paths(), vec![format!("{PRM}/mcp")]);
    s.stop().await;
}

#[tokio::test]
async fn legacy_fallback_uses_metadata_at_the_origin() {
    let s = TestServer::start(Cfg {
        prm_path_inserted: false,
        as_docs: vec![],
        as_root_legacy: true,
        mcp_path: "/v1/mcp",
        ..Cfg::default()
    })
    .await;
    let m = manager(ClientConfig::new());
    m.login(&s.mcp_url()).await.unwrap();
    let d = m.last_discovery(&s.mcp_url()).unwrap();
    assert!(d.legacy);
    assert_eq!(d.issuer, s.base);
    assert_eq!(d.resource, s.mcp_url());
    assert_eq!(
        s.get_paths()[..3],
        [
            format!("{PRM}/v1/mcp"),
            PRM.to_owned(),
            "/.well-known/oauth-authorization-server".to_owned()
        ]
    );
    // resource is still sent in the legacy flow.
    assert_eq!(
        s.hits_to("/authorize")[0].param("resource"),
        Some(s.mcp_url().as_str())
    );
    assert!(s.errors().is_empty(), "{:?}", s.errors());
    s.stop().await;
}

#[tokio::test]
async fn legacy_fallback_default_endpoints() {
    let s = TestServer::start(Cfg {
        prm_path_inserted: false,
        as_docs: vec![],
        ..Cfg::default()
    })
    .await;
    let m = manager(ClientConfig::new());
    m.login(&s.mcp_url()).await.unwrap();
    let d = m.last_discovery(&s.mcp_url()).unwrap();
    assert!(d.legacy);
    assert_eq!(
        d.metadata.authorization_endpoint,
        Some(format!("{}/authorize", s.base))
    );
    assert_eq!(s.hits_to("/register").len(), 1);
    assert_eq!(s.token_hits("authorization_code").len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn no_prm_without_legacy_fallback_lists_the_urls() {
    let s = TestServer::start(Cfg {
        prm_path_inserted: false,
        ..Cfg::default()
    })
    .await;
    let err = discover(&test_fetcher(), &s.mcp_url(), None, false)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::ResourceMetadataNotFound { .. }));
    assert!(
        msg.contains(&format!("{}{PRM}/mcp → HTTP 404", s.base)),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("{}{PRM} → HTTP 404", s.base)),
        "{msg}"
    );
    s.stop().await;
}

#[tokio::test]
async fn dynamic_registration_sends_none_and_is_reused_per_issuer() {
    let s = TestServer::start(Cfg::default()).await;
    let store = Arc::new(MemoryStore::new());
    let clock = Arc::new(TestClock::new(1_700_000_000));
    let m = manager_with(
        ClientConfig::new().client_name("test client"),
        store.clone(),
        clock.clone(),
    );
    m.login(&s.mcp_url()).await.unwrap();
    let reg = s.hits_to("/register");
    assert_eq!(reg.len(), 1);
    let body = reg[0].json.clone().unwrap();
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(
        body["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(body["response_types"], serde_json::json!(["code"]));
    assert_eq!(body["client_name"], "test client");
    let redirect = body["redirect_uris"][0].as_str().unwrap();
    assert!(redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/callback"));
    // A second login at the same issuer reuses the registration.
    m.login(&s.mcp_url()).await.unwrap();
    assert_eq!(s.hits_to("/register").len(), 1);
    // Another issuer never sees it: it gets its own registration.
    let other = TestServer::start(Cfg::default()).await;
    m.login(&other.mcp_url()).await.unwrap();
    assert_eq!(other.hits_to("/register").len(), 1);
    let first_id = store
        .get_registration(&s.issuer())
        .await
        .unwrap()
        .unwrap()
        .client_id;
    assert_eq!(
        other.hits_to("/authorize")[0].param("client_id"),
        Some(
            store
                .get_registration(&other.issuer())
                .await
                .unwrap()
                .unwrap()
                .client_id
                .as_str()
        )
    );
    assert_eq!(
        s.hits_to("/authorize")[1].param("client_id"),
        Some(first_id.as_str())
    );
    s.stop().await;
    other.stop().await;
}

#[tokio::test]
async fn pre_registered_client_secret_basic() {
    let id = "pre id:1";
    let secret = "s3cr&t p@ss+/";
    let s = TestServer::start(Cfg {
        clients: vec![TestClient {
            id: id.into(),
            secret: Some(secret.into()),
            jwk: None,
        }],
        ..Cfg::default()
    })
    .await;
    let m = manager(
        ClientConfig::new().pre_registered(ClientRegistration::pre_registered(
            id,
            ClientAuth::Secret(Secret::new(secret)),
        )),
    );
    m.login(&s.mcp_url()).await.unwrap();
    assert!(s.hits_to("/register").is_empty());
    let t = &s.token_hits("authorization_code")[0];
    assert!(t.authorization.as_deref().unwrap().starts_with("Basic "));
    assert_eq!(t.param("client_secret"), None);
    assert!(s.errors().is_empty(), "{:?}", s.errors());
    s.stop().await;
}

#[tokio::test]
async fn pre_registered_client_secret_post_when_basic_not_advertised() {
    let s = TestServer::start(Cfg {
        clients: vec![TestClient {
            id: "pre".into(),
            secret: Some("sec".into()),
            jwk: None,
        }],
        auth_methods: Some(vec!["client_secret_post"]),
        ..Cfg::default()
    })
    .await;
    let m = manager(
        ClientConfig::new().pre_registered(
            ClientRegistration::pre_registered("pre", ClientAuth::Secret(Secret::new("sec")))
                .for_issuer(s.issuer()),
        ),
    );
    m.login(&s.mcp_url()).await.unwrap();
    let t = &s.token_hits("authorization_code")[0];
    assert_eq!(t.authorization, None);
    assert_eq!(t.param("client_id"), Some("pre"));
    assert_eq!(t.param("client_secret"), Some("sec"));
    s.stop().await;
}

#[tokio::test]
async fn pre_registered_for_another_issuer_is_not_used() {
    let s = TestServer::start(Cfg::default()).await;
    let m = manager(
        ClientConfig::new().pre_registered(
            ClientRegistration::pre_registered("pre", ClientAuth::None)
                .for_issuer("https://other.example"),
        ),
    );
    m.login(&s.mcp_url()).await.unwrap();
    assert_eq!(s.hits_to("/register").len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn client_id_metadata_document_when_supported() {
    let cimd = "https://app.example/client.json";
    let s = TestServer::start(Cfg {
        cimd: true,
        clients: vec![TestClient {
            id: cimd.into(),
            secret: None,
            jwk: None,
        }],
        ..Cfg::default()
    })
    .await;
    let m = manager(ClientConfig::new().client_metadata_document_url(cimd));
    m.login(&s.mcp_url()).await.unwrap();
    assert!(s.hits_to("/register").is_empty());
    assert_eq!(s.hits_to("/authorize")[0].param("client_id"), Some(cimd));
    // Without server support, DCR is used instead.
    let s2 = TestServer::start(Cfg::default()).await;
    m.login(&s2.mcp_url()).await.unwrap();
    assert_eq!(s2.hits_to("/register").len(), 1);
    s.stop().await;
    s2.stop().await;
}

#[tokio::test]
async fn no_registration_method_is_a_clear_error() {
    let s = TestServer::start(Cfg {
        dcr: false,
        ..Cfg::default()
    })
    .await;
    let m = manager(ClientConfig::new());
    let err = m.login(&s.mcp_url()).await.unwrap_err();
    assert!(matches!(err, Error::NoRegistration { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("registration_endpoint") && msg.contains("pre-registered"),
        "{msg}"
    );
    s.stop().await;
}

#[tokio::test]
async fn stale_invalid_client_triggers_exactly_one_new_registration() {
    let s = TestServer::start(Cfg::default()).await;
    let store = Arc::new(MemoryStore::new());
    store
        .put_registration(&StoredRegistration {
            issuer: s.issuer(),
            client_id: "forgotten-by-the-as".into(),
            client_secret: None,
            token_endpoint_auth_method: "none".into(),
            client_secret_expires_at: None,
            redirect_uris: vec![],
        })
        .await
        .unwrap();
    let m = manager_with(
        ClientConfig::new(),
        store.clone(),
        Arc::new(TestClock::new(1_700_000_000)),
    );
    m.login(&s.mcp_url()).await.unwrap();
    assert_eq!(s.hits_to("/register").len(), 1);
    let codes = s.token_hits("authorization_code");
    assert_eq!(codes.len(), 2);
    assert_eq!(codes[0].param("client_id"), Some("forgotten-by-the-as"));
    let reg = store.get_registration(&s.issuer()).await.unwrap().unwrap();
    assert_ne!(reg.client_id, "forgotten-by-the-as");
    s.stop().await;
}

#[tokio::test]
async fn a_hanging_server_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let f = mcp_oauth_client::fetch::Fetcher::new(mcp_oauth_client::fetch::HttpSettings {
        allow_insecure_http: true,
        timeout: std::time::Duration::from_millis(300),
        ..Default::default()
    })
    .unwrap();
    let started = std::time::Instant::now();
    let url = format!("http://{addr}/mcp");
    let err = discover(&f, &url, None, false).await.unwrap_err();
    assert!(err.to_string().contains("timed out after 300 ms"), "{err}");
    let err = f.get_metadata(&url).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    hold.abort();
}

#[tokio::test]
async fn insecure_http_is_refused_without_the_switch() {
    let s = TestServer::start(Cfg::default()).await;
    let f = mcp_oauth_client::fetch::Fetcher::new(Default::default()).unwrap();
    let err = discover(&f, &s.mcp_url(), None, true).await.unwrap_err();
    assert!(matches!(err, Error::UrlRefused { .. }), "{err}");
    assert!(s.hits().is_empty());
    s.stop().await;
}
