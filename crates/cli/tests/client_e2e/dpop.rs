//! DPoP end to end (RFC 9449): the client library with `.dpop(true)` against our authorization
//! server and our guard: a key per authorization kept in the credential store, bound access and
//! refresh tokens, proofs on every request; a stolen token is worthless as a bearer token.

use crate::support::*;
use mcp_oauth_client::transport::OAuthHttpClient;
use mcp_oauth_client::{
    AuthorizedClient, ClientConfig, CredentialStore, MemoryStore, TokenManager,
};
use mcp_oauth_core::clock::Clock;
use rmcp::ServiceExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn dpop_manager(env: &Env, store: Arc<dyn CredentialStore>) -> Arc<TokenManager> {
    let config = ClientConfig::new()
        .allow_insecure_http(true)
        .callback_timeout(Duration::from_secs(10))
        .dpop(true);
    Arc::new(
        TokenManager::builder(config)
            .store(store)
            .prompt(Arc::new(FormPrompt::default()))
            .clock(Arc::new(env.clock.clone()))
            .build()
            .unwrap(),
    )
}

fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn bound_tokens_from_sign_in_to_refresh_and_a_thief_gets_nothing() {
    let env = Env::start().await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let manager = dpop_manager(&env, store.clone());
    let transport = OAuthHttpClient::new(manager.clone(), &env.mcp_url)
        .unwrap()
        .into_transport();
    let client = ().serve(transport).await.unwrap();
    assert_eq!(client.list_all_tools().await.unwrap().len(), 2);

    let (_, tok) = store.tokens_for_server(&env.mcp_url).await.unwrap()[0].clone();
    let key = mcp_oauth_client::dpop::DpopKey::from_secret(tok.dpop_key.as_ref().unwrap()).unwrap();
    let at = tok.access_token.expose().to_owned();
    assert_eq!(
        claims(&at)["cnf"]["jkt"],
        key.thumbprint(),
        "bound to the stored key"
    );
    assert_eq!(env.introspect(&at).await["token_type"], "DPoP");

    // The thief: the token as a bearer token, and the refresh token without the key.
    let r = env
        .http
        .post(&env.mcp_url)
        .bearer_auth(&at)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(
        challenge.contains("DPoP") && challenge.contains("invalid_token"),
        "{challenge}"
    );
    let rt = tok.refresh_token.as_ref().unwrap().expose().to_owned();
    let client_id = store.tokens_for_server(&env.mcp_url).await.unwrap()[0]
        .0
        .client_id
        .clone();
    let r = env
        .http
        .post(format!("{}/token", env.base))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", rt.as_str()),
            ("client_id", client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");

    // The owner: past expiry the call refreshes with a proof of the same key, without a login.
    env.clock.advance(3600);
    let r = client
        .call_tool(
            rmcp::model::CallToolRequestParams::new("echo")
                .with_arguments(json!({"text": "later"}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert!(format!("{r:?}").contains("later"));
    let (_, after) = store.tokens_for_server(&env.mcp_url).await.unwrap()[0].clone();
    assert_ne!(after.access_token.expose(), at, "refreshed");
    assert_eq!(after.dpop_key, tok.dpop_key, "one key per server");
    assert_eq!(
        claims(after.access_token.expose())["cnf"]["jkt"],
        key.thumbprint()
    );

    // AuthorizedClient presents the same bound token with its own proofs.
    let http = AuthorizedClient::new(manager.clone(), &env.mcp_url).unwrap();
    let now = env.clock.now();
    let r = http
        .send(|c| {
            c.post(&env.mcp_url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-11-25")
                .body(format!(
                    r#"{{"jsonrpc":"2.0","id":{now},"method":"initialize","params":{{"protocolVersion":"2025-11-25","capabilities":{{}},"clientInfo":{{"name":"t","version":"1"}}}}}}"#
                ))
        })
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.headers());
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn client_credentials_tokens_are_bound_too() {
    use mcp_oauth_client::{ClientAuth, ClientRegistration, GrantMode};
    use mcp_oauth_core::secret::Secret;
    let env = Env::start().await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let config = ClientConfig::new()
        .allow_insecure_http(true)
        .grant(GrantMode::ClientCredentials)
        .pre_registered(ClientRegistration::pre_registered(
            M2M_CLIENT,
            ClientAuth::Secret(Secret::new(env.m2m_secret.clone())),
        ))
        .dpop(true);
    let manager = Arc::new(
        TokenManager::builder(config)
            .store(store.clone())
            .clock(Arc::new(env.clock.clone()))
            .build()
            .unwrap(),
    );
    let client = ()
        .serve(
            OAuthHttpClient::new(manager, &env.mcp_url)
                .unwrap()
                .into_transport(),
        )
        .await
        .unwrap();
    assert_eq!(client.list_all_tools().await.unwrap().len(), 2);
    let (_, tok) = store.tokens_for_server(&env.mcp_url).await.unwrap()[0].clone();
    let key = mcp_oauth_client::dpop::DpopKey::from_secret(tok.dpop_key.as_ref().unwrap()).unwrap();
    assert_eq!(
        claims(tok.access_token.expose())["cnf"]["jkt"],
        key.thumbprint()
    );
    assert!(tok.refresh_token.is_none());
    client.cancel().await.unwrap();
}

/// The guard wants nonces: the rmcp transport and `AuthorizedClient` learn them and retry once.
#[tokio::test]
async fn resource_server_nonces_are_learnt_and_used() {
    let env = Env::start_with(true).await;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let manager = dpop_manager(&env, store.clone());
    let client = ()
        .serve(
            OAuthHttpClient::new(manager.clone(), &env.mcp_url)
                .unwrap()
                .into_transport(),
        )
        .await
        .unwrap();
    assert_eq!(client.list_all_tools().await.unwrap().len(), 2);
    let http = AuthorizedClient::new(manager, &env.mcp_url).unwrap();
    let r = http
        .send(|c| {
            c.post(&env.mcp_url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#)
        })
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    client.cancel().await.unwrap();
}
