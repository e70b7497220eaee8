//! The authorization code grant with PKCE S256 (OAuth 2.1 §4.1, RFC 7636), and the checks of
//! the authorization response: `state` (CSRF) and `iss` (RFC 9207, mix-up).
//!
//! `resource` is the validated PRM `resource` string, sent byte for byte in the authorization
//! request and the token request (RFC 8707; never passed through `url::Url`, which would append
//! a `/` to a bare origin).

use crate::error::{Error, Result};
use crate::fetch::Fetcher;
use crate::registration::ClientRegistration;
use crate::token::{self, IssuedToken, TokenEndpoint};
use mcp_oauth_core::form::OAuthParams;
use mcp_oauth_core::metadata::AuthorizationServerMetadata;
use mcp_oauth_core::pkce;
use mcp_oauth_core::secret::{Secret, constant_time_eq, random_token};
use mcp_oauth_core::token::grant_type;

/// The scope to request in the first authorization (MCP §Scope Selection Strategy): the 401
/// challenge's `scope`, else all of the PRM's `scopes_supported`, else none (omit the parameter).
pub fn select_scope(
    challenge_scope: Option<&str>,
    scopes_supported: Option<&[String]>,
) -> Option<String> {
    if let Some(s) = challenge_scope.map(str::trim).filter(|s| !s.is_empty()) {
        return Some(s.to_owned());
    }
    scopes_supported
        .filter(|s| !s.is_empty())
        .map(|s| s.join(" "))
}

/// An authorization request in flight: the URL to send the user to, and what is needed to check
/// the answer and redeem the code. `Debug` does not show the verifier.
#[derive(Debug)]
pub struct AuthorizationRequest {
    /// The full authorization URL.
    pub url: String,
    /// The `state` sent.
    pub state: String,
    /// The redirect URI sent.
    pub redirect_uri: String,
    /// The issuer the request goes to.
    pub issuer: String,
    /// Whether the AS promised `iss` in its responses (RFC 9207).
    pub iss_required: bool,
    /// The `resource` sent.
    pub resource: String,
    /// The `scope` sent, if any.
    pub scope: Option<String>,
    /// The client id sent.
    pub client_id: String,
    verifier: Secret,
    /// The endpoint and the parameters, for a push (RFC 9126).
    endpoint: String,
    query: String,
}

impl AuthorizationRequest {
    /// Builds the request. Refuses an AS that does not advertise S256 (MCP: check PKCE support
    /// before starting) or whose authorization endpoint fails the URL policy.
    pub fn new(
        fetcher: &Fetcher,
        issuer: &str,
        metadata: &AuthorizationServerMetadata,
        client_id: &str,
        redirect_uri: &str,
        resource: &str,
        scope: Option<&str>,
    ) -> Result<Self> {
        if !metadata.supports_s256() {
            return Err(Error::PkceUnsupported {
                issuer: issuer.to_owned(),
            });
        }
        let endpoint =
            metadata
                .authorization_endpoint
                .as_deref()
                .ok_or_else(|| Error::MissingEndpoint {
                    issuer: issuer.to_owned(),
                    endpoint: "authorization_endpoint",
                })?;
        fetcher.check(endpoint)?;
        if endpoint.contains('#') {
            return Err(Error::UrlRefused {
                url: endpoint.to_owned(),
                reason: "an authorization endpoint must not have a fragment".into(),
            });
        }
        let (verifier, challenge) = pkce::generate();
        let state = random_token(32);
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", pkce::S256)
            .append_pair("state", &state)
            .append_pair("resource", resource);
        if let Some(s) = scope {
            q.append_pair("scope", s);
        }
        let query = q.finish();
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        let url = format!("{endpoint}{sep}{query}");
        Ok(Self {
            endpoint: endpoint.to_owned(),
            query,
            url,
            state,
            redirect_uri: redirect_uri.to_owned(),
            issuer: issuer.to_owned(),
            iss_required: metadata.authorization_response_iss_parameter_supported == Some(true),
            resource: resource.to_owned(),
            scope: scope.map(str::to_owned),
            client_id: client_id.to_owned(),
            verifier: Secret::new(verifier),
        })
    }

    /// RFC 9126: when the server advertises `pushed_authorization_request_endpoint`, pushes the
    /// request there (the client authenticating as at the token endpoint), and makes [`Self::url`]
    /// name it by `request_uri`: the parameters never pass through the browser.
    pub async fn push_if_advertised(
        &mut self,
        fetcher: &Fetcher,
        metadata: &AuthorizationServerMetadata,
        client: &ClientRegistration,
        now: i64,
    ) -> Result<()> {
        let Some(par) = metadata.pushed_authorization_request_endpoint.as_deref() else {
            return Ok(());
        };
        let params: Vec<(String, String)> = url::form_urlencoded::parse(self.query.as_bytes())
            .filter(|(k, _)| k != "client_id")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let endpoint = TokenEndpoint {
            url: par,
            issuer: &self.issuer,
            client,
            method: client.auth.method(Some(metadata)),
            dpop: None,
        };
        let request_uri = token::push(fetcher, endpoint, params, now).await?;
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("client_id", &self.client_id)
            .append_pair("request_uri", &request_uri);
        let sep = if self.endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        self.url = format!("{}{sep}{}", self.endpoint, q.finish());
        Ok(())
    }

    /// Checks the redirect's parameters and returns the code. Order matters: a response (even an
    /// error) whose `state` or `iss` is wrong is discarded without reading anything else.
    pub fn validate_response(&self, params: &OAuthParams) -> Result<Secret> {
        match params.get("state") {
            Some(s) if constant_time_eq(s.as_bytes(), self.state.as_bytes()) => {}
            _ => return Err(Error::StateMismatch),
        }
        match params.get("iss") {
            Some(iss) if iss == self.issuer => {}
            None if !self.iss_required => {}
            other => {
                return Err(Error::IssuerMismatch {
                    expected: self.issuer.clone(),
                    received: other.map(str::to_owned),
                });
            }
        }
        if let Some(error) = params.get("error") {
            return Err(Error::AuthorizationDenied {
                error: error.to_owned(),
                description: params.get("error_description").map(str::to_owned),
            });
        }
        params
            .get("code")
            .map(Secret::new)
            .ok_or(Error::MissingCode)
    }

    /// Redeems `code` at the token endpoint (with `code_verifier`, `redirect_uri`, `resource`).
    pub async fn exchange(
        &self,
        fetcher: &Fetcher,
        metadata: &AuthorizationServerMetadata,
        client: &ClientRegistration,
        code: &Secret,
        now: i64,
        dpop: Option<token::Dpop<'_>>,
    ) -> Result<IssuedToken> {
        let url = token::endpoint(metadata, &self.issuer)?;
        let params = vec![
            ("grant_type".into(), grant_type::AUTHORIZATION_CODE.into()),
            ("code".into(), code.expose().to_owned()),
            ("redirect_uri".into(), self.redirect_uri.clone()),
            ("code_verifier".into(), self.verifier.expose().to_owned()),
            ("resource".into(), self.resource.clone()),
        ];
        token::request(
            fetcher,
            TokenEndpoint {
                url,
                issuer: &self.issuer,
                client,
                method: client.auth.method(Some(metadata)),
                dpop,
            },
            params,
            now,
            true,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::HttpSettings;

    fn meta() -> AuthorizationServerMetadata {
        AuthorizationServerMetadata {
            issuer: "https://as.example".into(),
            authorization_endpoint: Some("https://as.example/authorize".into()),
            token_endpoint: Some("https://as.example/token".into()),
            code_challenge_methods_supported: Some(vec!["S256".into()]),
            ..Default::default()
        }
    }

    fn req(m: &AuthorizationServerMetadata) -> Result<AuthorizationRequest> {
        let f = Fetcher::new(HttpSettings::default()).unwrap();
        AuthorizationRequest::new(
            &f,
            "https://as.example",
            m,
            "cid",
            "http://127.0.0.1:1234/callback",
            "https://mcp.example",
            Some("a b"),
        )
    }

    #[test]
    fn scope_selection_order() {
        let supported = vec!["x".to_owned(), "y".to_owned()];
        assert_eq!(
            select_scope(Some("c"), Some(&supported)).as_deref(),
            Some("c")
        );
        assert_eq!(select_scope(None, Some(&supported)).as_deref(), Some("x y"));
        assert_eq!(select_scope(Some(" "), None), None);
        assert_eq!(select_scope(None, Some(&[])), None);
    }

    #[test]
    fn url_carries_resource_verbatim() {
        let r = req(&meta()).unwrap();
        let q = url::Url::parse(&r.url).unwrap();
        let pairs: Vec<(String, String)> = q.query_pairs().into_owned().collect();
        let get = |k: &str| pairs.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str());
        assert_eq!(get("resource"), Some("https://mcp.example"));
        assert_eq!(get("code_challenge_method"), Some("S256"));
        assert_eq!(get("scope"), Some("a b"));
        assert_eq!(get("state"), Some(r.state.as_str()));
        assert!(!format!("{r:?}").contains(r.verifier.expose()));
    }

    #[test]
    fn pkce_must_be_advertised() {
        let mut m = meta();
        m.code_challenge_methods_supported = Some(vec!["plain".into()]);
        assert!(matches!(req(&m), Err(Error::PkceUnsupported { .. })));
        m.code_challenge_methods_supported = None;
        assert!(matches!(req(&m), Err(Error::PkceUnsupported { .. })));
    }

    #[test]
    fn response_checks() {
        let mut m = meta();
        let r = req(&m).unwrap();
        let p = |s: &str| OAuthParams::parse(s.as_bytes()).unwrap();
        let st = r.state.clone();
        assert!(matches!(
            r.validate_response(&p("code=c&state=wrong")),
            Err(Error::StateMismatch)
        ));
        assert!(matches!(
            r.validate_response(&p("code=c")),
            Err(Error::StateMismatch)
        ));
        assert_eq!(
            r.validate_response(&p(&format!("code=c&state={st}")))
                .unwrap()
                .expose(),
            "c"
        );
        assert!(matches!(
            r.validate_response(&p(&format!("code=c&state={st}&iss=https%3A%2F%2Fevil"))),
            Err(Error::IssuerMismatch { .. })
        ));
        assert!(matches!(
            r.validate_response(&p(&format!("error=access_denied&state={st}"))),
            Err(Error::AuthorizationDenied { .. })
        ));
        m.authorization_response_iss_parameter_supported = Some(true);
        let r = req(&m).unwrap();
        let st = r.state.clone();
        assert!(matches!(
            r.validate_response(&p(&format!("code=c&state={st}"))),
            Err(Error::IssuerMismatch { received: None, .. })
        ));
        assert!(
            r.validate_response(&p(&format!(
                "code=c&state={st}&iss=https%3A%2F%2Fas.example"
            )))
            .is_ok()
        );
    }
}
