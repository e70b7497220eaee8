//! The harness: a server on 127.0.0.1:0 over a fresh SQLite database, a test clock, seeded
//! accounts, and a browser-like helper that drives the login and consent forms.

#![allow(dead_code)]

use base64::Engine;
use mcp_oauth_core::clock::TestClock;
use mcp_oauth_core::secret::Secret;
use mcp_oauth_server::admin::{self, NewClient};
use mcp_oauth_server::keys::kek::Kek;
use mcp_oauth_server::store::Store;
use mcp_oauth_server::store::sqlite::SqliteStore;
use mcp_oauth_server::{AppState, AuthorizationServer, ServerConfig};
use reqwest::StatusCode;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;

pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const PUBLIC_CLIENT: &str = "public-app";
pub const PUBLIC_REDIRECT: &str = "http://127.0.0.1:4567/callback";
pub const CONF_CLIENT: &str = "conf-app";
pub const CONF_REDIRECT: &str = "https://app.example/cb";
pub const M2M_CLIENT: &str = "m2m-app";
/// The resource server of both test resources: the only client allowed to introspect.
pub const RS_CLIENT: &str = "resource-server";

pub struct TestServer {
    pub base: String,
    pub resource: String,
    pub other_resource: String,
    pub state: AppState,
    pub server: AuthorizationServer,
    pub clock: TestClock,
    pub http: reqwest::Client,
    pub conf_secret: String,
    pub m2m_secret: String,
    pub rs_secret: String,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tune: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(&dir.path().join("db.sqlite"))
                .await
                .unwrap(),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let base = format!("http://{addr}");
        let mut config = ServerConfig::new(base.clone());
        config.dev = true;
        tune(&mut config);
        let config = config.validate().unwrap();
        let clock = TestClock::new(1_800_000_000);
        let server = AuthorizationServer::new(
            config,
            store.clone(),
            Kek::generate().unwrap(),
            Arc::new(clock.clone()),
        )
        .await
        .unwrap();
        let now = 1_800_000_000;
        let resource = format!("{base}/mcp");
        let other_resource = format!("{base}/other");
        let scopes = [
            "mcp:tools=Use tools",
            "mcp:admin=Administer",
            "files:read=Read files",
        ]
        .iter()
        .map(|s| admin::parse_scope_def(s).unwrap())
        .collect();
        admin::add_resource(store.as_ref(), &resource, "Test MCP", scopes, now)
            .await
            .unwrap();
        admin::add_resource(
            store.as_ref(),
            &other_resource,
            "Other",
            vec![admin::parse_scope_def("other:read").unwrap()],
            now,
        )
        .await
        .unwrap();
        admin::add_user(store.as_ref(), "alice", Secret::new("wonderland"), now)
            .await
            .unwrap();
        admin::add_user(store.as_ref(), "bob", Secret::new("builder"), now)
            .await
            .unwrap();
        admin::add_client(
            store.as_ref(),
            NewClient {
                name: "Public <App>".into(),
                redirect_uris: vec!["http://127.0.0.1/callback".into()],
                public: true,
                client_id: Some(PUBLIC_CLIENT.into()),
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();
        let (_, conf_secret) = admin::add_client(
            store.as_ref(),
            NewClient {
                name: "Confidential App".into(),
                redirect_uris: vec![CONF_REDIRECT.into()],
                client_id: Some(CONF_CLIENT.into()),
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();
        let (_, m2m_secret) = admin::add_client(
            store.as_ref(),
            NewClient {
                name: "Machine".into(),
                grant_types: vec!["client_credentials".into()],
                client_id: Some(M2M_CLIENT.into()),
                scope: Some(
                    mcp_oauth_core::ScopeSet::parse("mcp:tools files:read other:read").unwrap(),
                ),
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();
        let (_, rs_secret) = admin::add_client(
            store.as_ref(),
            NewClient {
                name: "Resource server".into(),
                client_id: Some(RS_CLIENT.into()),
                introspect_resources: vec![resource.clone(), other_resource.clone()],
                ..Default::default()
            },
            now,
        )
        .await
        .unwrap();
        let app = server
            .router()
            .into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base,
            resource,
            other_resource,
            state: server.state().clone(),
            server,
            clock,
            http,
            conf_secret: conf_secret.unwrap().expose().to_owned(),
            m2m_secret: m2m_secret.unwrap().expose().to_owned(),
            rs_secret: rs_secret.unwrap().expose().to_owned(),
            task,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `GET path` on this server, its JSON body read as `T` (the test fails otherwise).
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        r.json().await.unwrap()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.state.store()
    }

    /// A standard authorization query for the public client.
    pub fn authorize_query(&self, scope: &str) -> Vec<(String, String)> {
        vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), PUBLIC_CLIENT.into()),
            ("redirect_uri".into(), PUBLIC_REDIRECT.into()),
            ("scope".into(), scope.into()),
            ("state".into(), "st-123".into()),
            ("code_challenge".into(), CHALLENGE.into()),
            ("code_challenge_method".into(), "S256".into()),
            ("resource".into(), self.resource.clone()),
        ]
    }

    pub fn authorize_url(&self, q: &[(String, String)]) -> String {
        let qs = serde_urlencoded::to_string(q).unwrap();
        format!("{}/authorize?{qs}", self.base)
    }

    /// POSTs a form and asserts the server did not fail.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.post(path, None, form).await
    }

    /// POSTs to a token-like endpoint with HTTP Basic.
    pub async fn post_basic(
        &self,
        path: &str,
        id: &str,
        secret: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.post(path, Some((id, secret)), form).await
    }

    async fn post(
        &self,
        path: &str,
        basic: Option<(&str, &str)>,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).form(form);
        if let Some((id, secret)) = basic {
            req = req.basic_auth(id, Some(secret));
        }
        let r = req.send().await.unwrap();
        assert!(
            r.status().as_u16() < 500,
            "server error on {path}: {}",
            r.status()
        );
        r
    }

    /// Runs the whole browser part (authorize → login → consent) and returns the redirect
    /// `Location` of the final response.
    pub async fn browser_authorize(
        &self,
        q: &[(String, String)],
        user: &str,
        password: &str,
    ) -> String {
        let mut b = Browser::new(self);
        let page = b.get(&self.authorize_url(q)).await;
        assert_eq!(page.status, StatusCode::OK, "login page: {}", page.body);
        let csrf = page.hidden("csrf_token");
        let aq = page.hidden("authorize_query");
        let consent = b
            .post(
                "/login",
                &[
                    ("csrf_token", &csrf),
                    ("authorize_query", &aq),
                    ("username", user),
                    ("password", password),
                ],
            )
            .await;
        if consent.status == StatusCode::SEE_OTHER {
            return consent.location.unwrap();
        }
        assert_eq!(
            consent.status,
            StatusCode::OK,
            "consent page: {}",
            consent.body
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
        done.location.unwrap()
    }

    /// A code for the public client with `scope`.
    pub async fn code(&self, scope: &str) -> String {
        let loc = self
            .browser_authorize(&self.authorize_query(scope), "alice", "wonderland")
            .await;
        query_param(&loc, "code").expect("code in redirect")
    }

    /// Exchanges a public-client code.
    pub async fn exchange(&self, code: &str) -> reqwest::Response {
        self.exchange_as(PUBLIC_CLIENT, code, PUBLIC_REDIRECT).await
    }

    /// Exchanges a code of the public client `client_id`, with PKCE and the test resource.
    pub async fn exchange_as(
        &self,
        client_id: &str,
        code: &str,
        redirect: &str,
    ) -> reqwest::Response {
        self.post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", client_id),
                ("code", code),
                ("redirect_uri", redirect),
                ("code_verifier", VERIFIER),
                ("resource", &self.resource),
            ],
        )
        .await
    }

    /// Tokens for alice through the public client.
    pub async fn tokens(&self, scope: &str) -> Value {
        let code = self.code(scope).await;
        let r = self.exchange(&code).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    pub async fn introspect(&self, token: &str) -> Value {
        let r = self
            .post_basic(
                "/introspect",
                RS_CLIENT,
                &self.rs_secret,
                &[("token", token)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }
}

/// A response as a browser sees it.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// The value of a hidden input.
    pub fn hidden(&self, name: &str) -> String {
        let needle = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&needle)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body))
            + needle.len();
        let end = self.body[start..].find('"').unwrap() + start;
        html_unescape(&self.body[start..end])
    }
}

pub fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A cookie-keeping client that does not follow redirects.
pub struct Browser<'a> {
    server: &'a TestServer,
    pub cookie: Option<String>,
}

impl<'a> Browser<'a> {
    pub fn new(server: &'a TestServer) -> Self {
        Self {
            server,
            cookie: None,
        }
    }

    async fn read(&mut self, r: reqwest::Response) -> Page {
        assert!(r.status().as_u16() < 500, "server error: {}", r.status());
        for v in r.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap();
            self.cookie = Some(v.split(';').next().unwrap().to_owned());
        }
        let status = r.status();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let headers = r.headers().clone();
        let body = r.text().await.unwrap();
        Page {
            status,
            location,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        let mut req = self.server.http.get(url);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let r = req.send().await.unwrap();
        self.read(r).await
    }

    /// Submits the login form of `page` (its CSRF token and authorization request).
    pub async fn log_in(&mut self, page: &Page, username: &str, password: &str) -> Page {
        let csrf = page.hidden("csrf_token");
        let aq = page.hidden("authorize_query");
        let form = [
            ("csrf_token", csrf.as_str()),
            ("authorize_query", aq.as_str()),
            ("username", username),
            ("password", password),
        ];
        self.post("/login", &form).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut req = self.server.http.post(self.server.url(path)).form(form);
        if let Some(c) = &self.cookie {
            req = req.header("cookie", c);
        }
        let r = req.send().await.unwrap();
        self.read(r).await
    }
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let q = url.split_once('?')?.1;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The claims of a JWT, unverified (signature checks are done separately).
pub fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// The JWT header.
pub fn header(jwt: &str) -> Value {
    let h = jwt.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(h)
            .unwrap(),
    )
    .unwrap()
}

/// The error code of an RFC 6749 error body, with the status.
pub async fn error_of(r: reqwest::Response) -> (StatusCode, String) {
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert!(
        ct.starts_with("application/json"),
        "error body must be JSON, got {ct}"
    );
    assert_eq!(r.headers().get("cache-control").unwrap(), "no-store");
    let v: Value = r.json().await.unwrap();
    (status, v["error"].as_str().unwrap().to_owned())
}
