//! RFC 7009 revocation of stored tokens at the issuer's `revocation_endpoint`, then forgetting
//! them.

use super::*;

impl TokenManager {
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
            dpop: None,
        };
        let now = self.clock.now();
        if let Some(rt) = &tok.refresh_token {
            token::revoke(&self.fetcher, ep, rt, "refresh_token", now).await?;
        }
        token::revoke(&self.fetcher, ep, &tok.access_token, "access_token", now).await?;
        Ok(true)
    }
}
