//! The token manager: hands out a valid access token for an MCP server, refreshing it shortly
//! before it expires and running discovery, registration and authorization when there is none.
//!
//! Refreshes are single-flight. Inside a process a tokio mutex per server serialises callers; the
//! store's [`CredentialStore::lock`] does the same across processes sharing a file store. After
//! taking the locks the store is read again, so a caller that waited uses the token the winner
//! stored instead of refreshing again (which, with refresh token rotation, would present an
//! already-used refresh token and get the whole family revoked).
//!
//! A refresh that fails with `invalid_grant` drops the stored token: a full authorization is
//! needed. `invalid_client` also drops a dynamic registration, so the next authorization registers
//! afresh (exactly once per attempt).

use crate::authorize::{AuthorizationRequest, select_scope};
use crate::callback::LoopbackListener;
use crate::config::{ClientConfig, GrantMode};
use crate::discovery::{self, Discovery};
use crate::error::{Error, Result};
use crate::fetch::Fetcher;
use crate::prompt::{AuthorizationPrompt, BrowserPrompt, PromptRequest};
use crate::registration::{ClientAuth, ClientRegistration, Registrar, RegistrationSource};
use crate::store::{CredentialStore, MemoryStore, StoredToken, TokenKey};
use crate::token::{self, IssuedToken, TokenEndpoint};
use crate::{client_credentials, enterprise};
use mcp_oauth_core::challenge::BearerChallenge;
use mcp_oauth_core::clock::{SharedClock, SystemClock};
use mcp_oauth_core::scope::ScopeSet;
use mcp_oauth_core::token::grant_type;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Builds a [`TokenManager`].
#[derive(Debug)]
pub struct TokenManagerBuilder {
    config: ClientConfig,
    store: Option<Arc<dyn CredentialStore>>,
    prompt: Option<Arc<dyn AuthorizationPrompt>>,
    clock: Option<SharedClock>,
}

impl TokenManagerBuilder {
    /// Where tokens and registrations are kept (default: a [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn CredentialStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// How the user is taken through authorization (default: [`BrowserPrompt`]).
    pub fn prompt(mut self, prompt: Arc<dyn AuthorizationPrompt>) -> Self {
        self.prompt = Some(prompt);
        self
    }

    /// The clock for expiry decisions (default: the system clock; tests pass a `TestClock`).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Builds the manager (and its HTTP client).
    pub fn build(self) -> Result<TokenManager> {
        if let Some(url) = &self.config.registration.client_metadata_document_url {
            crate::registration::validate_metadata_document_url(url)?;
        }
        let fetcher = Fetcher::new(self.config.http.clone())?;
        Ok(TokenManager {
            fetcher,
            store: self.store.unwrap_or_else(|| Arc::new(MemoryStore::new())),
            prompt: self.prompt.unwrap_or_else(|| Arc::new(BrowserPrompt)),
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            config: self.config,
            locks: Mutex::new(HashMap::new()),
            discoveries: Mutex::new(HashMap::new()),
        })
    }
}

/// What [`TokenManager::revoke_and_forget`] did with one stored token.
#[derive(Debug, Clone)]
pub struct Revocation {
    /// Which token.
    pub key: TokenKey,
    /// `Ok(true)`: revoked; `Ok(false)`: the AS has no revocation endpoint; `Err`: why the
    /// revocation failed (the token was forgotten all the same).
    pub outcome: std::result::Result<bool, String>,
}

/// Hands out access tokens for MCP servers. Share it with `Arc`.
#[derive(Debug)]
pub struct TokenManager {
    config: ClientConfig,
    fetcher: Fetcher,
    store: Arc<dyn CredentialStore>,
    prompt: Arc<dyn AuthorizationPrompt>,
    clock: SharedClock,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    discoveries: Mutex<HashMap<String, Discovery>>,
}

impl TokenManager {
    /// A builder with `config`.
    pub fn builder(config: ClientConfig) -> TokenManagerBuilder {
        TokenManagerBuilder {
            config,
            store: None,
            prompt: None,
            clock: None,
        }
    }

    /// The HTTP client with the URL policy (for callers that fetch more, e.g. `doctor`).
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn CredentialStore> {
        &self.store
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// The last discovery result for `server_url`, if one ran in this process.
    pub fn last_discovery(&self, server_url: &str) -> Option<Discovery> {
        self.discoveries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(server_url)
            .cloned()
    }

    /// A valid access token for `server_url`, obtaining one if needed (probe → discovery →
    /// registration → authorization). The seam for transports such as rmcp's.
    pub async fn bearer_token(&self, server_url: &str) -> Result<String> {
        if let Some(t) = self.cached_token(server_url).await? {
            return Ok(t);
        }
        let lock = self.local_lock(server_url);
        let _g = lock.lock().await;
        if let Some(t) = self.cached_token_locked(server_url).await? {
            return Ok(t);
        }
        let challenge = discovery::probe(&self.fetcher, server_url).await?;
        self.authorize_locked(server_url, challenge.as_ref(), None)
            .await
    }

    /// A stored token that is valid (refreshing it if it is about to expire), or `None` when a
    /// full authorization is needed. Never prompts the user.
    pub async fn cached_token(&self, server_url: &str) -> Result<Option<String>> {
        if let Some((_, tok)) = self.select_stored(server_url).await?
            && self.fresh(&tok)
        {
            return Ok(Some(tok.access_token.expose().to_owned()));
        }
        let lock = self.local_lock(server_url);
        let _g = lock.lock().await;
        self.cached_token_locked(server_url).await
    }

    async fn cached_token_locked(&self, server_url: &str) -> Result<Option<String>> {
        let Some((key, tok)) = self.select_stored(server_url).await? else {
            return Ok(None);
        };
        if self.fresh(&tok) {
            return Ok(Some(tok.access_token.expose().to_owned()));
        }
        self.refresh_locked(&key, None).await
    }

    /// Runs a full authorization now (`login`): probes the server for its challenge, then
    /// discovery, registration and the configured grant. Replaces any stored token.
    pub async fn login(&self, server_url: &str) -> Result<String> {
        let lock = self.local_lock(server_url);
        let _g = lock.lock().await;
        let challenge = discovery::probe(&self.fetcher, server_url).await?;
        self.authorize_locked(server_url, challenge.as_ref(), None)
            .await
    }

    /// Runs a full authorization driven by a 401 `challenge` (its `resource_metadata` and
    /// `scope` are used).
    pub async fn authorize(
        &self,
        server_url: &str,
        challenge: Option<&BearerChallenge>,
    ) -> Result<String> {
        let lock = self.local_lock(server_url);
        let _g = lock.lock().await;
        self.authorize_locked(server_url, challenge, None).await
    }

    /// Reacts to a 401 for a request made with `rejected` (None: no token was sent): uses a
    /// newer stored token if another caller got one meanwhile, else refreshes, else authorizes.
    pub async fn handle_unauthorized(
        &self,
        server_url: &str,
        challenge: Option<&BearerChallenge>,
        rejected: Option<&str>,
    ) -> Result<String> {
        let lock = self.local_lock(server_url);
        let _g = lock.lock().await;
        if let Some((key, tok)) = self.select_stored(server_url).await? {
            let current = tok.access_token.expose();
            if rejected.is_none_or(|r| r != current) && self.fresh(&tok) {
                return Ok(current.to_owned());
            }
            if rejected.is_some_and(|r| r == current) {
                // SEP-2352: the server may have moved to another authorization server. Its
                // tokens and registration belong to the old one: authorize afresh at the new.
                if let Ok(d) = self.discover(server_url, challenge).await
                    && d.issuer != key.issuer
                {
                    tracing::info!(target: "mcp_oauth::client", old = %key.issuer, new = %d.issuer, "the server's authorization server changed; authorizing there");
                    return self.authorize_locked(server_url, challenge, None).await;
                }
                if let Some(t) = self.refresh_locked(&key, rejected).await? {
                    return Ok(t);
                }
            }
        }
        self.authorize_locked(server_url, challenge, None).await
    }

    /// Step-up after a 403 `insufficient_scope`: authorizes again for the challenged scopes
    /// united with those already granted (SEP-835; the union per SEP-2350).
    pub async fn step_up(&self, server_url: &str, challenge: &BearerChallenge) -> Result<String> {
        let lock = self.local_lock(server_url);
        let _g = lock.lock().await;
        let granted = self
            .select_stored(server_url)
            .await?
            .and_then(|(_, t)| t.scope);
        let scope = union_scopes(challenge.scope.as_deref(), granted.as_deref());
        self.authorize_locked(server_url, Some(challenge), scope)
            .await
    }

    /// Forgets every token stored for `server_url`.
    pub async fn logout(&self, server_url: &str) -> Result<usize> {
        let tokens = self.store.tokens_for_server(server_url).await?;
        for (key, _) in &tokens {
            self.store.remove_token(key).await?;
        }
        Ok(tokens.len())
    }

    /// Revokes every token stored for `server_url` at its authorization server (RFC 7009: the
    /// refresh token first, which ends the grant, then the access token), then forgets them.
    /// Tokens are forgotten even when revocation fails; each outcome is reported.
    pub async fn revoke_and_forget(&self, server_url: &str) -> Result<Vec<Revocation>> {
        self.revoke_and_forget_where(server_url, |_| true).await
    }

    /// [`Self::revoke_and_forget`] for the tokens whose key `which` accepts (e.g. one identity:
    /// [`Self::acts_as`]).
    pub async fn revoke_and_forget_where(
        &self,
        server_url: &str,
        which: impl Fn(&TokenKey) -> bool,
    ) -> Result<Vec<Revocation>> {
        let tokens = self.store.tokens_for_server(server_url).await?;
        let mut out = Vec::new();
        for (key, tok) in tokens.into_iter().filter(|(k, _)| which(k)) {
            let outcome = self.revoke_stored(&key, &tok).await;
            self.store.remove_token(&key).await?;
            out.push(Revocation {
                key,
                outcome: outcome.map_err(|e| e.to_string()),
            });
        }
        Ok(out)
    }

    async fn revoke_stored(&self, key: &TokenKey, tok: &StoredToken) -> Result<bool> {
        let metadata =
            discovery::fetch_authorization_server_metadata(&self.fetcher, &key.issuer).await?;
        let Some(endpoint) = metadata.revocation_endpoint.as_deref() else {
            return Ok(false);
        };
        let client =
            self.client_for_token(key, tok)
                .await?
                .ok_or_else(|| Error::NoRegistration {
                    issuer: key.issuer.clone(),
                    reason: format!("the credentials of client {} are gone", key.client_id),
                })?;
        let method = tok
            .auth_method
            .clone()
            .unwrap_or_else(|| client.auth.method(Some(&metadata)).to_owned());
        let ep = TokenEndpoint {
            url: endpoint,
            issuer: &key.issuer,
            client: &client,
            method: &method,
        };
        let now = self.clock.now();
        if let Some(rt) = &tok.refresh_token {
            token::revoke(&self.fetcher, ep, rt, "refresh_token", now).await?;
        }
        token::revoke(&self.fetcher, ep, &tok.access_token, "access_token", now).await?;
        Ok(true)
    }

    /// Runs discovery for `server_url` (without authorizing), e.g. for diagnostics.
    pub async fn discover(
        &self,
        server_url: &str,
        challenge: Option<&BearerChallenge>,
    ) -> Result<Discovery> {
        discovery::discover(
            &self.fetcher,
            server_url,
            challenge,
            self.config.legacy_fallback,
        )
        .await
    }

    fn local_lock(&self, server_url: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.locks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(server_url.to_owned())
            .or_default()
            .clone()
    }

    fn fresh(&self, tok: &StoredToken) -> bool {
        let now = self.clock.now();
        tok.expires_at
            .is_none_or(|e| now + self.config.refresh_skew < e)
    }

    /// The newest token stored for `server_url` that belongs to the identity this manager acts
    /// as ([`Self::acts_as`]); another identity's token is never returned.
    async fn select_stored(&self, server_url: &str) -> Result<Option<(TokenKey, StoredToken)>> {
        Ok(self
            .store
            .tokens_for_server(server_url)
            .await?
            .into_iter()
            .filter(|(k, t)| self.acts_as(k) && (k.grant.is_some() || legacy_is_a_person(t)))
            .max_by_key(|(_, t)| t.obtained_at))
    }

    /// The stored token this manager would use for `server_url` (without refreshing it).
    pub async fn stored_token(&self, server_url: &str) -> Result<Option<(TokenKey, StoredToken)>> {
        self.select_stored(server_url).await
    }

    /// Whether a token stored under `key` belongs to the identity this manager acts as: the same
    /// grant (entries without one, from older files, only for the authorization code flow), and,
    /// when client ids are configured, one of them.
    pub fn acts_as(&self, key: &TokenKey) -> bool {
        let grant = self.config.grant.key_name();
        let same_grant = match key.grant.as_deref() {
            Some(g) => g == grant,
            None => matches!(self.config.grant, GrantMode::AuthorizationCode),
        };
        let pre = &self.config.registration.pre_registered;
        let same_client = pre.is_empty()
            || pre
                .iter()
                .any(|r| r.applies_to(&key.issuer) && r.client_id == key.client_id);
        same_grant && same_client
    }

    /// Refreshes the token under `key` while holding the store's lock. With `rejected`, the
    /// token is refreshed even if it looks fresh, unless the store already holds another one.
    async fn refresh_locked(
        &self,
        key: &TokenKey,
        rejected: Option<&str>,
    ) -> Result<Option<String>> {
        let _cross_process = self.store.lock(key).await?;
        let Some(tok) = self.store.get_token(key).await? else {
            return Ok(None);
        };
        let current = tok.access_token.expose();
        match rejected {
            Some(r) if r != current => return Ok(Some(current.to_owned())),
            None if self.fresh(&tok) => return Ok(Some(current.to_owned())),
            _ => {}
        }
        let Some(refresh_token) = tok.refresh_token.clone() else {
            return Ok(None);
        };
        let Some(client) = self.client_for_token(key, &tok).await? else {
            tracing::info!(target: "mcp_oauth::client", issuer = %key.issuer, "no credentials for the stored client; full authorization needed");
            return Ok(None);
        };
        let params = vec![
            ("grant_type".into(), grant_type::REFRESH_TOKEN.into()),
            ("refresh_token".into(), refresh_token.expose().to_owned()),
            ("resource".into(), key.resource.clone()),
        ];
        let method = tok
            .auth_method
            .clone()
            .unwrap_or_else(|| client.auth.method(None).to_owned());
        let now = self.clock.now();
        let result = token::request(
            &self.fetcher,
            TokenEndpoint {
                url: &tok.token_endpoint,
                issuer: &key.issuer,
                client: &client,
                method: &method,
            },
            params,
            now,
            true,
        )
        .await;
        match result {
            Ok(issued) => {
                let stored = StoredToken {
                    server_url: tok.server_url.clone(),
                    token_endpoint: tok.token_endpoint.clone(),
                    expires_at: issued.expires_in.map(|s| now + clamp_secs(s)),
                    // Keep the old refresh token only if the AS did not rotate it.
                    refresh_token: issued.refresh_token.or(Some(refresh_token)),
                    scope: issued.scope.or(tok.scope.clone()),
                    access_token: issued.access_token,
                    obtained_at: now,
                    auth_method: Some(method),
                };
                self.store.put_token(key, &stored).await?;
                tracing::debug!(target: "mcp_oauth::client", key = %key, "refreshed");
                Ok(Some(stored.access_token.expose().to_owned()))
            }
            Err(e) if e.oauth_error() == Some("invalid_grant") => {
                tracing::info!(target: "mcp_oauth::client", key = %key, "refresh token refused (invalid_grant); full authorization needed");
                self.store.remove_token(key).await?;
                Ok(None)
            }
            Err(e) if e.oauth_error() == Some("invalid_client") => {
                tracing::info!(target: "mcp_oauth::client", key = %key, "client unknown to the AS (invalid_client); dropping it");
                self.store.remove_token(key).await?;
                self.registrar().forget(&key.issuer, &client).await?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The client a stored token was issued to: configured or registered credentials, or, for
    /// a public client (`none`) that is no longer configured, just its id.
    async fn client_for_token(
        &self,
        key: &TokenKey,
        tok: &StoredToken,
    ) -> Result<Option<ClientRegistration>> {
        if let Some(c) = self.client_for_refresh(&key.issuer, &key.client_id).await? {
            return Ok(Some(c));
        }
        Ok(
            (tok.auth_method.as_deref() == Some(mcp_oauth_core::token::auth_method::NONE)).then(
                || ClientRegistration {
                    issuer: Some(key.issuer.clone()),
                    client_id: key.client_id.clone(),
                    auth: ClientAuth::None,
                    source: RegistrationSource::PreRegistered,
                    client_secret_expires_at: None,
                },
            ),
        )
    }

    /// The credentials of the client a stored token was issued to.
    async fn client_for_refresh(
        &self,
        issuer: &str,
        client_id: &str,
    ) -> Result<Option<ClientRegistration>> {
        let reg = &self.config.registration;
        if let Some(pre) = reg
            .pre_registered
            .iter()
            .find(|r| r.applies_to(issuer) && r.client_id == client_id)
        {
            return Ok(Some(pre.clone()));
        }
        if reg.client_metadata_document_url.as_deref() == Some(client_id) {
            return Ok(Some(ClientRegistration {
                issuer: Some(issuer.to_owned()),
                client_id: client_id.to_owned(),
                auth: ClientAuth::None,
                source: RegistrationSource::MetadataDocument,
                client_secret_expires_at: None,
            }));
        }
        Ok(self
            .store
            .get_registration(issuer)
            .await?
            .filter(|r| r.client_id == client_id)
            .map(ClientRegistration::from_stored))
    }

    fn registrar(&self) -> Registrar<'_> {
        Registrar {
            fetcher: &self.fetcher,
            store: self.store.as_ref(),
            config: &self.config.registration,
            now: self.clock.now(),
        }
    }

    /// Discovery, then the configured grant; stores and returns the new token.
    async fn authorize_locked(
        &self,
        server_url: &str,
        challenge: Option<&BearerChallenge>,
        scope: Option<String>,
    ) -> Result<String> {
        let d = self.discover(server_url, challenge).await?;
        self.discoveries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(server_url.to_owned(), d.clone());
        let scope = scope.or_else(|| self.config.scope.clone()).or_else(|| {
            select_scope(
                challenge.and_then(|c| c.scope.as_deref()),
                d.scopes_supported(),
            )
        });
        let (client, issued) = match &self.config.grant {
            GrantMode::AuthorizationCode => self.code_flow(&d, scope.as_deref()).await?,
            GrantMode::ClientCredentials => {
                let client = self.pre_registered_for(&d.issuer, "the client credentials grant")?;
                let issued = client_credentials::request_token(
                    &self.fetcher,
                    &d.issuer,
                    &d.metadata,
                    &client,
                    &d.resource,
                    scope.as_deref(),
                    self.clock.now(),
                )
                .await?;
                (client, issued)
            }
            GrantMode::Enterprise(cfg) => {
                let client = match self.registrar().pre_registered(&d.issuer) {
                    Some(c) => c,
                    None => match &self.config.registration.client_metadata_document_url {
                        Some(url) => ClientRegistration {
                            issuer: Some(d.issuer.clone()),
                            client_id: url.clone(),
                            auth: ClientAuth::None,
                            source: RegistrationSource::MetadataDocument,
                            client_secret_expires_at: None,
                        },
                        None => {
                            return Err(Error::NoRegistration {
                                issuer: d.issuer.clone(),
                                reason: "enterprise-managed authorization needs a pre-registered client or a client metadata document URL".into(),
                            });
                        }
                    },
                };
                let now = self.clock.now();
                let id_jag = enterprise::request_id_jag(
                    &self.fetcher,
                    cfg,
                    &d.issuer,
                    &d.resource,
                    scope.as_deref(),
                    now,
                )
                .await?;
                let issued = enterprise::redeem_id_jag(
                    &self.fetcher,
                    &d.metadata,
                    &client,
                    &id_jag,
                    &d.resource,
                    scope.as_deref(),
                    now,
                )
                .await?;
                (client, issued)
            }
            GrantMode::JwtBearer(assertion) => {
                let client = self.pre_registered_for(&d.issuer, "the JWT-bearer grant")?;
                let issued = enterprise::redeem_id_jag(
                    &self.fetcher,
                    &d.metadata,
                    &client,
                    assertion,
                    &d.resource,
                    scope.as_deref(),
                    self.clock.now(),
                )
                .await?;
                (client, issued)
            }
        };
        self.save(&d, &client, issued, scope).await
    }

    fn pre_registered_for(&self, issuer: &str, what: &str) -> Result<ClientRegistration> {
        self.registrar()
            .pre_registered(issuer)
            .ok_or_else(|| Error::NoRegistration {
                issuer: issuer.to_owned(),
                reason: format!("{what} needs pre-registered client credentials"),
            })
    }

    /// Authorization code + PKCE, with one fresh registration if the AS no longer knows a
    /// dynamically registered client.
    async fn code_flow(
        &self,
        d: &Discovery,
        scope: Option<&str>,
    ) -> Result<(ClientRegistration, IssuedToken)> {
        if !d.metadata.supports_s256() {
            return Err(Error::PkceUnsupported {
                issuer: d.issuer.clone(),
            });
        }
        let mut retried = false;
        loop {
            let listener = LoopbackListener::bind().await?;
            let redirect_uri = listener.redirect_uri();
            let registrar = self.registrar();
            let client = registrar
                .resolve(&d.issuer, &d.metadata, &redirect_uri)
                .await?;
            let request = AuthorizationRequest::new(
                &self.fetcher,
                &d.issuer,
                &d.metadata,
                &client.client_id,
                &redirect_uri,
                &d.resource,
                scope,
            )?;
            let prompt = PromptRequest {
                authorization_url: request.url.clone(),
                redirect_uri: redirect_uri.clone(),
                timeout: self.config.callback_timeout,
            };
            let verdict = listener.verdict();
            let outcome = match self.prompt.authorize(&prompt, listener).await {
                Ok(params) => match request.validate_response(&params) {
                    Ok(code) => {
                        request
                            .exchange(&self.fetcher, &d.metadata, &client, &code, self.clock.now())
                            .await
                    }
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            // The browser's tab shows how it ended (a prompt that did not use the listener has
            // no tab waiting: nothing to deliver).
            verdict
                .report(outcome.as_ref().map(|_| ()).map_err(ToString::to_string))
                .await;
            match outcome {
                Ok(issued) => return Ok((client, issued)),
                Err(e)
                    if !retried
                        && is_stale_client(&e)
                        && client.source == RegistrationSource::Dynamic =>
                {
                    tracing::info!(target: "mcp_oauth::client", issuer = %d.issuer, "the AS no longer knows our registration; registering again");
                    registrar.forget(&d.issuer, &client).await?;
                    retried = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn save(
        &self,
        d: &Discovery,
        client: &ClientRegistration,
        issued: IssuedToken,
        requested_scope: Option<String>,
    ) -> Result<String> {
        let now = self.clock.now();
        let key = TokenKey {
            issuer: d.issuer.clone(),
            resource: d.resource.clone(),
            client_id: client.client_id.clone(),
            grant: Some(self.config.grant.key_name().to_owned()),
        };
        let token_endpoint =
            d.metadata
                .token_endpoint
                .clone()
                .ok_or_else(|| Error::MissingEndpoint {
                    issuer: d.issuer.clone(),
                    endpoint: "token_endpoint",
                })?;
        let stored = StoredToken {
            server_url: d.server_url.clone(),
            token_endpoint,
            access_token: issued.access_token,
            refresh_token: issued.refresh_token,
            expires_at: issued.expires_in.map(|s| now + clamp_secs(s)),
            scope: issued.scope.or(requested_scope),
            obtained_at: now,
            auth_method: Some(client.auth.method(Some(&d.metadata)).to_owned()),
        };
        // This identity's tokens for this server from another AS or client are superseded (and
        // an entry of an older file for the same client, which had no grant, is migrated).
        // Another identity's tokens (a person's beside a machine's) stay.
        for (old, _) in self.store.tokens_for_server(&d.server_url).await? {
            let legacy_same_client =
                old.grant.is_none() && old.client_id == key.client_id && old.issuer == key.issuer;
            if old != key && (self.acts_as(&old) || legacy_same_client) {
                self.store.remove_token(&old).await?;
            }
        }
        self.store.put_token(&key, &stored).await?;
        Ok(stored.access_token.expose().to_owned())
    }
}

/// Whether an entry of an older file (no grant recorded) was obtained by a person: a public
/// client's token, or one with a refresh token (the client credentials grant issues none). Only
/// such entries are used, and only by the authorization code flow.
fn legacy_is_a_person(tok: &StoredToken) -> bool {
    tok.refresh_token.is_some()
        || tok.auth_method.as_deref() == Some(mcp_oauth_core::token::auth_method::NONE)
}

fn is_stale_client(e: &Error) -> bool {
    match e {
        Error::OAuth { error, .. } | Error::AuthorizationDenied { error, .. } => {
            error == "invalid_client"
        }
        _ => false,
    }
}

fn clamp_secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX / 2).min(i64::MAX / 2)
}

/// The union of the challenged and granted scopes; the challenge alone if either does not parse.
fn union_scopes(challenged: Option<&str>, granted: Option<&str>) -> Option<String> {
    let parse = |s: Option<&str>| s.map(ScopeSet::parse).transpose();
    match (parse(challenged), parse(granted)) {
        (Ok(c), Ok(g)) => {
            let u = c.unwrap_or_default().union(&g.unwrap_or_default());
            (!u.is_empty()).then(|| u.to_string())
        }
        _ => challenged.map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
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
}
