//! Validation of an authorization request (RFC 6749 §4.1.1, OAuth 2.1 §4.1.1, RFC 7636,
//! RFC 8707), shared by `/authorize`, the login form and the consent form.
//!
//! The order matters. The client and redirect URI are checked first, and while either is in
//! doubt the answer is an error page, never a redirect (RFC 6749 §4.1.2.1): otherwise the server
//! would be an open redirector. Only then are other errors sent back to the client by redirect,
//! with `state` and `iss` (RFC 9207), and only to clients an administrator registered: for a
//! dynamic or metadata-document client the redirect URI is unverified, so the error is a page
//! (RFC 9700 §4.11.2).

use crate::model::{Client, ClientOrigin, Resource};
use crate::par::Presented;
use crate::state::AppState;
use crate::store::StoreError;
use mcp_oauth_core::form::{FormError, OAuthParams};
use mcp_oauth_core::token::grant_type;
use mcp_oauth_core::uri::UriParts;
use mcp_oauth_core::{ErrorCode, ScopeSet, pkce, redirect};
use std::sync::Arc;

/// A request that passed every check.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The client.
    pub client: Arc<Client>,
    /// Where to send the response.
    pub redirect_uri: String,
    /// The client's `state`, echoed back.
    pub state: Option<String>,
    /// The S256 challenge.
    pub code_challenge: String,
    /// The resource the token will be for.
    pub resource: Arc<Resource>,
    /// The scopes that would be granted: requested ∩ resource ∩ client.
    pub scope: ScopeSet,
    /// Whether the client asked to show consent again (`prompt=consent`).
    pub prompt_consent: bool,
    /// Whether the client asked for a fresh login (`prompt=login`).
    pub prompt_login: bool,
    /// The original query string, carried through the login and consent forms.
    pub raw_query: String,
    /// The pushed request this came from (RFC 9126), spent when a code is issued.
    pub pushed: Option<crate::par::Pushed>,
}

/// Why a request was refused.
#[derive(Debug)]
pub enum AuthorizationError {
    /// Client or redirect URI in doubt: show a page, do not redirect.
    Page {
        /// Short title.
        title: &'static str,
        /// Explanation for the user.
        message: String,
    },
    /// Redirect the error to the client.
    Redirect {
        /// The validated redirect URI.
        redirect_uri: String,
        /// The client's state.
        state: Option<String>,
        /// The error code.
        code: ErrorCode,
        /// Its description.
        description: String,
    },
    /// Storage failed.
    Store(StoreError),
}

impl From<StoreError> for AuthorizationError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

fn page(title: &'static str, message: impl Into<String>) -> AuthorizationError {
    AuthorizationError::Page {
        title,
        message: message.into(),
    }
}

/// Appends parameters to a redirect URI, keeping any query it has (RFC 6749 §3.1.2).
pub fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{sep}{}", ser.finish())
}

/// `scheme://host[:port]` of a redirect URI, for the CSP `form-action` and the consent page.
pub fn redirect_origin(redirect_uri: &str) -> Option<String> {
    UriParts::split(redirect_uri).map(|p| p.origin())
}

/// Validates the query of an authorization request at `/authorize`. A `request_uri` (RFC 9126
/// §4) stands for the request its client pushed: only `client_id` may be sent beside it, and the
/// pushed parameters are the request. A client that must push (its
/// `require_pushed_authorization_requests`, or the server's) is refused without one. The request's
/// `raw_query`, which the sign-in forms carry, then names the pushed request in its carried form
/// ([`crate::par::carry`]).
pub async fn validate(
    state: &AppState,
    raw_query: &str,
) -> Result<AuthorizationRequest, AuthorizationError> {
    validate_as(state, raw_query, Presented::AtAuthorize).await
}

/// [`validate`] for the query a login or consent form, or an upstream login, carried: a pushed
/// request must be in its carried form, and may be used for the sign-in window.
pub async fn validate_carried(
    state: &AppState,
    raw_query: &str,
) -> Result<AuthorizationRequest, AuthorizationError> {
    validate_as(state, raw_query, Presented::Carried).await
}

async fn validate_as(
    state: &AppState,
    raw_query: &str,
    presented: Presented,
) -> Result<AuthorizationRequest, AuthorizationError> {
    let strict = OAuthParams::parse(raw_query.as_bytes()).ok();
    let req = match strict.as_ref().and_then(|p| p.get("request_uri")) {
        Some(uri) => {
            let Some(client_id) = strict.as_ref().and_then(|p| p.get("client_id")) else {
                return Err(page(
                    "Invalid request",
                    "A request_uri must come with the client_id that pushed it.",
                ));
            };
            let pushed = crate::par::open(&state.0.kek, uri, client_id, state.now(), presented)
                .map_err(|e| page("Invalid request", format!("{e}.")))?;
            let mut req = validate_query(state, &pushed.query).await?;
            req.raw_query = match presented {
                Presented::Carried => raw_query.to_owned(),
                Presented::AtAuthorize => {
                    let carried = crate::par::carry(&state.0.kek, &pushed)
                        .map_err(|e| page("Invalid request", format!("{e}.")))?;
                    serde_urlencoded::to_string([
                        ("client_id", client_id),
                        ("request_uri", carried.as_str()),
                    ])
                    .map_err(|e| page("Invalid request", format!("{e}.")))?
                }
            };
            req.pushed = Some(pushed);
            req
        }
        None => validate_query(state, raw_query).await?,
    };
    if req.pushed.is_none() && must_push(state, &req.client) {
        return Err(page(
            "Invalid request",
            "This client must push its authorization requests (RFC 9126 pushed authorization requests).",
        ));
    }
    Ok(req)
}

/// Whether `client`'s authorization requests must come through `/par`.
pub fn must_push(state: &AppState, client: &Client) -> bool {
    state.config().require_pushed_authorization_requests
        || client
            .metadata
            .get("require_pushed_authorization_requests")
            .and_then(serde_json::Value::as_bool)
            == Some(true)
}

/// Validates an authorization request given by its parameters (from the query, or pushed).
pub async fn validate_query(
    state: &AppState,
    raw_query: &str,
) -> Result<AuthorizationRequest, AuthorizationError> {
    let params = match OAuthParams::parse(raw_query.as_bytes()) {
        Ok(p) => p,
        Err(FormError::Duplicate(name)) if name == "client_id" || name == "redirect_uri" => {
            return Err(page(
                "Invalid request",
                format!("The parameter `{name}` was sent more than once."),
            ));
        }
        Err(e) => {
            // Duplicates of other parameters: report once client and redirect are trusted.
            let lenient = lenient_parse(raw_query);
            let (client, redirect_uri) = check_client(state, &lenient).await?;
            return Err(error_for(
                &client,
                redirect_uri,
                None,
                ErrorCode::InvalidRequest,
                &e.to_string(),
            ));
        }
    };
    let (client, redirect_uri) = check_client(state, &params).await?;
    let st = params.get("state").map(str::to_owned);
    let fail = |code: ErrorCode, description: &str| {
        error_for(&client, redirect_uri.clone(), st.clone(), code, description)
    };
    match params.get("response_type") {
        Some("code") => {}
        None => return Err(fail(ErrorCode::InvalidRequest, "response_type is required")),
        Some(_) => {
            return Err(fail(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    if !client.allows_grant(grant_type::AUTHORIZATION_CODE) {
        return Err(fail(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for the authorization code grant",
        ));
    }
    let Some(challenge) = params.get("code_challenge") else {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        ));
    };
    if let Err(e) = pkce::validate_challenge(challenge, params.get("code_challenge_method")) {
        return Err(fail(ErrorCode::InvalidRequest, &e.to_string()));
    }
    let (resource, scope) =
        match resolve_target(state, &client, params.get("resource"), params.get("scope")).await {
            Ok(t) => t,
            Err(TargetRefusal::Store(e)) => return Err(e.into()),
            Err(TargetRefusal::Invalid(code, description)) => {
                return Err(fail(code, &description));
            }
        };
    let prompt = params.get("prompt").unwrap_or_default();
    if prompt.split(' ').any(|p| p == "none") {
        return Err(fail(
            ErrorCode::InvalidRequest,
            "prompt=none is not supported: this server always lets the user decide",
        ));
    }
    Ok(AuthorizationRequest {
        client,
        redirect_uri,
        state: st,
        code_challenge: challenge.to_owned(),
        resource,
        scope,
        prompt_consent: prompt.split(' ').any(|p| p == "consent"),
        prompt_login: prompt.split(' ').any(|p| p == "login"),
        raw_query: raw_query.to_owned(),
        pushed: None,
    })
}

/// Why a request's resource and scopes cannot be granted.
pub(crate) enum TargetRefusal {
    /// The store failed.
    Store(StoreError),
    /// `invalid_target` or `invalid_scope`, with the description.
    Invalid(ErrorCode, String),
}

impl From<StoreError> for TargetRefusal {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// The resource (RFC 8707: the one named, else the default) and the scopes ([`grantable_scope`])
/// of a request for `client`: the rules of the authorization code grant, which the device
/// authorization grant shares.
pub(crate) async fn resolve_target(
    state: &AppState,
    client: &Client,
    resource: Option<&str>,
    scope: Option<&str>,
) -> Result<(Arc<Resource>, ScopeSet), TargetRefusal> {
    let resource = match resource {
        Some(uri) => {
            if mcp_oauth_core::resource::validate(uri).is_err() {
                return Err(TargetRefusal::Invalid(
                    ErrorCode::InvalidTarget,
                    "resource must be an absolute URI without a fragment".into(),
                ));
            }
            match crate::resources::find(state, uri).await? {
                Some(r) => r,
                None => {
                    return Err(TargetRefusal::Invalid(
                        ErrorCode::InvalidTarget,
                        "the resource is not registered at this authorization server".into(),
                    ));
                }
            }
        }
        None => match crate::resources::default(state).await? {
            Some(r) => r,
            None => {
                return Err(TargetRefusal::Invalid(
                    ErrorCode::InvalidTarget,
                    "resource is required (RFC 8707): name the protected resource the token is for"
                        .into(),
                ));
            }
        },
    };
    let requested = match scope.map(ScopeSet::parse) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            return Err(TargetRefusal::Invalid(
                ErrorCode::InvalidScope,
                e.to_string(),
            ));
        }
        None => None,
    };
    let scope = grantable_scope(client, &resource, requested.as_ref());
    if requested.as_ref().is_some_and(|r| !r.is_empty()) && scope.is_empty() {
        return Err(TargetRefusal::Invalid(
            ErrorCode::InvalidScope,
            "none of the requested scopes is available to this client for this resource".into(),
        ));
    }
    Ok((resource, scope))
}

/// Whether a client's redirect URIs were checked by a person: only an administrator's
/// registration is. A dynamic registration or a metadata document names whatever URIs its author
/// chose a second before (RFC 9700 §4.11.2).
pub fn has_verified_redirects(client: &Client) -> bool {
    client.origin == ClientOrigin::Admin
}

/// The error answer once client and redirect URI are known: a redirect to the client (RFC 6749
/// §4.1.2.1) when its redirect URIs are verified, else an error page, since redirecting at once,
/// without any user interaction, to an unverified URI makes this server an open redirector
/// (RFC 9700 §4.11.2).
pub(crate) fn error_for(
    client: &Client,
    redirect_uri: String,
    state: Option<String>,
    code: ErrorCode,
    description: &str,
) -> AuthorizationError {
    if has_verified_redirects(client) {
        return AuthorizationError::Redirect {
            redirect_uri,
            state,
            code,
            description: description.to_owned(),
        };
    }
    page(
        "Invalid request",
        format!(
            "The application sent an invalid request ({}): {description}. This server does not send you back to an address the application registered for itself without your action; close this page and try again from the application.",
            code.as_str()
        ),
    )
}

/// The scopes to grant: requested (or, if none were, everything the resource offers) limited to
/// what the resource offers and the client may have. Scopes a resource does not define are dropped
/// rather than refused (RFC 6749 §3.3 lets the server grant less).
pub fn grantable_scope(
    client: &Client,
    resource: &Resource,
    requested: Option<&ScopeSet>,
) -> ScopeSet {
    // requested ∩ offered ∩ allowed, copying each granted scope once.
    let offered = |s: &str| resource.scopes.iter().any(|d| d.name == s);
    let allowed = |s: &str| client.allowed_scopes.as_ref().is_none_or(|a| a.contains(s));
    match requested {
        Some(r) if !r.is_empty() => r.iter().filter(|s| offered(s) && allowed(s)).collect(),
        _ => resource
            .scopes
            .iter()
            .map(|d| d.name.as_str())
            .filter(|s| allowed(s))
            .collect(),
    }
}

/// Parses keeping the first value of each parameter, only to find the client and redirect URI
/// when another parameter was duplicated.
fn lenient_parse(raw: &str) -> OAuthParams {
    let mut seen = std::collections::BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        seen.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    OAuthParams::from_pairs(seen.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

async fn check_client(
    state: &AppState,
    params: &OAuthParams,
) -> Result<(Arc<Client>, String), AuthorizationError> {
    let Some(client_id) = params.get("client_id") else {
        return Err(page(
            "Invalid request",
            "The request does not name a client (client_id is missing).",
        ));
    };
    let found = match crate::clients::find(state, client_id).await {
        Ok(c) => c,
        Err(crate::clients::LookupError::Store(e)) => return Err(AuthorizationError::Store(e)),
        // Never redirect: the redirect URI cannot be verified without the document.
        Err(crate::clients::LookupError::Document(e)) => {
            return Err(page(
                "Application not recognised",
                format!(
                    "The application identifies itself with a metadata document at {}, which this server cannot use: {e}.",
                    crate::cimd::document::host_of(client_id)
                ),
            ));
        }
    };
    let Some(client) = found else {
        return Err(page(
            "Unknown application",
            "The application that sent you here is not registered with this server.",
        ));
    };
    let redirect_uri = match params.get("redirect_uri") {
        Some(r) => {
            if redirect::validate_with(r, &state.config().redirect_uri_schemes).is_err()
                || !redirect::matches_any(client.redirect_uris.iter().map(String::as_str), r)
            {
                return Err(page(
                    "Invalid redirect",
                    "The application asked to send you to an address it has not registered, so this server will not send you there.",
                ));
            }
            r.to_owned()
        }
        // OAuth 2.1 §4.1.1: optional only when exactly one URI is registered.
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => {
            return Err(page(
                "Invalid request",
                "The request does not say where to send you back (redirect_uri is missing).",
            ));
        }
    };
    Ok((client, redirect_uri))
}
