//! Our side of the upstream's token endpoint: the code exchange (with our PKCE verifier and our
//! client authentication), and the refresh of a kept token. An answer is a [`TokenSet`] or the
//! provider's error; GitHub answers errors with `200` and an `error` member, which counts too.

use super::{Upstream, UpstreamError};
use crate::config::upstream::UpstreamAuth;
use mcp_oauth_core::clock::UnixTime;
use mcp_oauth_core::secret::Secret;
use serde::Deserialize;

/// At most this many bytes of a token response.
const MAX_ANSWER: usize = 64 * 1024;

/// What the upstream issued.
#[derive(Debug, Clone)]
pub(crate) struct TokenSet {
    pub access_token: Secret,
    pub refresh_token: Option<Secret>,
    /// When the access token expires, if the provider said.
    pub expires_at: Option<UnixTime>,
    pub id_token: Option<String>,
    pub scope: Option<String>,
}

#[derive(Deserialize)]
struct Wire {
    access_token: Option<String>,
    token_type: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
    id_token: Option<String>,
    scope: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

impl Upstream {
    /// Exchanges an authorization code.
    pub(crate) async fn redeem(
        &self,
        token_endpoint: &str,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
        now: UnixTime,
    ) -> Result<TokenSet, UpstreamError> {
        self.token_request(
            token_endpoint,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
            ],
            now,
        )
        .await
    }

    /// Refreshes with a kept refresh token.
    pub(crate) async fn refresh(
        &self,
        token_endpoint: &str,
        refresh_token: &str,
        now: UnixTime,
    ) -> Result<TokenSet, UpstreamError> {
        self.token_request(
            token_endpoint,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
            now,
        )
        .await
    }

    /// Our client authentication: the form fields and the `Authorization` value.
    pub(crate) fn client_auth<'a>(&'a self, form: &mut Vec<(&'a str, &'a str)>) -> Option<String> {
        let id = self.config.client_id.as_str();
        // GitHub documents only the form fields for its token endpoint.
        let method = match self.resolved.protocol {
            super::presets::Protocol::Github { .. } => UpstreamAuth::ClientSecretPost,
            super::presets::Protocol::Oidc { .. } => self.config.token_auth,
        };
        match (&self.config.client_secret, method) {
            (Some(s), UpstreamAuth::ClientSecretBasic) => {
                Some(mcp_oauth_core::basic::encode(id, s.expose()))
            }
            (Some(s), UpstreamAuth::ClientSecretPost) => {
                form.push(("client_id", id));
                form.push(("client_secret", s.expose()));
                None
            }
            (None, _) => {
                form.push(("client_id", id));
                None
            }
        }
    }

    async fn token_request(
        &self,
        url: &str,
        fields: &[(&str, &str)],
        now: UnixTime,
    ) -> Result<TokenSet, UpstreamError> {
        let mut form = fields.to_vec();
        let auth = self.client_auth(&mut form);
        let answer = self
            .fetcher
            .post_form(url, &form, auth.as_deref(), MAX_ANSWER)
            .await
            .map_err(UpstreamError::Unreachable)?;
        let wire: Wire = serde_json::from_slice(&answer.body).map_err(|_| {
            UpstreamError::Garbage(
                "its token endpoint answered something else than a token response",
            )
        })?;
        if let Some(error) = wire.error {
            return Err(UpstreamError::Refused {
                error,
                description: wire.error_description,
            });
        }
        if answer.status != 200 {
            return Err(UpstreamError::Garbage(
                "its token endpoint failed without an OAuth error",
            ));
        }
        let (Some(access_token), Some(token_type)) = (wire.access_token, wire.token_type) else {
            return Err(UpstreamError::Garbage(
                "its token response has no access_token or token_type",
            ));
        };
        if !token_type.eq_ignore_ascii_case("bearer") {
            return Err(UpstreamError::Garbage(
                "its token response is not a bearer token",
            ));
        }
        Ok(TokenSet {
            access_token: Secret::new(access_token),
            refresh_token: wire.refresh_token.map(Secret::new),
            expires_at: wire
                .expires_in
                .filter(|s| *s > 0)
                .map(|s| now.saturating_add(s)),
            id_token: wire.id_token,
            scope: wire.scope,
        })
    }
}
