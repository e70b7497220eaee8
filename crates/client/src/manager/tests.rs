//! Unit tests of the token manager: identities and scope unions.

use super::*;

#[tokio::test]
async fn a_manager_only_uses_the_tokens_of_its_identity() {
    use mcp_oauth_core::secret::Secret;
    const URL: &str = "https://mcp.example/mcp";
    let tok = |at: &str, obtained: i64, refresh: bool| StoredToken {
        server_url: URL.into(),
        token_endpoint: "https://as.example/token".into(),
        access_token: Secret::new(at),
        refresh_token: refresh.then(|| Secret::new("rt")),
        expires_at: None,
        scope: None,
        obtained_at: obtained,
        auth_method: Some(
            if refresh {
                "none"
            } else {
                "client_secret_basic"
            }
            .into(),
        ),
        dpop_key: None,
    };
    let key = |client: &str, grant: Option<&str>| TokenKey {
        issuer: "https://as.example".into(),
        resource: URL.into(),
        client_id: client.into(),
        grant: grant.map(Into::into),
    };
    let store = Arc::new(MemoryStore::new());
    let put = |k: TokenKey, t: StoredToken| {
        let store = store.clone();
        async move { store.put_token(&k, &t).await.unwrap() }
    };
    put(
        key("app", Some("authorization_code")),
        tok("person", 2, true),
    )
    .await;
    put(key("bot", None), tok("legacy-bot", 3, false)).await;
    let bot = TokenManager::builder(
        ClientConfig::new()
            .grant(GrantMode::ClientCredentials)
            .pre_registered(ClientRegistration::pre_registered(
                "bot",
                ClientAuth::Secret(Secret::new("s")),
            )),
    )
    .store(store.clone())
    .build()
    .unwrap();
    assert!(
        bot.stored_token(URL).await.unwrap().is_none(),
        "neither the person's token nor an old entry"
    );
    put(key("bot", Some("client_credentials")), tok("bot", 1, false)).await;
    let (_, t) = bot.stored_token(URL).await.unwrap().unwrap();
    assert_eq!(t.access_token.expose(), "bot");

    let person = TokenManager::builder(ClientConfig::new())
        .store(store.clone())
        .build()
        .unwrap();
    let (_, t) = person.stored_token(URL).await.unwrap().unwrap();
    assert_eq!(
        t.access_token.expose(),
        "person",
        "never the machine's, old or new"
    );
}

#[test]
fn scope_union() {
    assert_eq!(
        union_scopes(Some("b c"), Some("a b")).as_deref(),
        Some("a b c")
    );
    assert_eq!(union_scopes(Some("x"), None).as_deref(), Some("x"));
    assert_eq!(union_scopes(None, None), None);
}
