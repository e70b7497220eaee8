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

//!
//! `mod.rs` holds the manager and its public calls; `refresh.rs` the refresh under the locks;
//! `authorize.rs` discovery, registration and the grants; `device.rs` the device authorization
//! grant; `revoke.rs` RFC 7009 revocation.

mod authorize;
mod device;
mod refresh;
mod revoke;
#[cfg(test)]
mod tests;

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
            dpop_nonces: crate::dpop::Nonces::default(),
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
    dpop_nonces: crate::dpop::Nonces,
}

impl TokenManager {
    /// The DPoP side of a token request with `key`.
    pub(crate) fn dpop_for<'a>(
        &'a self,
        key: Option<&'a crate::dpop::DpopKey>,
    ) -> Option<token::Dpop<'a>> {
        key.map(|key| token::Dpop {
            key,
            nonces: &self.dpop_nonces,
        })
    }

    /// The headers that present `token` on `method url` (RFC 6750 or RFC 9449 §7.1): `Bearer`,
    /// or, for a token bound to a key in the store, `DPoP` with a fresh proof of that key (and
    /// the latest nonce of that server).
    pub async fn authorization_headers(
        &self,
        server_url: &str,
        token: &str,
        method: &str,
        url: &str,
    ) -> Result<Vec<(reqwest::header::HeaderName, reqwest::header::HeaderValue)>> {
        use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};
        let stored = self.select_stored(server_url).await?;
        let key = match stored {
            Some((_, tok)) if tok.access_token.expose() == token => tok.dpop_key,
            _ => None,
        };
        let header = |scheme: &str| {
            let mut v = HeaderValue::from_str(&format!("{scheme} {token}"))
                .map_err(|_| Error::Config("the access token cannot be sent in a header".into()))?;
            v.set_sensitive(true);
            Ok::<_, Error>(v)
        };
        let Some(key) = key else {
            return Ok(vec![(AUTHORIZATION, header("Bearer")?)]);
        };
        let key = crate::dpop::DpopKey::from_secret(&key)?;
        let nonce = self.dpop_nonces.get(url);
        let proof = key.proof(method, url, Some(token), nonce.as_deref(), self.clock.now())?;
        Ok(vec![
            (AUTHORIZATION, header(mcp_oauth_core::dpop::SCHEME)?),
            (HeaderName::from_static("dpop"), proof),
        ])
    }

    /// Remembers the `DPoP-Nonce` a resource server sent with a response to `url`; whether
    /// there was one.
    pub fn note_dpop_nonce(&self, url: &str, headers: &reqwest::header::HeaderMap) -> bool {
        self.dpop_nonces.note(url, headers)
    }
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
            None => matches!(
                self.config.grant,
                GrantMode::AuthorizationCode | GrantMode::DeviceCode
            ),
        };
        let pre = &self.config.registration.pre_registered;
        let same_client = pre.is_empty()
            || pre
                .iter()
                .any(|r| r.applies_to(&key.issuer) && r.client_id == key.client_id);
        same_grant && same_client
    }

    fn registrar(&self) -> Registrar<'_> {
        Registrar {
            fetcher: &self.fetcher,
            store: self.store.as_ref(),
            config: &self.config.registration,
            now: self.clock.now(),
        }
    }

    async fn save(
        &self,
        d: &Discovery,
        client: &ClientRegistration,
        issued: IssuedToken,
        requested_scope: Option<String>,
        dpop_key: Option<&crate::dpop::DpopKey>,
    ) -> Result<String> {
        let now = self.clock.now();
        let key = TokenKey {
            issuer: d.issuer.clone(),
            resource: d.resource.clone(),
            client_id: client.client_id.clone(),
            grant: Some(self.config.grant.key_name().to_owned()),
        };
        let token_endpoint = token::endpoint(&d.metadata, &d.issuer)?.to_owned();
        let stored = StoredToken {
            server_url: d.server_url.clone(),
            token_endpoint,
            access_token: issued.access_token,
            refresh_token: issued.refresh_token,
            expires_at: issued.expires_in.map(|s| now + clamp_secs(s)),
            scope: issued.scope.or(requested_scope),
            obtained_at: now,
            auth_method: Some(client.auth.method(Some(&d.metadata)).to_owned()),
            dpop_key: dpop_key.map(crate::dpop::DpopKey::to_secret),
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
