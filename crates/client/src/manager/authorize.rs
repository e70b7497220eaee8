//! A new token: discovery, then the configured grant (authorization code with PKCE, client
//! credentials, token exchange or JWT bearer), registering the client first when needed.

use super::*;

impl TokenManager {
    /// Discovery, then the configured grant; stores and returns the new token.
    pub(super) async fn authorize_locked(
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
        // RFC 9449: a fresh key for this authorization, when DPoP is on and the server takes it.
        let dpop_key = (self.config.dpop && crate::dpop::advertised(&d.metadata))
            .then(crate::dpop::DpopKey::generate)
            .transpose()?;
        let (client, issued) = match &self.config.grant {
            GrantMode::AuthorizationCode => {
                self.code_flow(&d, scope.as_deref(), dpop_key.as_ref())
                    .await?
            }
            GrantMode::DeviceCode => {
                self.device_flow(&d, scope.as_deref(), dpop_key.as_ref())
                    .await?
            }
            GrantMode::ClientCredentials => {
                let client = self.pre_registered_for(&d.issuer, "the client credentials grant")?;
                let issued = client_credentials::request_token_with(
                    &self.fetcher,
                    &d.issuer,
                    &d.metadata,
                    &client,
                    &d.resource,
                    scope.as_deref(),
                    self.clock.now(),
                    self.dpop_for(dpop_key.as_ref()),
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
        let dpop_key = dpop_key.filter(|_| issued.is_dpop());
        self.save(&d, &client, issued, scope, dpop_key.as_ref())
            .await
    }

    pub(super) fn pre_registered_for(
        &self,
        issuer: &str,
        what: &str,
    ) -> Result<ClientRegistration> {
        self.registrar()
            .pre_registered(issuer)
            .ok_or_else(|| Error::NoRegistration {
                issuer: issuer.to_owned(),
                reason: format!("{what} needs pre-registered client credentials"),
            })
    }

    /// Authorization code + PKCE, with one fresh registration if the AS no longer knows a
    /// dynamically registered client.
    pub(super) async fn code_flow(
        &self,
        d: &Discovery,
        scope: Option<&str>,
        dpop_key: Option<&crate::dpop::DpopKey>,
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
            let mut request = AuthorizationRequest::new(
                &self.fetcher,
                &d.issuer,
                &d.metadata,
                &client.client_id,
                &redirect_uri,
                &d.resource,
                scope,
            )?;
            request
                .push_if_advertised(&self.fetcher, &d.metadata, &client, self.clock.now())
                .await?;
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
                            .exchange(
                                &self.fetcher,
                                &d.metadata,
                                &client,
                                &code,
                                self.clock.now(),
                                self.dpop_for(dpop_key),
                            )
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
}
