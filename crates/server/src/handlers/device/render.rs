//! The device page's answers: the sign-in, the code form, the consent (client, resource,
//! scopes as the user's roles allow), each with the page headers of [`crate::ui::html`].

use crate::device;
use crate::handlers::authorize::internal_page;
use crate::model::{DeviceAuthorization, Session};
use crate::state::AppState;
use crate::ui::device_pages::{self, DeviceSummary};
use crate::ui::{self, PageError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
pub(super) fn login_page(
    state: &AppState,
    s: &Session,
    cookie: Option<HeaderValue>,
    user_code: &str,
    error: Option<&str>,
    username: &str,
    status: StatusCode,
) -> Response {
    let body = device_pages::login(
        &format!("{}/device/login", state.0.base_path),
        &s.csrf_token,
        user_code,
        error,
        username,
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

pub(super) async fn consent_page(
    state: &AppState,
    s: &Session,
    a: &DeviceAuthorization,
    code: &str,
) -> Response {
    let client = match crate::clients::find(state, &a.client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return PageError::bad_request(
                "Unknown application",
                "The application that asked for this code is no longer registered.",
            )
            .into_response();
        }
        Err(crate::clients::LookupError::Store(e)) => return internal_page(e),
        Err(crate::clients::LookupError::Document(e)) => {
            return PageError::bad_request("Unknown application", e.to_string()).into_response();
        }
    };
    let resource = match crate::resources::find(state, &a.resource).await {
        Ok(Some(r)) => r,
        Ok(None) => {
            return PageError::bad_request(
                "Resource removed",
                "The resource this device asked for is no longer registered.",
            )
            .into_response();
        }
        Err(e) => return internal_page(e),
    };
    let user_id = s.user_id.as_deref().unwrap_or_default();
    let (kept, unavailable) =
        match crate::roles::scope_for_user(state, &resource, &a.scope, user_id).await {
            Ok(k) => k,
            Err(e) => return internal_page(e),
        };
    let scopes: Vec<(String, String)> = kept
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
        .collect();
    let name = match username(state, s).await {
        Ok(n) => n,
        Err(resp) => return resp,
    };
    let verified_by = (client.origin == crate::model::ClientOrigin::Cimd)
        .then(|| crate::cimd::document::host_of(&client.client_id));
    let shown = device::display(code);
    let body = device_pages::consent(
        &format!("{}/device", state.0.base_path),
        &s.csrf_token,
        &DeviceSummary {
            client_name: &client.client_name,
            client_id: &client.client_id,
            verified_by: verified_by.as_deref(),
            resource_name: &resource.name,
            resource_uri: &resource.uri,
            user_code: &shown,
        },
        &name,
        &scopes,
        &unavailable,
    );
    ui::html(StatusCode::OK, body, &[])
}
