//! The device authorization grant for the manager (RFC 8628): registration for it (a
//! pre-registered client, the Client ID Metadata Document when the server supports it and
//! accepts it for this grant, else DCR), the start at the `device_authorization_endpoint`, the
//! prompt showing the code, the polling.

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
        // The metadata document is tried once: a server may accept it for the browser flow only.
        let mut use_document = true;
        loop {
            let registrar = self.registrar();
            let client = registrar
                .resolve_device(&d.issuer, &d.metadata, use_document)
                .await?;
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
                // The document does not list the device grant (`unauthorized_client`), or the
                // server would not use it (`invalid_client`): register for the grant instead.
                Err(e)
                    if use_document
                        && client.source == RegistrationSource::MetadataDocument
                        && refuses_document(&e)
                        && registrar.can_register(&d.metadata) =>
                {
                    tracing::info!(target: "mcp_oauth::client", issuer = %d.issuer, error = %e, "the AS does not accept our client metadata document for the device grant; registering dynamically");
                    use_document = false;
                    continue;
                }
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

/// Whether the device authorization endpoint refused a metadata document client id as such.
fn refuses_document(e: &Error) -> bool {
    matches!(e, Error::OAuth { error, .. } if error == "unauthorized_client" || error == "invalid_client")
}
