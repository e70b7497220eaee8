//! The web console at `/console` (issue 16): static files shipped in the repository
//! (`crates/server/console/`, compiled in with `include_str!`, no build step) and the small JSON
//! API the console calls (`api.rs`).
//!
//! The console is a public OAuth client of this server ([`CLIENT_ID`]): it signs in with
//! authorization code + PKCE S256 (WebCrypto), keeps its tokens in memory only, and calls the API
//! with a bearer token whose audience is [`api_resource`]. Its pages are sent with a strict
//! Content-Security-Policy: scripts and styles only from this origin, no inline script or
//! style, no framing, fetches only to this origin.

pub mod admin_api;
pub mod api;

use crate::admin::{self, AdminError, NewClient};
use crate::store::Store;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mcp_oauth_core::clock::UnixTime;

/// The console's client id.
pub const CLIENT_ID: &str = "mcp-oauth-console";
/// The scope of every console call.
pub const SCOPE: &str = "console";
/// The scope of the administrators' calls, restricted to the role [`ADMIN_ROLE`].
pub const ADMIN_SCOPE: &str = "console:admin";
/// The role that may approve [`ADMIN_SCOPE`].
pub const ADMIN_ROLE: &str = "admin";

/// The console API's resource URI (the audience of the console's tokens).
pub fn api_resource(issuer: &str) -> String {
    crate::resources::console_api(issuer)
}

/// Where the authorization server sends the console back.
pub fn redirect_uri(issuer: &str) -> String {
    format!("{}/console/", issuer.trim_end_matches('/'))
}

/// The policy of every console page and file.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const INDEX: &str = include_str!("../../console/index.html");
const SCRIPT: &str = include_str!("../../console/console.js");
const ADMIN_SCRIPT: &str = include_str!("../../console/console-admin.js");
const STYLE: &str = include_str!("../../console/console.css");

fn file(content_type: &'static str, body: &'static str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The console's routes under the issuer path `base`: the files and the API.
pub fn router(base: &str) -> Router<crate::state::AppState> {
    Router::new()
        .route(
            &format!("{base}/console/"),
            get(|| async { file("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            &format!("{base}/console/console.js"),
            get(|| async { file("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            &format!("{base}/console/console-admin.js"),
            get(|| async { file("text/javascript; charset=utf-8", ADMIN_SCRIPT) }),
        )
        .route(
            &format!("{base}/console/console.css"),
            get(|| async { file("text/css; charset=utf-8", STYLE) }),
        )
        .merge(api::router(base))
}

/// Registers the console's public client and its API resource for `issuer` unless they exist
/// (and lets the client come back to this issuer's console). Safe when several instances start
/// together on one database: a record another one just created is taken as it is.
pub async fn ensure(store: &dyn Store, issuer: &str, now: UnixTime) -> Result<(), AdminError> {
    match ensure_once(store, issuer, now).await {
        Err(AdminError::Exists(_)) => ensure_once(store, issuer, now).await,
        other => other,
    }
}

async fn ensure_once(store: &dyn Store, issuer: &str, now: UnixTime) -> Result<(), AdminError> {
    let uri = api_resource(issuer);
    if store.get_resource(&uri).await?.is_none() {
        let mut scopes = vec![
            admin::parse_scope_def("console=Manage your own access")?,
            admin::parse_scope_def("console:admin=Administer the server")?,
        ];
        admin::roles::restrict(&mut scopes, &[format!("{ADMIN_SCOPE}={ADMIN_ROLE}")])?;
        admin::add_resource(store, &uri, "mcp-oauth console", scopes, now).await?;
    }
    let back = redirect_uri(issuer);
    match store.get_client(CLIENT_ID).await? {
        None => {
            admin::add_client(
                store,
                NewClient {
                    name: "mcp-oauth console".into(),
                    redirect_uris: vec![back],
                    public: true,
                    client_id: Some(CLIENT_ID.into()),
                    ..Default::default()
                },
                now,
            )
            .await?;
        }
        Some(mut c) if !c.redirect_uris.contains(&back) => {
            c.redirect_uris.push(back);
            store.update_client(&c).await?;
        }
        Some(_) => {}
    }
    Ok(())
}
