//! Client ID Metadata Documents: documents served by a small app on loopback (the development
//! switch `cimd_allow_loopback` on), the whole browser flow, caching, and every hostile case.
//! Addresses other than loopback are only ever refused, never contacted.

use crate::common::*;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode as AxStatus, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mcp_oauth_server::model::ClientOrigin;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

pub const DOC_REDIRECT: &str = "http://127.0.0.1/callback";

/// The document host: serves documents under `/{name}` and counts every request.
#[derive(Clone)]
pub struct DocServer {
    pub base: String,
    pub hits: Arc<AtomicUsize>,
    /// While false, `/flaky.json` serves an invalid document.
    pub flaky_ok: Arc<AtomicBool>,
    /// Extra documents (by name) a test installs: served as JSON with `max-age=600`.
    pub extra: Arc<std::sync::Mutex<std::collections::HashMap<String, Value>>>,
}

impl DocServer {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let s = Self {
            base,
            hits: Arc::new(AtomicUsize::new(0)),
            flaky_ok: Arc::new(AtomicBool::new(false)),
            extra: Default::default(),
        };
        let app = axum::Router::new()
            .route("/{name}", get(serve))
            .with_state(s.clone());
        // Lives until the test's runtime ends.
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        s
    }

    pub fn url(&self, name: &str) -> String {
        format!("{}/{name}", self.base)
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// A valid document for `name`.
    pub fn document(&self, name: &str) -> Value {
        json!({
            "client_id": self.url(name),
            "client_name": "Doc <App>",
            "client_uri": "https://app.example",
            "redirect_uris": [DOC_REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": "mcp:tools files:read"
        })
    }
}

fn json_response(body: String, cache: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

async fn serve(State(s): State<DocServer>, Path(name): Path<String>, _h: HeaderMap) -> Response {
    s.hits.fetch_add(1, Ordering::SeqCst);
    if let Some(doc) = s.extra.lock().unwrap().get(&name).cloned() {
        return json_response(doc.to_string(), "max-age=600");
    }
    let good = s.document(&name);
    match name.as_str() {
        "good.json" => json_response(good.to_string(), "public, max-age=600"),
        "nostore.json" => json_response(good.to_string(), "no-store"),
        "unnamed.json" => {
            let mut d = good;
            d.as_object_mut().unwrap().remove("client_name");
            json_response(d.to_string(), "max-age=600")
        }
        "flaky.json" => {
            let mut d = good;
            if !s.flaky_ok.load(Ordering::SeqCst) {
                d["client_id"] = "https://someone-else.example/client.json".into();
            }
            json_response(d.to_string(), "max-age=600")
        }
        "redirect.json" => {
            (AxStatus::FOUND, [(header::LOCATION, s.url("good.json"))]).into_response()
        }
        "big.json" => {
            let mut d = good;
            d["padding"] = "x".repeat(6 * 1024).into();
            json_response(d.to_string(), "max-age=600")
        }
        "slow.json" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            json_response(good.to_string(), "max-age=600")
        }
        "html.json" => (
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>not a document</body></html>",
        )
            .into_response(),
        "notjson.json" => json_response("{\"client_id\": ".into(), "max-age=600"),
        "other-id.json" => {
            let mut d = good;
            d["client_id"] = s.url("good.json").into();
            json_response(d.to_string(), "max-age=600")
        }
        "secret.json" => {
            let mut d = good;
            d["client_secret"] = "s3cr3t".into();
            json_response(d.to_string(), "max-age=600")
        }
        "secret-method.json" => {
            let mut d = good;
            d["token_endpoint_auth_method"] = "client_secret_basic".into();
            json_response(d.to_string(), "max-age=600")
        }
        "no-redirects.json" => {
            let mut d = good;
            d.as_object_mut().unwrap().remove("redirect_uris");
            json_response(d.to_string(), "max-age=600")
        }
        _ => (AxStatus::NOT_FOUND, "not found").into_response(),
    }
}

/// A server that may fetch documents from loopback, with a short fetch timeout.
pub async fn cimd_server() -> TestServer {
    TestServer::start_with(|c| {
        c.cimd_allow_loopback = true;
        c.fetch_timeout_ms = 700;
        c.fetch_connect_timeout_ms = 500;
    })
    .await
}

fn query_for(s: &TestServer, client_id: &str, redirect: &str) -> Vec<(String, String)> {
    let mut q = s.authorize_query("mcp:tools");
    q[1].1 = client_id.to_owned();
    q[2].1 = redirect.to_owned();
    q
}

/// GETs /authorize and expects an error page (never a redirect); returns its text.
async fn refused_page(s: &TestServer, client_id: &str) -> String {
    let mut b = Browser::new(s);
    let page = b
        .get(&s.authorize_url(&query_for(s, client_id, "http://127.0.0.1:6200/callback")))
        .await;
    assert_eq!(
        page.status,
        StatusCode::BAD_REQUEST,
        "{client_id}: {}",
        page.body
    );
    assert!(page.location.is_none(), "{client_id}: never a redirect");
    html_unescape(&page.body)
}

/// A token request naming `client_id` as a public client.
async fn token_as(s: &TestServer, client_id: &str) -> (StatusCode, String) {
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", client_id),
                ("code", "nope"),
                ("redirect_uri", "http://127.0.0.1:6200/callback"),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    error_of(r).await
}

#[tokio::test]
async fn a_document_client_signs_in_through_login_and_consent() {
    let s = cimd_server().await;
    let docs = DocServer::start().await;
    let m: Value = s.get_json("/.well-known/oauth-authorization-server").await;
    assert_eq!(m["client_id_metadata_document_supported"], true);

    let id = docs.url("good.json");
    let redirect = "http://127.0.0.1:6101/callback";
    let q = query_for(&s, &id, redirect);
    let mut b = Browser::new(&s);
    let login = b.get(&s.authorize_url(&q)).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert!(
        login.body.contains("Doc &lt;App&gt;"),
        "the document's name, escaped"
    );
    assert!(
        login
            .body
            .contains("Client identity verified by <strong>127.0.0.1</strong>"),
        "{}",
        login.body
    );
    let aq = login.hidden("authorize_query");
    let consent = b.log_in(&login, "alice", "wonderland").await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.body);
    assert!(
        consent
            .body
            .contains("Client identity verified by <strong>127.0.0.1</strong>")
    );
    assert!(
        consent.body.contains("127.0.0.1:6101"),
        "redirect host shown"
    );
    let csrf = consent.hidden("csrf_token");
    let done = b
        .post(
            "/consent",
            &[
                ("csrf_token", &csrf),
                ("authorize_query", &aq),
                ("approve", "1"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let loc = done.location.unwrap();
    assert!(loc.starts_with(redirect));
    let code = query_param(&loc, "code").unwrap();
    let r = s.exchange_as(&id, &code, redirect).await;
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    assert_eq!(claims(t["access_token"].as_str().unwrap())["client_id"], id);
    assert!(t["refresh_token"].is_string());
    assert_eq!(docs.hits(), 1, "fetched once, then served from the cache");

    // Recorded as a CIMD client, with its last use, for `clients list`.
    let stored = s.store().get_client(&id).await.unwrap().unwrap();
    assert_eq!(stored.origin, ClientOrigin::Cimd);
    assert_eq!(stored.client_name, "Doc <App>");
    assert_eq!(stored.last_used_at, Some(1_800_000_000));
    assert!(stored.secret_hash.is_none());

    // The refresh token works too, still from the cache.
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &id),
                ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(docs.hits(), 1);
}

#[tokio::test]
async fn documents_are_cached_as_their_headers_say_within_bounds() {
    let s = cimd_server().await;
    let docs = DocServer::start().await;
    let page = |id: String| {
        let s = &s;
        async move {
            let mut b = Browser::new(s);
            b.get(&s.authorize_url(&query_for(s, &id, "http://127.0.0.1:6102/callback")))
                .await
        }
    };
    // max-age=600: cached for 600 s.
    assert_eq!(page(docs.url("good.json")).await.status, StatusCode::OK);
    assert_eq!(page(docs.url("good.json")).await.status, StatusCode::OK);
    assert_eq!(docs.hits(), 1);
    s.clock.advance(599);
    page(docs.url("good.json")).await;
    assert_eq!(docs.hits(), 1);
    s.clock.advance(1);
    page(docs.url("good.json")).await;
    assert_eq!(docs.hits(), 2, "refetched once expired");

    // no-store: fetched every time.
    let before = docs.hits();
    for _ in 0..3 {
        assert_eq!(page(docs.url("nostore.json")).await.status, StatusCode::OK);
    }
    assert_eq!(docs.hits(), before + 3);

    // Invalid documents are never cached: once fixed, the next request sees the fix.
    let before = docs.hits();
    assert_eq!(
        page(docs.url("flaky.json")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        page(docs.url("flaky.json")).await.status,
        StatusCode::BAD_REQUEST
    );
    docs.flaky_ok.store(true, Ordering::SeqCst);
    assert_eq!(page(docs.url("flaky.json")).await.status, StatusCode::OK);
    assert_eq!(docs.hits(), before + 3);

    // A document without a name is shown by its host.
    let p = page(docs.url("unnamed.json")).await;
    assert!(
        p.body
            .contains("<strong>127.0.0.1</strong> wants to access"),
        "{}",
        p.body
    );
}

#[tokio::test]
async fn hostile_documents_get_an_error_page_and_invalid_client() {
    let s = cimd_server().await;
    let docs = DocServer::start().await;
    let cases = [
        ("redirect.json", "redirects"),
        ("big.json", "larger than 5120 bytes"),
        ("slow.json", "did not answer in time"),
        ("html.json", "not JSON"),
        ("notjson.json", "not valid JSON"),
        ("other-id.json", "client_id is not the URL"),
        ("secret.json", "must not carry a client secret"),
        ("secret-method.json", "none or private_key_jwt"),
        ("no-redirects.json", "redirect_uris is required"),
        ("missing.json", "HTTP 404"),
    ];
    for (name, reason) in cases {
        let id = docs.url(name);
        let text = refused_page(&s, &id).await;
        assert!(text.contains(reason), "{name}: {text}");
        assert!(text.contains("127.0.0.1"), "{name}: names the host");
        assert_eq!(
            token_as(&s, &id).await,
            (StatusCode::UNAUTHORIZED, "invalid_client".into()),
            "{name}"
        );
        assert!(
            s.store().get_client(&id).await.unwrap().is_none(),
            "{name}: not recorded"
        );
    }
    // The slow document did not hold the request: the fetch gave up after the timeout.
    let started = std::time::Instant::now();
    refused_page(&s, &docs.url("slow.json")).await;
    assert!(started.elapsed() < Duration::from_millis(2500));

    // A valid document, but a redirect URI it does not list: a page, not a redirect.
    let mut b = Browser::new(&s);
    let page = b
        .get(&s.authorize_url(&query_for(
            &s,
            &docs.url("good.json"),
            "https://evil.example/cb",
        )))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location.is_none());
    // Document URLs of the wrong shape.
    for bad in [
        format!("{}/good.json?x=1", docs.base),
        format!("{}/a/../good.json", docs.base),
        format!("{}/", docs.base),
    ] {
        let text = refused_page(&s, &bad).await;
        assert!(text.contains("client id URL must"), "{bad}: {text}");
    }
}

#[tokio::test]
async fn private_and_loopback_addresses_are_refused_without_connecting() {
    // The development switch OFF: loopback is refused like any special-use address.
    let s = TestServer::start().await;
    let docs = DocServer::start().await;
    let port = docs.base.rsplit(':').next().unwrap().to_owned();
    for id in [
        format!("https://127.0.0.1:{port}/good.json"),
        format!("https://localhost:{port}/good.json"), // a name that resolves to 127.0.0.1
        format!("https://[::1]:{port}/good.json"),
        "https://10.0.0.1/client.json".to_owned(),
        "https://169.254.169.254/latest/meta-data/client.json".to_owned(),
        "https://[fd00::1]/client.json".to_owned(),
        "https://[::ffff:192.168.0.1]/client.json".to_owned(),
    ] {
        let text = refused_page(&s, &id).await;
        assert!(
            text.contains("private or special-use address"),
            "{id}: {text}"
        );
        assert_eq!(
            token_as(&s, &id).await,
            (StatusCode::UNAUTHORIZED, "invalid_client".into()),
            "{id}"
        );
    }
    // Plain http is not even a document URL without the switch.
    let text = refused_page(&s, &docs.url("good.json")).await;
    assert!(text.contains("not registered"), "{text}");
    assert_eq!(docs.hits(), 0, "nothing reached the document host");

    // The switch ON permits loopback, and still never private ranges.
    let dev = cimd_server().await;
    for id in [
        "https://10.0.0.1/client.json",
        "https://169.254.169.254/client.json",
        "https://[fe80::1]/client.json",
    ] {
        let text = refused_page(&dev, id).await;
        assert!(
            text.contains("private or special-use address"),
            "{id}: {text}"
        );
    }
}

#[tokio::test]
async fn trust_policy_allow_and_deny_lists() {
    let docs = DocServer::start().await;
    let denied = TestServer::start_with(|c| {
        c.cimd_allow_loopback = true;
        c.cimd_deny_hosts = vec!["127.0.0.1".into()];
    })
    .await;
    let text = refused_page(&denied, &docs.url("good.json")).await;
    assert!(
        text.contains("does not accept client metadata documents from 127.0.0.1"),
        "{text}"
    );
    let allow_other = TestServer::start_with(|c| {
        c.cimd_allow_loopback = true;
        c.cimd_allow_hosts = vec!["partner.example".into(), "*.corp.example".into()];
    })
    .await;
    refused_page(&allow_other, &docs.url("good.json")).await;
    assert_eq!(docs.hits(), 0, "refused before any fetch");
    let allowed = TestServer::start_with(|c| {
        c.cimd_allow_loopback = true;
        c.cimd_allow_hosts = vec!["127.0.0.1".into()];
    })
    .await;
    let mut b = Browser::new(&allowed);
    let page = b
        .get(&allowed.authorize_url(&query_for(
            &allowed,
            &docs.url("good.json"),
            "http://127.0.0.1:6103/callback",
        )))
        .await;
    assert_eq!(page.status, StatusCode::OK);
}

#[tokio::test]
async fn documents_can_be_switched_off() {
    let s = TestServer::start_with(|c| {
        c.cimd_enabled = false;
        c.cimd_allow_loopback = true;
    })
    .await;
    let docs = DocServer::start().await;
    let m: Value = s.get_json("/.well-known/oauth-authorization-server").await;
    assert!(m.get("client_id_metadata_document_supported").is_none());
    let text = refused_page(&s, &docs.url("good.json")).await;
    assert!(text.contains("not registered"), "{text}");
    assert_eq!(docs.hits(), 0);
}

/// A listener on loopback that only counts the connections made to it: any fetch attempt, TLS
/// or not, shows up here.
async fn connection_counter() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    (port, count)
}

#[tokio::test]
async fn trust_lists_see_every_spelling_of_a_denied_host() {
    let (port, connections) = connection_counter().await;
    let deny = |host: &'static str| {
        move |c: &mut mcp_oauth_server::config::ServerConfig| {
            c.cimd_allow_loopback = true;
            c.fetch_timeout_ms = 700;
            c.fetch_connect_timeout_ms = 500;
            c.cimd_deny_hosts = vec![host.into()];
        }
    };
    let no_localhost = TestServer::start_with(deny("localhost")).await;
    for id in [
        "https://localhost\\x/c.json".to_owned(),
        format!("https://localhost:{port}\\c.json"),
        format!("https://ｌｏｃａｌｈｏｓｔ:{port}/c.json"),
        format!("https://LOCALHOST.:{port}/c.json"),
    ] {
        let text = refused_page(&no_localhost, &id).await;
        assert!(
            text.contains("does not accept client metadata documents from localhost")
                || text.contains("must not contain a backslash"),
            "{id}: {text}"
        );
        assert_eq!(
            token_as(&no_localhost, &id).await.1,
            "invalid_client",
            "{id}"
        );
    }
    let no_loopback_ip = TestServer::start_with(deny("127.0.0.1")).await;
    for id in [
        format!("https://127.1:{port}/c.json"),
        format!("https://2130706433:{port}/c.json"),
        format!("https://0x7f000001:{port}/c.json"),
        format!("https://0177.0.0.1:{port}/c.json"),
        format!("https://0x7f.0.0.1:{port}/c.json"),
        format!("https://[::ffff:127.0.0.1]:{port}/c.json"),
        format!("https://[::ffff:7f00:1]:{port}/c.json"),
    ] {
        let text = refused_page(&no_loopback_ip, &id).await;
        assert!(
            text.contains("does not accept client metadata documents from 127.0.0.1"),
            "{id}: {text}"
        );
        assert_eq!(
            token_as(&no_loopback_ip, &id).await.1,
            "invalid_client",
            "{id}"
        );
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "no refused spelling reached the network"
    );
    // The counter does count: an address the list does not name is connected to.
    refused_page(&no_localhost, &format!("https://127.0.0.1:{port}/c.json")).await;
    assert!(connections.load(Ordering::SeqCst) > 0);
}

#[tokio::test]
async fn pages_show_the_ascii_host_of_a_document_url() {
    let s = TestServer::start_with(|c| c.cimd_allow_hosts = vec!["partner.example".into()]).await;
    // A Cyrillic "а" in place of the Latin one.
    let text = refused_page(&s, "https://\u{430}pple.example/client.json").await;
    assert!(text.contains("xn--pple-43d.example"), "{text}");
    assert!(!text.contains('\u{430}'), "{text}");
}

#[tokio::test]
async fn errors_never_redirect_to_a_document_clients_uris() {
    let s = cimd_server().await;
    let docs = DocServer::start().await;
    let q = query_for(&s, &docs.url("good.json"), DOC_REDIRECT);
    let bad: Vec<_> = q
        .iter()
        .filter(|(k, _)| k != "code_challenge")
        .cloned()
        .collect();
    let mut b = Browser::new(&s);
    let page = b.get(&s.authorize_url(&bad)).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.location.is_none(), "never a redirect");
    assert!(html_unescape(&page.body).contains("invalid_request"));
}
