//! The demo guard's checks in process. API keys: inside `serve --demo` the guard asks the authorization server's
//! own state ([`mcp_oauth_server::api_keys::check`]) rather than its introspection endpoint, so a
//! revoked key is refused at the next request (no cache), and every use is audited. JWTs:
//! [`StillValid`] refuses one whose grant was revoked or whose client was disabled.

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

/// Verifies with `inner` (the JWKS-backed verifier, cached), then asks the server in process
/// whether the token still holds: its client not disabled, its grant not revoked. Without it a
/// guard trusts a signed token until it expires; inside `serve` it can know better at the cost of
/// one cached record read and one grant read per request.
pub struct StillValid<V> {
    inner: V,
    state: AppState,
}

impl<V: TokenVerifier> StillValid<V> {
    /// Wraps `inner`.
    pub fn new(inner: V, state: AppState) -> Self {
        Self { inner, state }
    }

    async fn check(&self, p: Principal) -> Result<Principal, VerifyError> {
        let client = p.client_id.clone().unwrap_or_default();
        let grant = p
            .claims
            .get("gid")
            .and_then(|g| g.as_str())
            .map(str::to_owned);
        match mcp_oauth_server::liveness::token_still_valid(&self.state, &client, grant.as_deref())
            .await
        {
            Ok(true) => Ok(p),
            Ok(false) => Err(VerifyError::invalid(
                "the access token was revoked, or its client or user disabled",
            )),
            Err(e) => Err(VerifyError::Unavailable(e.to_string())),
        }
    }
}

#[async_trait]
impl<V: TokenVerifier> TokenVerifier for StillValid<V> {
    async fn verify(&self, token: &str) -> Result<Principal, VerifyError> {
        let p = match self.inner.cached(token) {
            Some(r) => r?,
            None => self.inner.verify(token).await?,
        };
        self.check(p).await
    }
}
