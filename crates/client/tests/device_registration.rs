//! Which client the device flow (RFC 8628) uses, in the MCP spec's registration order, against
//! the stand-in authorization server: the Client ID Metadata Document when the server supports
//! it (no registration); DCR when the server does not support documents, or refuses ours for the
//! device grant (`unauthorized_client`: its `grant_types` lack the device grant), with the
//! refusal itself reported when no registration is possible either.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Cfg, TestClient, TestServer};
use mcp_oauth_client::callback::LoopbackListener;
use mcp_oauth_client::device::DeviceAuthorization;
use mcp_oauth_client::prompt::PromptRequest;
use mcp_oauth_client::{AuthorizationPrompt, ClientConfig, Error, GrantMode, TokenManager};
use mcp_oauth_core::form::OAuthParams;
use std::sync::{Arc, Mutex};

const DOCUMENT: &str = "https://app.example/client.json";

/// A prompt for the device flow only: records the user codes it was asked to show.
#[derive(Debug, Default)]
struct DevicePrompt {
    shown: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl AuthorizationPrompt for DevicePrompt {
    async fn authorize(
        &self,
        _request: &PromptRequest,
        _listener: LoopbackListener,
    ) -> mcp_oauth_client::Result<OAuthParams> {
        panic!("the device flow opens no browser");
    }

    async fn show_device_code(
        &self,
        authorization: &DeviceAuthorization,
    ) -> mcp_oauth_client::Result<()> {
        self.shown
            .lock()
            .unwrap()
            .push(authorization.user_code.clone());
        Ok(())
    }
}

/// A stand-in that knows the document's client id, with `tune` applied.
async fn server(tune: impl FnOnce(&mut Cfg)) -> TestServer {
    let mut cfg = Cfg {
        device: true,
        cimd: true,
        clients: vec![TestClient {
            id: DOCUMENT.into(),
            secret: None,
            jwk: None,
        }],
        ..Cfg::default()
    };
    tune(&mut cfg);
    TestServer::start(cfg).await
}

fn manager(prompt: Arc<DevicePrompt>) -> Arc<TokenManager> {
    let config = ClientConfig::new()
        .client_metadata_document_url(DOCUMENT)
        .grant(GrantMode::DeviceCode)
        .allow_insecure_http(true)
        .timeout(std::time::Duration::from_secs(5));
    Arc::new(
        TokenManager::builder(config)
            .prompt(prompt)
            .build()
            .unwrap(),
    )
}

/// The client ids `/device_authorization` and the device-code polls were sent.
fn client_ids(s: &TestServer) -> (Vec<String>, Vec<String>) {
    let ids = |hits: Vec<common::Hit>| {
        hits.iter()
            .map(|h| h.param("client_id").unwrap_or_default().to_owned())
            .collect()
    };
    (
        ids(s.hits_to("/device_authorization")),
        ids(s.token_hits("urn:ietf:params:oauth:grant-type:device_code")),
    )
}

#[tokio::test]
async fn the_metadata_document_is_the_device_clients_id_when_the_server_supports_it() {
    let s = server(|_| {}).await;
    let prompt = Arc::new(DevicePrompt::default());
    let m = manager(prompt.clone());
    m.login(&s.mcp_url()).await.unwrap();
    assert!(s.hits_to("/register").is_empty(), "no registration");
    assert_eq!(
        client_ids(&s),
        (vec![DOCUMENT.to_owned()], vec![DOCUMENT.to_owned()])
    );
    assert_eq!(*prompt.shown.lock().unwrap(), ["BCDF-GHJK"]);
    assert_eq!(s.errors(), Vec::<String>::new());
    s.stop().await;

    // Without the server's support, the device grant is registered for.
    let s = server(|c| c.cimd = false).await;
    m.login(&s.mcp_url()).await.unwrap();
    let register = s.hits_to("/register");
    assert_eq!(register.len(), 1);
    let grants = &register[0].json.as_ref().unwrap()["grant_types"];
    assert_eq!(
        grants[0], "urn:ietf:params:oauth:grant-type:device_code",
        "{grants}"
    );
    let (started, polled) = client_ids(&s);
    assert!(
        started[0].starts_with("dcr-") && polled == started,
        "{started:?}"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_document_refused_for_the_device_grant_falls_back_to_registration() {
    let s = server(|c| c.device_refused = vec![DOCUMENT]).await;
    let m = manager(Arc::new(DevicePrompt::default()));
    m.login(&s.mcp_url()).await.unwrap();
    let (started, polled) = client_ids(&s);
    assert_eq!(started.len(), 2, "{started:?}");
    assert_eq!(started[0], DOCUMENT, "the document first");
    assert!(started[1].starts_with("dcr-"), "then DCR: {started:?}");
    assert_eq!(polled, [started[1].clone()]);
    assert_eq!(s.hits_to("/register").len(), 1);
    s.stop().await;

    // With no registration possible, the refusal is what the user is told.
    let s = server(|c| {
        c.device_refused = vec![DOCUMENT];
        c.dcr = false;
    })
    .await;
    let err = m.login(&s.mcp_url()).await.unwrap_err();
    assert!(
        matches!(&err, Error::OAuth { error, .. } if error == "unauthorized_client"),
        "{err:?}"
    );
    assert_eq!(s.hits_to("/device_authorization").len(), 1, "tried once");
    s.stop().await;
}
