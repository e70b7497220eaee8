//! The `github` preset against a stand-in that speaks GitHub's documented OAuth web flow and
//! REST endpoints (GitHub itself cannot be reached from the tests): `GET/POST
//! /login/oauth/authorize`, `POST /login/oauth/access_token` (form fields, `Accept:
//! application/json`, errors as `200` with an `error` member, PKCE S256), and with `Authorization:
//! Bearer`: `GET /user`, `/user/emails`, `/user/orgs`; and "delete an app token": `DELETE
//! /applications/{client_id}/token` with Basic (the app's id and secret) and `{"access_token"}`.

use crate::common::{PUBLIC_REDIRECT, TestServer, query_param};
use crate::idp::Browser;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Json, Redirect, Response};
use axum::routing::get;
use mcp_oauth_core::secret::Secret;
use mcp_oauth_server::config::{Preset, UpstreamConfig};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const CLIENT_ID: &str = "Iv1.standin";
const CLIENT_SECRET: &str = "github-standin-secret";

#[derive(Default)]
struct Hub {
    /// code → (redirect_uri, code_challenge, login)
    codes: Mutex<HashMap<String, (String, String, String)>>,
    /// token → login
    tokens: Mutex<HashMap<String, String>>,
    /// Tokens deleted through the app-token API.
    deleted: Mutex<Vec<String>>,
    /// When set, the app-token API never answers (an upstream that hangs).
    hang: std::sync::atomic::AtomicBool,
}

/// The accounts: id, primary e-mail and whether GitHub verified it, organisations.
fn account(login: &str) -> Option<(u64, &'static str, bool, &'static [&'static str])> {
    match login {
        "octocat" => Some((583_231, "octocat@github.example", true, &["acme"])),
        "mallory" => Some((666, "octocat@github.example", false, &[])),
        _ => None,
    }
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    redirect_uri: String,
    state: String,
    code_challenge: String,
    code_challenge_method: String,
}

async fn authorize_page(Query(q): Query<AuthorizeQuery>) -> Response {
    if q.client_id != CLIENT_ID || q.code_challenge_method != "S256" {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    let hidden = serde_urlencoded::to_string([
        ("redirect_uri", &q.redirect_uri),
        ("state", &q.state),
        ("code_challenge", &q.code_challenge),
    ])
    .unwrap();
    Html(format!(
        "<form method=\"post\" action=\"/login/oauth/authorize?{}\"><input name=\"login\"><button>Authorize</button></form>",
        hidden.replace('&', "&amp;")
    ))
    .into_response()
}

#[derive(Deserialize)]
struct Approve {
    redirect_uri: String,
    state: String,
    code_challenge: String,
}

async fn authorize_post(
    State(hub): State<Arc<Hub>>,
    Query(q): Query<Approve>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let code = format!("code-{}", hub.codes.lock().unwrap().len());
    hub.codes.lock().unwrap().insert(
        code.clone(),
        (q.redirect_uri.clone(), q.code_challenge, f["login"].clone()),
    );
    let sep = if q.redirect_uri.contains('?') {
        '&'
    } else {
        '?'
    };
    Redirect::to(&format!(
        "{}{sep}code={code}&state={}",
        q.redirect_uri,
        urlencode(&q.state)
    ))
    .into_response()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn access_token(
    State(hub): State<Arc<Hub>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    assert_eq!(headers["accept"], "application/json");
    let fail = |e: &str| Json(json!({"error": e, "error_description": "stand-in"})).into_response();
    if f.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || f.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET)
    {
        return fail("incorrect_client_credentials");
    }
    let Some((redirect, challenge, login)) = hub.codes.lock().unwrap().remove(&f["code"]) else {
        return fail("bad_verification_code");
    };
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    if f.get("redirect_uri") != Some(&redirect)
        || mcp_oauth_core::pkce::s256_challenge(&verifier) != challenge
    {
        return fail("bad_verification_code");
    }
    let token = format!("gho_{login}_{}", hub.tokens.lock().unwrap().len());
    hub.tokens.lock().unwrap().insert(token.clone(), login);
    Json(json!({"access_token": token, "token_type": "bearer", "scope": "read:user,user:email,read:org"}))
        .into_response()
}

fn who(hub: &Hub, headers: &HeaderMap) -> Option<String> {
    let token = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    hub.tokens.lock().unwrap().get(token).cloned()
}

async fn api(State(hub): State<Arc<Hub>>, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let Some(login) = who(&hub, &headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    };
    let (id, email, verified, orgs) = account(&login).unwrap();
    let body = match uri.path() {
        // The public profile e-mail is whatever the user typed: never to be trusted.
        "/user" => {
            json!({"login": login, "id": id, "name": "The Octocat", "email": "ceo@bigcorp.example"})
        }
        "/user/emails" => json!([
            {"email": "old@github.example", "primary": false, "verified": true},
            {"email": email, "primary": true, "verified": verified},
        ]),
        "/user/orgs" => Value::Array(orgs.iter().map(|o| json!({"login": o, "id": 1})).collect()),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    Json(body).into_response()
}

/// GitHub's "delete an app token": `204` once deleted, `404` for an unknown token, `401`
/// without the app's own credentials.
async fn delete_app_token(
    State(hub): State<Arc<Hub>>,
    axum::extract::Path(client_id): axum::extract::Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if hub.hang.load(std::sync::atomic::Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    let basic = mcp_oauth_core::basic::encode(CLIENT_ID, CLIENT_SECRET);
    if client_id != CLIENT_ID
        || headers
            .get("authorization")
            .is_none_or(|a| a != basic.as_str())
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    let Some(token) = body["access_token"].as_str() else {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    };
    if hub.tokens.lock().unwrap().remove(token).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    hub.deleted.lock().unwrap().push(token.to_owned());
    StatusCode::NO_CONTENT.into_response()
}

async fn stand_in() -> String {
    stand_in_hub().await.0
}

/// The stand-in and what it keeps.
async fn stand_in_hub() -> (String, Arc<Hub>) {
    let hub = Arc::new(Hub::default());
    let app = axum::Router::new()
        .route(
            "/applications/{client_id}/token",
            axum::routing::delete(delete_app_token),
        )
        .route(
            "/login/oauth/authorize",
            get(authorize_page).post(authorize_post),
        )
        .route(
            "/login/oauth/access_token",
            axum::routing::post(access_token),
        )
        .route("/user", get(api))
        .route("/user/emails", get(api))
        .route("/user/orgs", get(api))
        .with_state(hub.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, hub)
}

async fn sign_in(srv: &TestServer, hub: &str, login: &str) -> crate::idp::Answer {
    let b = Browser::new();
    let page = b
        .get(&srv.authorize_url(&srv.authorize_query("mcp:tools")))
        .await;
    let action = srv.url(&page.form_action("Continue with GitHub"));
    let form = [
        ("csrf_token", page.hidden("csrf_token")),
        ("authorize_query", page.hidden("authorize_query")),
    ];
    let consent = b
        .post(&action, &[(form[0].0, &form[0].1), (form[1].0, &form[1].1)])
        .await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    let go = b
        .post(
            &action,
            &[
                (form[0].0, &form[0].1),
                (form[1].0, &form[1].1),
                ("approve", "1"),
            ],
        )
        .await;
    let at_github = go.location.unwrap();
    assert!(
        at_github.starts_with(&format!("{hub}/login/oauth/authorize?")),
        "{at_github}"
    );
    assert!(
        query_param(&at_github, "nonce").is_none(),
        "no OpenID Connect at GitHub"
    );
    assert_eq!(
        query_param(&at_github, "scope").as_deref(),
        Some("read:user user:email read:org")
    );
    let github_page = b.get(&at_github).await;
    let approve = github_page.form_action("Authorize");
    let back = b
        .post(&format!("{hub}{approve}"), &[("login", login)])
        .await;
    b.get(&back.location.unwrap()).await
}

#[tokio::test]
async fn github_sign_in_reads_the_rest_api_and_admits_organisation_members() {
    let hub = stand_in().await;
    let srv = TestServer::start_with(|c| {
        let mut b = UpstreamConfig::new("gh", Preset::Github, CLIENT_ID);
        b.client_secret = Some(Secret::new(CLIENT_SECRET));
        b.github_url = Some(hub.clone());
        b.github_api_url = Some(hub.clone());
        b.insecure_http = true;
        b.allowed_organizations = vec!["ACME".into()];
        c.upstream = vec![b];
    })
    .await;
    let done = sign_in(&srv, &hub, "octocat").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let loc = done.location.unwrap();
    assert!(loc.starts_with(PUBLIC_REDIRECT));
    let r = srv.exchange(&query_param(&loc, "code").unwrap()).await;
    assert_eq!(r.status(), StatusCode::OK);
    let link = srv
        .store()
        .get_upstream_link("gh", "583231")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        link.email.as_deref(),
        Some("octocat@github.example"),
        "the primary address"
    );
    assert!(link.email_verified);
    let user = srv.store().get_user(&link.user_id).await.unwrap().unwrap();
    assert_eq!(user.username, "gh-octocat");

    // Not a member of an allowed organisation: refused, nothing written.
    let refused = sign_in(&srv, &hub, "mallory").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("organisation"), "{}", refused.body);
    assert!(
        srv.store()
            .get_upstream_link("gh", "666")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_revoked_grant_deletes_its_github_token_at_github() {
    let (hub_url, hub) = stand_in_hub().await;
    let srv = TestServer::start_with(|c| {
        let mut b = UpstreamConfig::new("gh", Preset::Github, CLIENT_ID);
        b.client_secret = Some(Secret::new(CLIENT_SECRET));
        b.github_url = Some(hub_url.clone());
        b.github_api_url = Some(hub_url.clone());
        b.insecure_http = true;
        b.allowed_organizations = vec!["ACME".into()];
        c.upstream = vec![b];
        c.fetch_timeout_ms = 30_000;
    })
    .await;
    let code = |done: crate::idp::Answer| {
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
        query_param(&done.location.unwrap(), "code").unwrap()
    };
    // Code replay revokes the grant: its GitHub token is deleted at GitHub before the answer.
    let first = code(sign_in(&srv, &hub_url, "octocat").await);
    assert_eq!(srv.exchange(&first).await.status(), StatusCode::OK);
    assert_eq!(hub.tokens.lock().unwrap().len(), 1);
    assert_eq!(srv.exchange(&first).await.status(), StatusCode::BAD_REQUEST);
    assert_eq!(hub.deleted.lock().unwrap().len(), 1, "deleted at GitHub");
    assert!(hub.tokens.lock().unwrap().is_empty());

    // A GitHub that hangs: the request is answered within the bound all the same, and the
    // deletion is only logged as failed.
    let second = code(sign_in(&srv, &hub_url, "octocat").await);
    assert_eq!(srv.exchange(&second).await.status(), StatusCode::OK);
    hub.hang.store(true, std::sync::atomic::Ordering::SeqCst);
    let started = std::time::Instant::now();
    assert_eq!(
        srv.exchange(&second).await.status(),
        StatusCode::BAD_REQUEST
    );
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(4),
        "bounded: {took:?}"
    );
    assert_eq!(hub.deleted.lock().unwrap().len(), 1);
}
