//! The device flow's polling (RFC 8628 §3.5) against a stand-in authorization server on
//! 127.0.0.1:0 whose token endpoint answers a scripted sequence: the interval waited before each
//! poll, 5 s more after `slow_down`, `access_denied` and `expired_token` ending the wait, the
//! code's lifetime bounding it, and a verification URI the URL policy refuses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use mcp_oauth_client::Error;
use mcp_oauth_client::device::{self, DeviceAuthorization};
use mcp_oauth_client::fetch::{Fetcher, HttpSettings};
use mcp_oauth_client::registration::{ClientAuth, ClientRegistration};
use mcp_oauth_client::token::TokenEndpoint;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A poll's arrival time and form.
type Poll = (Instant, HashMap<String, String>);

#[derive(Clone, Default)]
struct Script {
    /// The token endpoint's answers, in order (the last one repeats).
    answers: Arc<Mutex<Vec<&'static str>>>,
    /// When each poll arrived, and its form.
    polls: Arc<Mutex<Vec<Poll>>>,
    verification_uri: Arc<Mutex<String>>,
    expires_in: u64,
}

async fn device_endpoint(
    State(s): State<Script>,
    Form(form): Form<HashMap<String, String>>,
) -> axum::Json<Value> {
    assert_eq!(form.get("client_id").map(String::as_str), Some("tv"));
    assert_eq!(
        form.get("resource").map(String::as_str),
        Some("https://mcp.example/mcp")
    );
    let uri = s.verification_uri.lock().unwrap().clone();
    axum::Json(json!({
        "device_code": "dc-secret",
        "user_code": "BCDF-GHJK",
        "verification_uri": uri,
        "verification_uri_complete": format!("{uri}?user_code=BCDF-GHJK"),
        "expires_in": s.expires_in,
        "interval": 1,
    }))
}

async fn token_endpoint(
    State(s): State<Script>,
    Form(form): Form<HashMap<String, String>>,
) -> (StatusCode, axum::Json<Value>) {
    s.polls.lock().unwrap().push((Instant::now(), form));
    let mut answers = s.answers.lock().unwrap();
    let answer = if answers.len() > 1 {
        answers.remove(0)
    } else {
        answers[0]
    };
    match answer {
        "tokens" => (
            StatusCode::OK,
            axum::Json(json!({
                "access_token": "at", "token_type": "Bearer", "expires_in": 60,
                "refresh_token": "rt", "scope": "mcp:tools"
            })),
        ),
        error => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": error })),
        ),
    }
}

/// The stand-in, answering `answers` at `/token`; its base URL and the script.
async fn stand_in(answers: Vec<&'static str>, expires_in: u64) -> (String, Script) {
    let script = Script {
        answers: Arc::new(Mutex::new(answers)),
        expires_in,
        ..Default::default()
    };
    let app = axum::Router::new()
        .route("/device", post(device_endpoint))
        .route("/token", post(token_endpoint))
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *script.verification_uri.lock().unwrap() = format!("{base}/verify");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, script)
}

fn fetcher() -> Fetcher {
    Fetcher::new(HttpSettings {
        allow_insecure_http: true,
        ..Default::default()
    })
    .unwrap()
}

async fn started(
    f: &Fetcher,
    base: &str,
    client: &ClientRegistration,
) -> mcp_oauth_client::Result<DeviceAuthorization> {
    let url = format!("{base}/device");
    device::start(
        f,
        TokenEndpoint {
            url: &url,
            issuer: base,
            client,
            method: "none",
            dpop: None,
        },
        "https://mcp.example/mcp",
        Some("mcp:tools"),
        0,
    )
    .await
}

async fn polled(
    f: &Fetcher,
    base: &str,
    client: &ClientRegistration,
    a: &DeviceAuthorization,
) -> mcp_oauth_client::Result<mcp_oauth_client::token::IssuedToken> {
    let url = format!("{base}/token");
    device::poll(
        f,
        TokenEndpoint {
            url: &url,
            issuer: base,
            client,
            method: "none",
            dpop: None,
        },
        a,
        "https://mcp.example/mcp",
        || 0,
    )
    .await
}

#[tokio::test]
async fn polls_wait_the_interval_and_five_seconds_more_after_slow_down() {
    let (base, script) = stand_in(vec!["authorization_pending", "slow_down", "tokens"], 60).await;
    let f = fetcher();
    let client = ClientRegistration::pre_registered("tv", ClientAuth::None);
    let begun = Instant::now();
    let a = started(&f, &base, &client).await.unwrap();
    assert_eq!(a.user_code, "BCDF-GHJK");
    assert_eq!(a.interval, Duration::from_secs(1));
    assert!(a.verification_uri_complete.is_some());
    let issued = polled(&f, &base, &client, &a).await.unwrap();
    assert_eq!(issued.access_token.expose(), "at");
    let polls = script.polls.lock().unwrap().clone();
    assert_eq!(polls.len(), 3);
    let form = &polls[0].1;
    assert_eq!(
        form.get("grant_type").map(String::as_str),
        Some("urn:ietf:params:oauth:grant-type:device_code")
    );
    assert_eq!(
        form.get("device_code").map(String::as_str),
        Some("dc-secret")
    );
    assert_eq!(form.get("client_id").map(String::as_str), Some("tv"));
    assert_eq!(
        form.get("resource").map(String::as_str),
        Some("https://mcp.example/mcp")
    );
    // Lower bounds only: the client sleeps at least this long before each poll.
    assert!(
        polls[0].0 - begun >= Duration::from_secs(1),
        "the interval before the first poll"
    );
    assert!(polls[1].0 - polls[0].0 >= Duration::from_secs(1));
    assert!(
        polls[2].0 - polls[1].0 >= Duration::from_secs(6),
        "slow_down adds 5 s to the 1 s interval"
    );
}

#[tokio::test]
async fn denial_expiry_and_the_lifetime_end_the_wait() {
    let client = ClientRegistration::pre_registered("tv", ClientAuth::None);
    let f = fetcher();
    let (base, _) = stand_in(vec!["authorization_pending", "access_denied"], 60).await;
    let a = started(&f, &base, &client).await.unwrap();
    assert!(matches!(
        polled(&f, &base, &client, &a).await,
        Err(Error::DeviceAccessDenied)
    ));
    let (base, _) = stand_in(vec!["expired_token"], 60).await;
    let a = started(&f, &base, &client).await.unwrap();
    assert!(matches!(
        polled(&f, &base, &client, &a).await,
        Err(Error::DeviceCodeExpired(_))
    ));
    // Pending for ever: the wait ends when `expires_in` (3 s) would pass before the next poll.
    let (base, script) = stand_in(vec!["authorization_pending"], 3).await;
    let a = started(&f, &base, &client).await.unwrap();
    assert!(matches!(
        polled(&f, &base, &client, &a).await,
        Err(Error::DeviceCodeExpired(_))
    ));
    let n = script.polls.lock().unwrap().len();
    assert!((1..=3).contains(&n), "{n} polls within 3 s at 1 s each");
    // Another error is passed on as it came.
    let (base, _) = stand_in(vec!["invalid_grant"], 60).await;
    let a = started(&f, &base, &client).await.unwrap();
    let e = polled(&f, &base, &client, &a).await.unwrap_err();
    assert_eq!(e.oauth_error(), Some("invalid_grant"));
}

#[tokio::test]
async fn a_verification_uri_outside_the_url_policy_is_refused() {
    let (base, script) = stand_in(vec!["tokens"], 60).await;
    *script.verification_uri.lock().unwrap() = "http://phish.example/verify".into();
    let client = ClientRegistration::pre_registered("tv", ClientAuth::None);
    let e = started(&fetcher(), &base, &client).await.unwrap_err();
    assert!(e.to_string().contains("verification_uri"), "{e}");
}
