//! Authorization code, refresh, step-up, machine-to-machine grants and stores over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Cfg, IssMode, TestClient, TestServer, manager, manager_with};
use mcp_oauth_client::assertion::{load_private_key_file, pkcs8_pem};
use mcp_oauth_client::callback::LoopbackListener;
use mcp_oauth_client::store::{StoredToken, TokenKey};
use mcp_oauth_client::{
    AuthorizedClient, ClientAuth, ClientConfig, ClientRegistration, CredentialStore,
    EnterpriseConfig, Error, FileStore, GrantMode, MemoryStore, TokenManager,
};
use mcp_oauth_core::clock::TestClock;
use mcp_oauth_core::jose::{Algorithm, SigningKey};
use mcp_oauth_core::secret::Secret;
use std::sync::Arc;
use std::time::Duration;

const NOW: i64 = 1_700_000_000;

async fn call(m: &Arc<TokenManager>, url: &str) -> mcp_oauth_client::Result<reqwest::Response> {
    let c = AuthorizedClient::new(m.clone(), url).unwrap();
    let u = url.to_owned();
    c.send(move |h| {
        h.post(&u)
            .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
    })
    .await
}

#[tokio::test]
async fn resource_is_sent_byte_for_byte_on_authorize_token_and_refresh() {
    // The PRM resource is the bare origin: a URL library would turn it into "http://host/".
    let s = TestServer::start(Cfg::default()).await;
    s.set_cfg(|c| c.prm_resource = Some(s.base.clone()));
    let clock = Arc::new(TestClock::new(NOW));
    let store = Arc::new(MemoryStore::new());
    let m = manager_with(ClientConfig::new(), store.clone(), clock.clone());
    let resp = call(&m, &s.mcp_url()).await.unwrap();
    assert_eq!(resp.status(), 200);
    let base = s.base.as_str();
    assert_eq!(s.hits_to("/authorize")[0].param("resource"), Some(base));
    assert_eq!(
        s.token_hits("authorization_code")[0].param("resource"),
        Some(base)
    );
    clock.advance(3600);
    let t = m.cached_token(&s.mcp_url()).await.unwrap().unwrap();
    assert_eq!(
        s.token_hits("refresh_token")[0].param("resource"),
        Some(base)
    );
    // The raw query really has no trailing slash (not just after decoding).
    let q = s.hits_to("/authorize")[0].query.clone().unwrap();
    assert!(
        q.contains(&format!("resource={}&", form(base)))
            || q.ends_with(&format!("resource={}", form(base))),
        "{q}"
    );
    // The stored key uses the same string.
    let keys: Vec<TokenKey> = store
        .tokens_for_server(&s.mcp_url())
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(keys[0].resource, base);
    assert!(t.starts_with("at-"));
    assert!(s.errors().is_empty(), "{:?}", s.errors());
    s.stop().await;
}

fn form(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn state_mismatch_is_refused_and_nothing_redeemed() {
    let s = TestServer::start(Cfg {
        tamper_state: true,
        ..Cfg::default()
    })
    .await;
    let m = manager(ClientConfig::new());
    let err = m.login(&s.mcp_url()).await.unwrap_err();
    assert!(matches!(err, Error::StateMismatch), "{err}");
    assert!(s.hits_to("/token").is_empty());
    assert!(
        m.store()
            .tokens_for_server(&s.mcp_url())
            .await
            .unwrap()
            .is_empty()
    );
    s.stop().await;
}

#[tokio::test]
async fn iss_mismatch_is_refused() {
    let s = TestServer::start(Cfg {
        iss_mode: IssMode::Wrong,
        ..Cfg::default()
    })
    .await;
    let m = manager(ClientConfig::new());
    let err = m.login(&s.mcp_url()).await.unwrap_err();
    assert!(matches!(err, Error::IssuerMismatch { .. }), "{err}");
    assert!(s.hits_to("/token").is_empty());
    // Advertised but absent: refused too.
    s.set_cfg(|c| {
        c.iss_supported = true;
        c.iss_mode = IssMode::Absent;
    });
    let err = m.login(&s.mcp_url()).await.unwrap_err();
    assert!(
        matches!(err, Error::IssuerMismatch { received: None, .. }),
        "{err}"
    );
    // Not advertised and absent: fine; advertised and equal: fine.
    s.set_cfg(|c| c.iss_supported = false);
    m.login(&s.mcp_url()).await.unwrap();
    s.set_cfg(|c| {
        c.iss_supported = true;
        c.iss_mode = IssMode::Correct;
    });
    m.login(&s.mcp_url()).await.unwrap();
    s.stop().await;
}

#[tokio::test]
async fn scope_selection_challenge_then_prm_then_omitted() {
    // 1. The 401 challenge's scope wins over scopes_supported.
    let s = TestServer::start(Cfg {
        challenge_scope: Some("files:read"),
        prm_scopes: Some(vec!["a", "b"]),
        ..Cfg::default()
    })
    .await;
    assert_eq!(
        call(&manager(ClientConfig::new()), &s.mcp_url())
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        s.hits_to("/authorize")[0].param("scope"),
        Some("files:read")
    );
    s.stop().await;
    // 2. Else all of the PRM's scopes_supported.
    let s = TestServer::start(Cfg {
        prm_scopes: Some(vec!["a", "b"]),
        ..Cfg::default()
    })
    .await;
    assert_eq!(
        call(&manager(ClientConfig::new()), &s.mcp_url())
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(s.hits_to("/authorize")[0].param("scope"), Some("a b"));
    s.stop().await;
    // 3. Else no scope parameter at all.
    let s = TestServer::start(Cfg::default()).await;
    assert_eq!(
        call(&manager(ClientConfig::new()), &s.mcp_url())
            .await
            .unwrap()
            .status(),
        200
    );
    let a = &s.hits_to("/authorize")[0];
    assert_eq!(a.param("scope"), None);
    assert!(!a.query.clone().unwrap().contains("scope="));
    s.stop().await;
}

#[tokio::test]
async fn bearer_header_on_requests_and_one_retry_after_401() {
    let s = TestServer::start(Cfg::default()).await;
    let m = manager(ClientConfig::new());
    assert_eq!(call(&m, &s.mcp_url()).await.unwrap().status(), 200);
    let mcp = s.hits_to("/mcp");
    // Unauthenticated first attempt, then exactly one retry with the token.
    assert_eq!(mcp.len(), 2);
    assert_eq!(mcp[0].authorization, None);
    assert!(
        mcp[1]
            .authorization
            .as_deref()
            .unwrap()
            .starts_with("Bearer at-")
    );
    assert!(!mcp[1].query.clone().unwrap_or_default().contains("at-"));
    // The stored token is used directly next time.
    assert_eq!(call(&m, &s.mcp_url()).await.unwrap().status(), 200);
    assert_eq!(s.hits_to("/mcp").len(), 3);
    assert_eq!(s.hits_to("/authorize").len(), 1);
    s.stop().await;
}

#[tokio::test]
async fn step_up_unites_challenged_and_granted_scopes() {
    let s = TestServer::start(Cfg {
        challenge_scope: Some("read"),
        required_scope: Some("admin"),
        ..Cfg::default()
    })
    .await;
    let m = manager(ClientConfig::new());
    assert_eq!(call(&m, &s.mcp_url()).await.unwrap().status(), 200);
    let auths = s.hits_to("/authorize");
    assert_eq!(auths.len(), 2);
    assert_eq!(auths[0].param("scope"), Some("read"));
    assert_eq!(auths[1].param("scope"), Some("admin read"));
    s.stop().await;
}

#[tokio::test]
async fn step_up_gives_up_after_three_attempts() {
    let s = TestServer::start(Cfg {
        required_scope: Some("admin"),
        never_grant: Some("admin"),
        ..Cfg::default()
    })
    .await;
    let m = manager(ClientConfig::new());
    let err = call(&m, &s.mcp_url()).await.unwrap_err();
    assert!(
        matches!(err, Error::StepUpExhausted { attempts: 3, .. }),
        "{err}"
    );
    let with_token = s
        .hits_to("/mcp")
        .into_iter()
        .filter(|h| h.authorization.is_some())
        .count();
    assert_eq!(with_token, 3);
    // The first authorization (after the 401) plus two step-ups.
    assert_eq!(s.hits_to("/authorize").len(), 3);
    s.stop().await;
}

#[tokio::test]
async fn refresh_is_single_flight_for_ten_concurrent_callers() {
    let s = TestServer::start(Cfg::default()).await;
    let clock = Arc::new(TestClock::new(NOW));
    let m = manager_with(
        ClientConfig::new(),
        Arc::new(MemoryStore::new()),
        clock.clone(),
    );
    let first = m.login(&s.mcp_url()).await.unwrap();
    // Not yet within the 60 s window: no refresh.
    clock.advance(3600 - 61);
    assert_eq!(m.cached_token(&s.mcp_url()).await.unwrap().unwrap(), first);
    clock.advance(2);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let m = m.clone();
        let url = s.mcp_url();
        tasks.push(tokio::spawn(
            async move { m.bearer_token(&url).await.unwrap() },
        ));
    }
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap());
    }
    assert!(
        tokens.iter().all(|t| t == &tokens[0] && t != &first),
        "{tokens:?}"
    );
    assert_eq!(s.token_hits("refresh_token").len(), 1);
    // The rotated refresh token was stored and is the one used next time.
    clock.advance(3600);
    m.bearer_token(&s.mcp_url()).await.unwrap();
    let refreshes = s.token_hits("refresh_token");
    assert_eq!(refreshes.len(), 2);
    assert_ne!(
        refreshes[0].param("refresh_token"),
        refreshes[1].param("refresh_token")
    );
    assert!(s.errors().is_empty(), "{:?}", s.errors());
    s.stop().await;
}

#[tokio::test]
async fn refresh_invalid_grant_drops_the_credential() {
    let s = TestServer::start(Cfg::default()).await;
    let clock = Arc::new(TestClock::new(NOW));
    let store = Arc::new(MemoryStore::new());
    let m = manager_with(ClientConfig::new(), store.clone(), clock.clone());
    m.login(&s.mcp_url()).await.unwrap();
    let (key, mut tok) = store
        .tokens_for_server(&s.mcp_url())
        .await
        .unwrap()
        .remove(0);
    tok.refresh_token = Some(Secret::new("revoked"));
    store.put_token(&key, &tok).await.unwrap();
    clock.advance(7200);
    assert_eq!(m.cached_token(&s.mcp_url()).await.unwrap(), None);
    assert!(store.get_token(&key).await.unwrap().is_none());
    // The next bearer_token runs a full authorization.
    m.bearer_token(&s.mcp_url()).await.unwrap();
    assert_eq!(s.hits_to("/authorize").len(), 2);
    s.stop().await;
}

#[tokio::test]
async fn garbage_token_response_is_a_clear_error_and_nothing_is_stored() {
    let s = TestServer::start(Cfg {
        garbage_token_response: true,
        ..Cfg::default()
    })
    .await;
    let m = manager(ClientConfig::new());
    let err = m.login(&s.mcp_url()).await.unwrap_err();
    assert!(matches!(err, Error::InvalidResponse { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("not a token response") && msg.contains("/token"),
        "{msg}"
    );
    assert!(
        m.store()
            .tokens_for_server(&s.mcp_url())
            .await
            .unwrap()
            .is_empty()
    );
    s.stop().await;
}

fn cc_config(client: ClientRegistration) -> ClientConfig {
    ClientConfig::new()
        .grant(GrantMode::ClientCredentials)
        .pre_registered(client)
}

#[tokio::test]
async fn client_credentials_basic_and_post() {
    let s = TestServer::start(Cfg {
        clients: vec![TestClient {
            id: "m2m".into(),
            secret: Some("a:b c".into()),
            jwk: None,
        }],
        ..Cfg::default()
    })
    .await;
    let m = manager(cc_config(ClientRegistration::pre_registered(
        "m2m",
        ClientAuth::Secret(Secret::new("a:b c")),
    )));
    assert_eq!(call(&m, &s.mcp_url()).await.unwrap().status(), 200);
    let t = &s.token_hits("client_credentials")[0];
    assert!(t.authorization.as_deref().unwrap().starts_with("Basic "));
    assert_eq!(t.param("resource"), Some(s.mcp_url().as_str()));
    assert!(s.hits_to("/authorize").is_empty() && s.hits_to("/register").is_empty());
    s.set_cfg(|c| c.auth_methods = Some(vec!["client_secret_post", "private_key_jwt"]));
    let m = manager(cc_config(ClientRegistration::pre_registered(
        "m2m",
        ClientAuth::Secret(Secret::new("a:b c")),
    )));
    m.login(&s.mcp_url()).await.unwrap();
    let t = &s.token_hits("client_credentials")[1];
    assert_eq!(t.authorization, None);
    assert_eq!(t.param("client_secret"), Some("a:b c"));
    assert!(s.errors().is_empty(), "{:?}", s.errors());
    s.stop().await;
}

#[tokio::test]
async fn client_credentials_private_key_jwt_from_pem_files() {
    let dir = tempfile::tempdir().unwrap();
    for alg in [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA] {
        let key = SigningKey::generate(alg).unwrap();
        let path = dir.path().join(format!("{alg:?}.pem"));
        std::fs::write(&path, pkcs8_pem(key.pkcs8_der())).unwrap();
        let loaded = load_private_key_file(&path, None).unwrap();
        assert_eq!(loaded.algorithm(), alg);
        let s = TestServer::start(Cfg {
            clients: vec![TestClient {
                id: "jwt-client".into(),
                secret: None,
                jwk: Some(key.public_jwk().clone()),
            }],
            auth_methods: Some(vec!["private_key_jwt"]),
            ..Cfg::default()
        })
        .await;
        let m = manager(cc_config(ClientRegistration::pre_registered(
            "jwt-client",
            ClientAuth::PrivateKeyJwt(Arc::new(loaded)),
        )));
        // Two tokens: the assertions must carry distinct jti values (the server refuses replays).
        m.login(&s.mcp_url()).await.unwrap();
        m.login(&s.mcp_url()).await.unwrap();
        let hits = s.token_hits("client_credentials");
        assert_eq!(hits.len(), 2);
        assert!(hits[0].param("client_assertion").is_some());
        assert_eq!(hits[0].param("client_id"), None);
        assert!(s.errors().is_empty(), "{alg:?}: {:?}", s.errors());
        s.stop().await;
    }
}

#[tokio::test]
async fn enterprise_managed_authorization_with_an_id_jag() {
    let s = TestServer::start(Cfg {
        clients: vec![TestClient {
            id: "ema-client".into(),
            secret: Some("ema-secret".into()),
            jwk: None,
        }],
        ..Cfg::default()
    })
    .await;
    let idp = EnterpriseConfig::new(
        format!("{}/idp/token", s.base),
        ClientRegistration::pre_registered(
            "idp-client",
            ClientAuth::SecretPost(Secret::new("idp-secret")),
        ),
        Secret::new("id-token-of-alice"),
    );
    let m = manager(
        ClientConfig::new()
            .grant(GrantMode::Enterprise(Box::new(idp)))
            .pre_registered(ClientRegistration::pre_registered(
                "ema-client",
                ClientAuth::Secret(Secret::new("ema-secret")),
            )),
    );
    assert_eq!(call(&m, &s.mcp_url()).await.unwrap().status(), 200);
    let grant = &s.token_hits("urn:ietf:params:oauth:grant-type:jwt-bearer")[0];
    assert!(grant.param("assertion").unwrap().starts_with("id-jag-"));
    assert_eq!(grant.param("resource"), Some(s.mcp_url().as_str()));
    assert!(s.hits_to("/authorize").is_empty());
    assert!(s.errors().is_empty(), "{:?}", s.errors());
    s.stop().await;
}

fn token(at: &str) -> StoredToken {
    StoredToken {
        server_url: "https://mcp.example/mcp".into(),
        token_endpoint: "https://as.example/token".into(),
        access_token: Secret::new(at),
        refresh_token: Some(Secret::new("refresh-secret")),
        expires_at: Some(NOW + 10),
        scope: Some("a".into()),
        obtained_at: NOW,
        auth_method: Some("none".into()),
        dpop_key: None,
    }
}

fn key() -> TokenKey {
    TokenKey {
        issuer: "https://as.example".into(),
        resource: "https://mcp.example/mcp".into(),
        client_id: "c".into(),
        grant: None,
    }
}

#[cfg(unix)]
#[tokio::test]
async fn file_store_is_0600_in_a_0700_directory_and_written_atomically() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join("cfg")
        .join("mcp-oauth")
        .join("credentials.json");
    let store = FileStore::new(&path);
    store.put_token(&key(), &token("access-1")).await.unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    // Many writes: the file is always complete JSON, and no temp or lock file stays behind.
    for i in 0..20 {
        store
            .put_token(&key(), &token(&format!("access-{i}")))
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["tokens"][0]["access_token"], format!("access-{i}"));
        assert_eq!(mode(&path), 0o600);
    }
    let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["credentials.json".to_owned()]);
    // A second handle reads what the first wrote; Debug never shows secrets.
    let other = FileStore::new(&path);
    let t = other.get_token(&key()).await.unwrap().unwrap();
    assert_eq!(t.access_token.expose(), "access-19");
    let dbg = format!("{t:?} {other:?}");
    assert!(
        !dbg.contains("access-19") && !dbg.contains("refresh-secret"),
        "{dbg}"
    );
    // A corrupt file is an error, never silently replaced.
    std::fs::write(&path, "{garbage").unwrap();
    let err = other.put_token(&key(), &token("x")).await.unwrap_err();
    assert!(err.to_string().contains("move it away"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{garbage");
}

#[tokio::test]
async fn file_store_refresh_lock_is_shared_between_handles() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.json");
    let a = FileStore::new(&path);
    let b = FileStore::new(&path)
        .with_lock_timeouts(Duration::from_millis(100), Duration::from_secs(60));
    a.put_token(&key(), &token("old")).await.unwrap();
    let held = a.lock(&key()).await.unwrap();
    let err = b.lock(&key()).await.unwrap_err();
    assert!(matches!(err, Error::LockTimeout { .. }), "{err}");
    // A different key is not blocked.
    let mut other = key();
    other.client_id = "d".into();
    drop(b.lock(&other).await.unwrap());
    // B waits; A stores a rotated token and releases; B then reads the new token.
    let b = FileStore::new(&path);
    let waiter = tokio::spawn(async move {
        let _l = b.lock(&key()).await.unwrap();
        b.get_token(&key())
            .await
            .unwrap()
            .unwrap()
            .access_token
            .expose()
            .to_owned()
    });
    // Ordering only (not expiry): give the waiter time to find the lock held.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiter.is_finished(), "B must wait while A holds the lock");
    a.put_token(&key(), &token("rotated")).await.unwrap();
    drop(held);
    assert_eq!(waiter.await.unwrap(), "rotated");
}

#[tokio::test]
async fn two_managers_sharing_a_file_refresh_once() {
    let s = TestServer::start(Cfg::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.json");
    let clock = Arc::new(TestClock::new(NOW));
    // Two managers with separate in-process locks stand for two processes.
    let m1 = manager_with(
        ClientConfig::new(),
        Arc::new(FileStore::new(&path)),
        clock.clone(),
    );
    let m2 = manager_with(
        ClientConfig::new(),
        Arc::new(FileStore::new(&path)),
        clock.clone(),
    );
    m1.login(&s.mcp_url()).await.unwrap();
    clock.advance(4000);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let m = if i % 2 == 0 { m1.clone() } else { m2.clone() };
        let url = s.mcp_url();
        tasks.push(tokio::spawn(
            async move { m.bearer_token(&url).await.unwrap() },
        ));
    }
    let mut tokens = Vec::new();
    for t in tasks {
        tokens.push(t.await.unwrap());
    }
    assert!(tokens.iter().all(|t| t == &tokens[0]), "{tokens:?}");
    assert_eq!(s.token_hits("refresh_token").len(), 1);
    assert!(s.errors().is_empty(), "{:?}", s.errors());
    s.stop().await;
}

#[tokio::test]
async fn loopback_listener_serves_one_callback_with_a_friendly_page() {
    let l = LoopbackListener::bind().await.unwrap();
    let redirect = l.redirect_uri();
    assert!(redirect.starts_with("http://127.0.0.1:") && redirect.ends_with("/callback"));
    let verdict = l.verdict();
    let wait = tokio::spawn(l.wait(Duration::from_secs(10)));
    let http = reqwest::Client::new();
    let favicon = redirect.replace("/callback", "/favicon.ico");
    assert_eq!(http.get(&favicon).send().await.unwrap().status(), 404);
    // The page answers once the caller reports how the code exchange ended.
    let page = tokio::spawn({
        let http = http.clone();
        let url = format!("{redirect}?code=abc&state=xyz");
        async move {
            let resp = http.get(url).send().await.unwrap();
            (resp.status(), resp.text().await.unwrap())
        }
    });
    let params = wait.await.unwrap().unwrap();
    assert_eq!(params.get("code"), Some("abc"));
    assert_eq!(params.get("state"), Some("xyz"));
    verdict.report(Ok(())).await;
    let (status, body) = page.await.unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("close this tab"), "{body}");
    // Nobody comes: a clear timeout.
    let l = LoopbackListener::bind().await.unwrap();
    let err = l.wait(Duration::from_millis(50)).await.unwrap_err();
    assert!(matches!(err, Error::CallbackTimeout(_)), "{err}");
}
