//! Refreshing a stored token while holding the locks, and finding the client it was issued to.

use super::*;

impl TokenManager {
    /// Refreshes the token under `key` while holding the store's lock. With `rejected`, the
    /// token is refreshed even if it looks fresh, unless the store already holds another one.
    pub(super) async fn refresh_locked(
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
        let dpop_key = tok
            .dpop_key
            .as_ref()
            .map(crate::dpop::DpopKey::from_secret)
            .transpose()?;
        let result = token::request(
            &self.fetcher,
            TokenEndpoint {
                url: &tok.token_endpoint,
                issuer: &key.issuer,
                client: &client,
                method: &method,
                dpop: self.dpop_for(dpop_key.as_ref()),
            },
            params,
            now,
            true,
        )
        .await;
        match result {
            Ok(issued) => {
                let bound = issued.is_dpop();
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
                    // A bound token's successor is bound to the same key.
                    dpop_key: tok.dpop_key.clone().filter(|_| bound),
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
    pub(super) async fn client_for_token(
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
    pub(super) async fn client_for_refresh(
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
}
