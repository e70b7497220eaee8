//! The device authorization grant for the manager (RFC 8628): registration for it, the start
//! at the `device_authorization_endpoint`, the prompt showing the code, the polling.

use super::*;

impl TokenManager {
    /// The device flow, with one fresh registration if the AS no longer knows a dynamically
    /// registered client.
    pub(super) async fn device_flow(
        &self,
        d: &Discovery,
        scope: Option<&str>,
        dpop_key: Option<&crate::dpop::DpopKey>,
    ) -> Result<(ClientRegistration, IssuedToken)> {
        let device_url = d
            .metadata
            .device_authorization_endpoint
            .as_deref()
            .ok_or_else(|| Error::MissingEndpoint {
                issuer: d.issuer.clone(),
                endpoint: "device_authorization_endpoint",
            })?;
        let token_url = token::endpoint(&d.metadata, &d.issuer)?;
        let mut retried = false;
        loop {
            let registrar = self.registrar();
            let client = registrar.resolve_device(&d.issuer, &d.metadata).await?;
            let method = client.auth.method(Some(&d.metadata));
            let at_device_endpoint = TokenEndpoint {
                url: device_url,
                issuer: &d.issuer,
                client: &client,
                method,
                dpop: None,
            };
            let started = crate::device::start(
                &self.fetcher,
                at_device_endpoint,
                &d.resource,
                scope,
                self.clock.now(),
            )
            .await;
            let started = match started {
                Ok(s) => s,
                Err(e)
                    if !retried
                        && is_stale_client(&e)
                        && client.source == RegistrationSource::Dynamic =>
                {
                    tracing::info!(target: "mcp_oauth::client", issuer = %d.issuer, "the AS no longer knows our device registration; registering again");
                    registrar
                        .forget(&crate::registration::device_key(&d.issuer), &client)
                        .await?;
                    retried = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            self.prompt.show_device_code(&started).await?;
            let issued = crate::device::poll(
                &self.fetcher,
                TokenEndpoint {
                    url: token_url,
                    dpop: self.dpop_for(dpop_key),
                    ..at_device_endpoint
                },
                &started,
                &d.resource,
                || self.clock.now(),
            )
            .await?;
            return Ok((client, issued));
        }
    }
}
