//! `GET /authorize`: validate, then log in, then consent, then redirect with a code.

use crate::authorization_request::{
    AuthorizationError, AuthorizationRequest, redirect_origin, redirect_with, validate,
};
use crate::model::{AuthorizationCode, Session};
use crate::state::AppState;
use crate::ui::{self, PageError, pages, session};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::secret::{random_token, sha256_b64url};

/// `GET /authorize`.
pub async fn get(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let raw = q.unwrap_or_default();
    let req = match validate(&state, &raw).await {
        Ok(r) => r,
        Err(e) => return error_response(&state, e),
    };
    let current = match session::current(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return internal_page(e),
    };
    match current {
        Some(s) if s.user_id.is_some() && !req.prompt_login => {
            proceed(&state, &req, &s, None).await
        }
        Some(s) => login_page(&state, &req, &s, None, None, "", StatusCode::OK),
        None => match session::create(&state, None).await {
            Ok((s, cookie)) => login_page(&state, &req, &s, cookie, None, "", StatusCode::OK),
            Err(e) => internal_page(e),
        },
    }
}

/// After login: redirect with a code if consent covers the request, else show the consent page.
pub(crate) async fn proceed(
    state: &AppState,
    req: &AuthorizationRequest,
    s: &Session,
    cookie: Option<HeaderValue>,
) -> Response {
    let Some(user_id) = s.user_id.as_deref() else {
        return login_page(state, req, s, cookie, None, "", StatusCode::OK);
    };
    let mut req = req.clone();
    let unavailable = match restrict(state, &mut req, user_id).await {
        Ok(u) => u,
        Err(resp) => return resp,
    };
    let req = &req;
    let consent = match state
        .store()
        .get_consent(user_id, &req.client.client_id, &req.resource.uri)
        .await
    {
        Ok(c) => c,
        Err(e) => return internal_page(e),
    };
    let covered = consent.is_some_and(|c| c.scope.is_superset(&req.scope));
    let mut resp = if covered && !req.prompt_consent {
        issue_code(
            state,
            req,
            user_id,
            s.auth_time.unwrap_or_else(|| state.now()),
        )
        .await
    } else {
        consent_page(state, req, s, &unavailable).await
    };
    if let Some(c) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// Narrows the request to the scopes the user may approve ([`crate::roles`]). When the user
/// may approve none of the scopes asked for, the answer is `access_denied` (a redirect to an
/// administrator's client, a page otherwise, as every error after the redirect URI is known).
pub(crate) async fn restrict(
    state: &AppState,
    req: &mut AuthorizationRequest,
    user_id: &str,
) -> Result<Vec<crate::roles::Unavailable>, Response> {
    let asked_for_some = !req.scope.is_empty();
    let unavailable = crate::roles::for_user(state, req, user_id)
        .await
        .map_err(internal_page)?;
    if asked_for_some && req.scope.is_empty() {
        return Err(error_response(
            state,
            crate::authorization_request::error_for(
                &req.client,
                req.redirect_uri.clone(),
                req.state.clone(),
                mcp_oauth_core::ErrorCode::AccessDenied,
                "the signed-in user may not approve any of the requested scopes (they need a role the user does not hold)",
            ),
        ));
    }
    Ok(unavailable)
}

/// Stores a code and redirects to the client with `code`, `state` and `iss`.
pub(crate) async fn issue_code(
    state: &AppState,
    req: &AuthorizationRequest,
    user_id: &str,
    auth_time: i64,
) -> Response {
    issue_code_with(state, req, user_id, auth_time, None).await
}

/// [`issue_code`], keeping an upstream's tokens with the code (federated login): sealed and
/// stored before the code, so a code never exists without them; redemption moves them to its
/// grant.
pub(crate) async fn issue_code_with(
    state: &AppState,
    req: &AuthorizationRequest,
    user_id: &str,
    auth_time: i64,
    upstream: Option<(&str, &crate::upstream::TokenSet)>,
) -> Response {
    let now = state.now();
    // RFC 9126 §7.3: one push, one code, on any instance.
    if let Some(p) = &req.pushed {
        match state
            .store()
            .use_jti(crate::par::SPENT_NAMESPACE, &p.id, p.spent_until(), now)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                return PageError::bad_request(
                    "Invalid request",
                    "This request_uri was already used; the client must push its request again.",
                )
                .into_response();
            }
            Err(e) => return internal_page(e),
        }
    }
    let code = random_token(32);
    let code_hash = sha256_b64url(code.as_bytes());
    if let Some((upstream_id, tokens)) = upstream {
        let kept = crate::upstream::seal(
            state.upstreams().kek(),
            &code_hash,
            upstream_id,
            tokens,
            now,
        );
        let stored = match kept {
            Ok(k) => state
                .store()
                .put_upstream_tokens(&k)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = stored {
            return internal_page(e);
        }
    }
    let record = AuthorizationCode {
        code_hash,
        client_id: req.client.client_id.clone(),
        redirect_uri: req.redirect_uri.clone(),
        code_challenge: req.code_challenge.clone(),
        resource: req.resource.uri.clone(),
        scope: req.scope.clone(),
        user_id: user_id.to_owned(),
        auth_time,
        created_at: now,
        expires_at: now + state.config().code_ttl,
    };
    if let Err(e) = state.store().insert_code(&record).await {
        return error_response(
            state,
            AuthorizationError::Redirect {
                redirect_uri: req.redirect_uri.clone(),
                state: req.state.clone(),
                code: mcp_oauth_core::ErrorCode::TemporarilyUnavailable,
                description: {
                    tracing::error!(target: "mcp_oauth::server", error = %e, "storing a code failed");
                    "the server could not complete the request; try again".into()
                },
            },
        );
    }
    tracing::info!(target: "mcp_oauth::authorize", client_id = %req.client.client_id, user_id, resource = %req.resource.uri, "authorization code issued");
    let mut params = vec![("code", code.as_str())];
    if let Some(s) = &req.state {
        params.push(("state", s));
    }
    params.push(("iss", &state.config().issuer));
    redirect(&redirect_with(&req.redirect_uri, &params))
}

/// A `303 See Other` (so a POSTed form is followed by a GET) with no caching.
pub(crate) fn redirect(location: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// Turns a refused request into a page or an error redirect.
pub(crate) fn error_response(state: &AppState, e: AuthorizationError) -> Response {
    match e {
        AuthorizationError::Page { title, message } => {
            PageError::bad_request(title, message).into_response()
        }
        AuthorizationError::Redirect {
            redirect_uri,
            state: st,
            code,
            description,
        } => {
            let mut params = vec![
                ("error", code.as_str()),
                ("error_description", description.as_str()),
            ];
            if let Some(s) = &st {
                params.push(("state", s));
            }
            params.push(("iss", &state.config().issuer));
            redirect(&redirect_with(&redirect_uri, &params))
        }
        AuthorizationError::Store(e) => internal_page(e),
    }
}

/// A storage failure on a page: logged, answered 503.
pub(crate) fn internal_page(e: impl std::fmt::Display) -> Response {
    PageError::unavailable(e).into_response()
}

/// What the login and consent pages show of a request, beyond the client's and the resource's
/// names: the redirect host and, for a client identified by a metadata document, that document's
/// host (the identity this server verified).
pub(crate) struct Shown {
    /// ASCII (punycode) host and port: a homograph shows as the `xn--` name it is.
    redirect_host: String,
    verified_by: Option<String>,
}

impl Shown {
    pub(crate) fn of(req: &AuthorizationRequest) -> Self {
        let redirect_host = crate::fetch::host::display_authority(&req.redirect_uri)
            .or_else(|| {
                mcp_oauth_core::uri::UriParts::split(&req.redirect_uri)
                    .map(|p| p.authority.to_owned())
            })
            .unwrap_or_else(|| req.redirect_uri.clone());
        let verified_by = (req.client.origin == crate::model::ClientOrigin::Cimd)
            .then(|| crate::cimd::document::host_of(&req.client.client_id));
        Self {
            redirect_host,
            verified_by,
        }
    }

    pub(crate) fn summary<'a>(
        &'a self,
        req: &'a AuthorizationRequest,
    ) -> pages::RequestSummary<'a> {
        pages::RequestSummary {
            client_name: &req.client.client_name,
            redirect_host: &self.redirect_host,
            resource_name: &req.resource.name,
            resource_uri: &req.resource.uri,
            verified_by: self.verified_by.as_deref(),
        }
    }
}

/// Renders the login form.
pub(crate) fn login_page(
    state: &AppState,
    req: &AuthorizationRequest,
    s: &Session,
    cookie: Option<HeaderValue>,
    error: Option<&str>,
    username: &str,
    status: StatusCode,
) -> Response {
    let shown = Shown::of(req);
    let buttons: Vec<pages::UpstreamButton> = state
        .config()
        .upstream
        .iter()
        .map(|u| pages::UpstreamButton {
            action: format!("{}/upstream/{}/start", state.0.base_path, u.id),
            name: u.display_name().to_owned(),
        })
        .collect();
    let body = pages::login(
        &format!("{}/login", state.0.base_path),
        &s.csrf_token,
        &req.raw_query,
        &shown.summary(req),
        error,
        username,
        &buttons,
        state.config().local_login,
    );
    let origin = redirect_origin(&req.redirect_uri).unwrap_or_default();
    let mut resp = ui::html(status, body, &[origin.as_str()]);
    if let Some(c) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// Each requested scope with the resource's description of it, for a consent page.
pub(crate) fn scope_descriptions(req: &AuthorizationRequest) -> Vec<(String, String)> {
    describe_scopes(&req.resource, &req.scope)
}

/// Each scope of `names` with `resource`'s description of it (its name where it has none).
pub(crate) fn describe_scopes(
    resource: &crate::model::Resource,
    names: &mcp_oauth_core::ScopeSet,
) -> Vec<(String, String)> {
    names
        .iter()
        .map(|name| {
            let desc = resource
                .scopes
                .iter()
                .find(|d| d.name == name)
                .map(|d| d.description.clone())
                .unwrap_or_else(|| name.to_owned());
            (name.to_owned(), desc)
        })
        .collect()
}

async fn consent_page(
    state: &AppState,
    req: &AuthorizationRequest,
    s: &Session,
    unavailable: &[crate::roles::Unavailable],
) -> Response {
    let shown = Shown::of(req);
    let username = match s.user_id.as_deref() {
        Some(id) => match state.store().get_user(id).await {
            Ok(Some(u)) => u.username,
            Ok(None) => id.to_owned(),
            Err(e) => return internal_page(e),
        },
        None => String::new(),
    };
    let scopes = scope_descriptions(req);
    let body = pages::consent(
        &format!("{}/consent", state.0.base_path),
        &s.csrf_token,
        &req.raw_query,
        &shown.summary(req),
        &username,
        &scopes,
        unavailable,
    );
    let origin = redirect_origin(&req.redirect_uri).unwrap_or_default();
    ui::html(StatusCode::OK, body, &[origin.as_str()])
}
