//! The device page's answers: the sign-in, the code form, the consent (client, resource,
//! scopes as the user's roles allow), each with the page headers of [`crate::ui::html`].

use crate::device;
use crate::handlers::authorize::{describe_scopes, internal_page};
use crate::model::{DeviceAuthorization, Session};
use crate::state::AppState;
use crate::ui::device_pages::{self, DeviceSummary, Provider};
use crate::ui::{self, PageError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
pub(super) fn login_page(
    state: &AppState,
    s: &Session,
    cookie: Option<HeaderValue>,
    user_code: &str,
    error: Option<&str>,
    username: &str,
    status: StatusCode,
) -> Response {
    let providers: Vec<Provider> = state
        .config()
        .upstream
        .iter()
        .map(|u| Provider {
            id: u.id.clone(),
            name: u.display_name().to_owned(),
        })
        .collect();
    let body = device_pages::login(
        &format!("{}/device/login", state.0.base_path),
        &format!("{}/device/upstream", state.0.base_path),
        &s.csrf_token,
        user_code,
        error,
        username,
        &providers,
        state.config().local_login,
    );
    let mut resp = ui::html(status, body, &[]);
    if let Some(c) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

pub(super) async fn username(state: &AppState, s: &Session) -> Result<String, Response> {
    match s.user_id.as_deref() {
        Some(id) => match state.store().get_user(id).await {
            Ok(Some(u)) => Ok(u.username),
            Ok(None) => Ok(id.to_owned()),
            Err(e) => Err(internal_page(e)),
        },
        None => Ok(String::new()),
    }
}

pub(super) async fn code_page(
    state: &AppState,
    s: &Session,
    user_code: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let name = match username(state, s).await {
        Ok(n) => n,
        Err(resp) => return resp,
    };
    let body = device_pages::enter_code(
        &format!("{}/device", state.0.base_path),
        &s.csrf_token,
        &name,
        user_code,
        error,
    );
    ui::html(status, body, &[])
}

/// The client and resource of `a`, both still registered, or the page that says which is not.
async fn parties(
    state: &AppState,
    a: &DeviceAuthorization,
) -> Result<(Arc<crate::model::Client>, Arc<crate::model::Resource>), Response> {
    let client = match crate::clients::find(state, &a.client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return Err(PageError::bad_request(
                "Unknown application",
                "The application that asked for this code is no longer registered.",
            )
            .into_response());
        }
        Err(crate::clients::LookupError::Store(e)) => return Err(internal_page(e)),
        Err(crate::clients::LookupError::Document(e)) => {
            return Err(
                PageError::bad_request("Unknown application", e.to_string()).into_response()
            );
        }
    };
    match crate::resources::find(state, &a.resource).await {
        Ok(Some(r)) => Ok((client, r)),
        Ok(None) => Err(PageError::bad_request(
            "Resource removed",
            "The resource this device asked for is no longer registered.",
        )
        .into_response()),
        Err(e) => Err(internal_page(e)),
    }
}

fn summary<'a>(
    client: &'a crate::model::Client,
    resource: &'a crate::model::Resource,
    verified_by: Option<&'a str>,
    shown: &'a str,
) -> DeviceSummary<'a> {
    DeviceSummary {
        client_name: &client.client_name,
        client_id: &client.client_id,
        verified_by,
        resource_name: &resource.name,
        resource_uri: &resource.uri,
        user_code: shown,
    }
}

/// For a client identified by a metadata document: the host that served it.
fn verified_by(client: &crate::model::Client) -> Option<String> {
    (client.origin == crate::model::ClientOrigin::Cimd)
        .then(|| crate::cimd::document::host_of(&client.client_id))
}

pub(super) async fn consent_page(
    state: &AppState,
    s: &Session,
    a: &DeviceAuthorization,
    code: &str,
) -> Response {
    let (client, resource) = match parties(state, a).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let user_id = s.user_id.as_deref().unwrap_or_default();
    let (kept, unavailable) =
        match crate::roles::scope_for_user(state, &resource, &a.scope, user_id).await {
            Ok(k) => k,
            Err(e) => return internal_page(e),
        };
    let name = match username(state, s).await {
        Ok(n) => n,
        Err(resp) => return resp,
    };
    let verified = verified_by(&client);
    let shown = device::display(code);
    let body = device_pages::consent(
        &format!("{}/device", state.0.base_path),
        &s.csrf_token,
        &summary(&client, &resource, verified.as_deref(), &shown),
        &name,
        &describe_scopes(&resource, &kept),
        &unavailable,
    );
    ui::html(StatusCode::OK, body, &[])
}

/// Our consent before the federated sign-in that will approve `a` (no one is signed in yet:
/// the scopes asked for are shown; the account's roles decide at the callback). Allow leads to
/// the provider (`provider_origin`, for the page's `form-action`).
pub(super) async fn upstream_consent_page(
    state: &AppState,
    s: &Session,
    a: &DeviceAuthorization,
    code: &str,
    provider: &Provider,
    provider_origin: &str,
) -> Response {
    let (client, resource) = match parties(state, a).await {
        Ok(p) => p,
        Err(page) => return page,
    };
    let verified = verified_by(&client);
    let shown = device::display(code);
    let body = device_pages::upstream_consent(
        &format!("{}/device/upstream", state.0.base_path),
        &s.csrf_token,
        &summary(&client, &resource, verified.as_deref(), &shown),
        provider,
        &describe_scopes(&resource, &a.scope),
    );
    ui::html(StatusCode::OK, body, &[provider_origin])
}
