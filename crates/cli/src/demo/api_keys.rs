//! API keys checked in process: inside `serve --demo` the guard asks the authorization server's
//! own state ([`mcp_oauth_server::api_keys::check`]) rather than its introspection endpoint, so a
//! revoked key is refused at the next request (no cache), and every use is audited.

use async_trait::async_trait;
use mcp_oauth_resource::{Principal, PrincipalData, TokenVerifier, VerifyError};
use mcp_oauth_server::AppState;
use mcp_oauth_server::api_keys;

/// Verifies API keys for one resource against the server's store.
pub struct InProcessKeys {
    state: AppState,
    resources: [String; 1],
}

impl InProcessKeys {
    /// Keys bound to `resource`, checked in `state`.
    pub fn new(state: AppState, resource: String) -> Self {
        Self {
            state,
            resources: [resource],
        }
    }
}

#[async_trait]
impl TokenVerifier for InProcessKeys {
    async fn verify(&self, token: &str) -> Result<Principal, VerifyError> {
        if !api_keys::looks_like_key(token) {
            return Err(VerifyError::invalid("the access token is not valid"));
        }
        let store = self.state.store().as_ref();
        let now = self.state.now();
        let key = api_keys::check(
            store,
            self.state.api_key_hmac(),
            token,
            &self.resources,
            None,
            now,
        )
        .await
        .map_err(|e| VerifyError::Unavailable(e.to_string()))?
        .ok_or_else(|| {
            VerifyError::invalid("the API key is not valid (unknown, revoked or expired)")
        })?;
        Ok(Principal::new(PrincipalData {
            issuer: self.state.config().issuer.clone(),
            subject: Some(api_keys::subject(&key)),
            client_id: Some(format!("api-key:{}", key.id)),
            scopes: key.scope.clone(),
            audience: vec![key.resource.clone()],
            expires_at: Some(key.expires_at),
            claims: serde_json::json!({"api_key_id": key.id}),
        }))
    }
}
