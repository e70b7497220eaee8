//! `POST /device/login`: the device page's own password sign-in (the checks of `/login`, a new
//! session id), back to `/device` with the code the person had, still to be confirmed there.

use super::read_form;
use super::render::login_page;
use crate::device;
use crate::handlers::authorize::{internal_page, redirect};
use crate::handlers::login::{PasswordRefusal, check_password};
use crate::state::AppState;
use crate::ui::PageError;
use crate::ui::session;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use mcp_oauth_core::secret::Secret;
use std::net::SocketAddr;
/// `POST /device/login`: the password sign-in of the device page, then back to `/device` with
/// the code the person had (still to be confirmed there).
pub async fn login(State(state): State<AppState>, req: Request) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = peer.map_or_else(|| "unknown".into(), |a| a.to_string());
    let ip_key = peer.map_or_else(|| "ip:unknown".into(), crate::throttle::ip_key);
    let (parts, body) = req.into_parts();
    let (s, mut params) = match read_form(&state, &parts.headers, body, false).await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let user_code = params.take("user_code").unwrap_or_default();
    let carried = device::normalise(&user_code)
        .map(|c| device::display(&c))
        .unwrap_or_default();
    if !state.config().local_login {
        return PageError::new(
            StatusCode::FORBIDDEN,
            "Password sign-in is off",
            "This server signs people in through their identity provider only.",
        )
        .into_response();
    }
    let username = params.take("username").unwrap_or_default();
    let password = Secret::new(params.take("password").unwrap_or_default());
    let user = match check_password(&state, &ip, ip_key, &username, password, None).await {
        Ok(u) => u,
        Err(PasswordRefusal::Internal(resp)) => return resp,
        Err(PasswordRefusal::Throttled(wait)) => {
            let mut resp = login_page(
                &state,
                &s,
                None,
                &carried,
                Some(&format!(
                    "Too many failed attempts. Try again in {wait} seconds."
                )),
                &username,
                StatusCode::TOO_MANY_REQUESTS,
            );
            crate::ui::error::set_retry_after(&mut resp, wait);
            return resp;
        }
        Err(PasswordRefusal::Wrong) => {
            return login_page(
                &state,
                &s,
                None,
                &carried,
                Some("The username or password is incorrect."),
                &username,
                StatusCode::UNAUTHORIZED,
            );
        }
    };
    // A new session id at login defeats session fixation.
    if let Err(e) = state.store().delete_session(&s.id_hash).await {
        return internal_page(e);
    }
    let cookie = match session::create(&state, Some(user.id.clone())).await {
        Ok((_, cookie)) => cookie,
        Err(e) => return internal_page(e),
    };
    let mut back = format!("{}/device", state.0.base_path);
    if !carried.is_empty() {
        back.push_str("?user_code=");
        back.push_str(&carried);
    }
    let mut resp = redirect(&back);
    if let Some(c) = cookie {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}
