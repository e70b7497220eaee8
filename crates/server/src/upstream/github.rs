//! GitHub, which has no OpenID Connect for users: the account is read from its documented REST
//! API with the user's token: `GET /user` (the numeric `id` is the subject, `login` the name),
//! `GET /user/emails` (the primary address and whether GitHub verified it; `/user`'s own
//! `email` is only the public profile address, never trusted), and `GET /user/orgs` when the
//! block admits members of organisations only.

use super::identity::Identity;
use super::{Upstream, UpstreamError};
use serde::Deserialize;
use serde_json::{Map, Value};

/// At most this many bytes of an API answer.
const MAX_ANSWER: usize = 256 * 1024;

#[derive(Deserialize)]
struct Email {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

#[derive(Deserialize)]
struct Org {
    login: String,
}

impl Upstream {
    async fn github_get<T: serde::de::DeserializeOwned>(
        &self,
        api: &str,
        path: &str,
        token: &str,
    ) -> Result<T, UpstreamError> {
        let answer = self
            .fetcher
            .get_bearer(&format!("{api}{path}"), token, MAX_ANSWER)
            .await
            .map_err(UpstreamError::Unreachable)?;
        if answer.status != 200 {
            return Err(UpstreamError::Refused {
                error: format!("HTTP {} from {path}", answer.status),
                description: None,
            });
        }
        serde_json::from_slice(&answer.body)
            .map_err(|_| UpstreamError::Garbage("its API answered something unexpected"))
    }

    /// The GitHub account of `token`.
    pub(crate) async fn github_identity(
        &self,
        api: &str,
        token: &str,
    ) -> Result<Identity, UpstreamError> {
        let mut user: Map<String, Value> = self.github_get(api, "/user", token).await?;
        // The profile's public address is whatever the user typed: never an identity.
        user.remove("email");
        let emails: Vec<Email> = self.github_get(api, "/user/emails", token).await?;
        if let Some(primary) = emails.into_iter().find(|e| e.primary) {
            user.insert("email".into(), Value::String(primary.email));
            user.insert("email_verified".into(), Value::Bool(primary.verified));
        }
        let mut claims = user;
        if !claims.contains_key(&self.config.claims.subject) {
            // GitHub's subject is `id`, whatever the block's (OIDC) default says.
            if let Some(id) = claims.get("id").cloned() {
                claims.insert(self.config.claims.subject.clone(), id);
            }
        }
        let mut identity = super::identity::from_claims(claims, &self.config, &self.resolved)
            .ok_or(UpstreamError::Garbage("its /user answer has no id"))?;
        if !self.config.allowed_organizations.is_empty() {
            let orgs: Vec<Org> = self.github_get(api, "/user/orgs", token).await?;
            identity.organizations = orgs.into_iter().map(|o| o.login).collect();
        }
        Ok(identity)
    }
}
