//! The calls an upstream identity provider answers besides documents: a token request (a form
//! `POST`, whose error answers are JSON too), a bearer `GET` of an API (GitHub's user, e-mails
//! and organisations; an OpenID provider's userinfo), and GitHub's token deletion. The same rules as every fetch: the URL
//! policy, the checked resolver, no redirects, the size and time limits, JSON only.

use super::{FetchError, SafeFetcher, has_json_body, read_limited, send};

/// A JSON answer with its status (a token endpoint says why it refused in a `400` body).
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body (at most the limit).
    pub body: Vec<u8>,
}

impl SafeFetcher {
    /// `POST`s `form` to `url`, with `authorization` (a `Basic` credential) when given.
    pub async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        authorization: Option<&str>,
        max_bytes: usize,
    ) -> Result<Answer, FetchError> {
        let parsed = self.check_url(url)?;
        let mut req = self.http.post(parsed).form(form);
        if let Some(a) = authorization {
            req = req.header(reqwest::header::AUTHORIZATION, a);
        }
        self.answer(req, max_bytes, true).await
    }

    /// [`Self::post_form`] for an endpoint whose success has no JSON body (RFC 7009
    /// revocation): the answer's status, its body read (within the limit) and dropped.
    pub async fn post_form_status(
        &self,
        url: &str,
        form: &[(&str, &str)],
        authorization: Option<&str>,
        max_bytes: usize,
    ) -> Result<u16, FetchError> {
        let parsed = self.check_url(url)?;
        let mut req = self.http.post(parsed).form(form);
        if let Some(a) = authorization {
            req = req.header(reqwest::header::AUTHORIZATION, a);
        }
        Ok(self.answer(req, max_bytes, false).await?.status)
    }

    /// `DELETE`s `url` with a JSON `body` and `authorization` (GitHub's "delete an app token",
    /// whose success is `204` with no body): the answer's status, its body read and dropped.
    pub async fn delete_json_status(
        &self,
        url: &str,
        body: &serde_json::Value,
        authorization: &str,
        max_bytes: usize,
    ) -> Result<u16, FetchError> {
        let parsed = self.check_url(url)?;
        let req = self
            .http
            .delete(parsed)
            .json(body)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28");
        Ok(self.answer(req, max_bytes, false).await?.status)
    }

    /// `GET`s `url` with the bearer `token`.
    pub async fn get_bearer(
        &self,
        url: &str,
        token: &str,
        max_bytes: usize,
    ) -> Result<Answer, FetchError> {
        let parsed = self.check_url(url)?;
        let req = self
            .http
            .get(parsed)
            .bearer_auth(token)
            // GitHub's REST API asks for its media type and version.
            .header("X-GitHub-Api-Version", "2022-11-28");
        self.answer(req, max_bytes, true).await
    }

    async fn answer(
        &self,
        req: reqwest::RequestBuilder,
        max_bytes: usize,
        json: bool,
    ) -> Result<Answer, FetchError> {
        let send = async {
            let resp = send(req).await?;
            let status = resp.status();
            if json && !has_json_body(&resp) {
                return Err(if status.is_success() {
                    FetchError::ContentType
                } else {
                    FetchError::Status(status.as_u16())
                });
            }
            let body = read_limited(resp, max_bytes).await?;
            Ok(Answer {
                status: status.as_u16(),
                body,
            })
        };
        match tokio::time::timeout(self.timeout, send).await {
            Ok(r) => r,
            Err(_) => Err(FetchError::Timeout),
        }
    }
}
