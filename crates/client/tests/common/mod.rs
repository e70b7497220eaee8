//! A small axum server on 127.0.0.1:0 playing MCP server, protected resource metadata,
//! authorization server (metadata, /authorize that answers at once like the conformance
//! harness, /token with PKCE and client authentication checks, /register) and an enterprise IdP
//! (/idp/token for ID-JAG token exchange). Behaviour is set per test through [`Cfg`]; every
//! request is recorded so tests can assert what the client sent.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use mcp_oauth_client::fetch::{Fetcher, HttpSettings};
use mcp_oauth_core::jose::Jwk;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Which AS metadata documents exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsDoc {
    /// `/.well-known/oauth-authorization-server{path}`.
    OAuthInsert,
    /// `/.well-known/openid-configuration{path}`.
    OidcInsert,
    /// `{path}/.well-known/openid-configuration`.
    OidcAppend,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssMode {
    Correct,
    Wrong,
    Absent,
}

/// A client the AS knows in advance.
#[derive(Clone, Debug)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
    pub jwk: Option<Jwk>,
}

#[derive(Clone, Debug)]
pub struct Cfg {
    pub mcp_path: &'static str,
    pub issuer_path: &'static str,
    /// A custom PRM path announced in the 401 (`resource_metadata`).
    pub prm_header_path: Option<&'static str>,
    pub prm_path_inserted: bool,
    pub prm_root: bool,
    /// Overrides the PRM `resource` (default: the MCP URL).
    pub prm_resource: Option<String>,
    pub prm_scopes: Option<Vec<&'static str>>,
    pub challenge_scope: Option<&'static str>,
    pub as_docs: Vec<AsDoc>,
    /// Serve AS metadata at the origin root (legacy 2025-03-26 servers).
    pub as_root_legacy: bool,
    pub metadata_issuer: Option<String>,
    pub pkce: Option<Vec<&'static str>>,
    pub iss_supported: bool,
    pub iss_mode: IssMode,
    pub tamper_state: bool,
    pub dcr: bool,
    pub cimd: bool,
    pub auth_methods: Option<Vec<&'static str>>,
    pub clients: Vec<TestClient>,
    pub expires_in: u64,
    /// Scopes the MCP endpoint requires (403 insufficient_scope otherwise).
    pub required_scope: Option<&'static str>,
    /// A scope the AS never grants.
    pub never_grant: Option<&'static str>,
    pub garbage_token_response: bool,
    /// Advertise and serve the device authorization grant (RFC 8628); every device code is
    /// approved at once.
    pub device: bool,
    /// Client ids `/device_authorization` answers `unauthorized_client` (a metadata document
    /// that does not list the device grant, say).
    pub device_refused: Vec<&'static str>,
}

impl Default for Cfg {
    fn default() -> Self {
        Self {
            mcp_path: "/mcp",
            issuer_path: "",
            prm_header_path: None,
            prm_path_inserted: true,
            prm_root: false,
            prm_resource: None,
            prm_scopes: None,
            challenge_scope: None,
            as_docs: vec![AsDoc::OAuthInsert],
            as_root_legacy: false,
            metadata_issuer: None,
            pkce: Some(vec!["S256"]),
            iss_supported: false,
            iss_mode: IssMode::Correct,
            tamper_state: false,
            dcr: true,
            cimd: false,
            auth_methods: None,
            clients: Vec::new(),
            expires_in: 3600,
            required_scope: None,
            never_grant: None,
            garbage_token_response: false,
            device: false,
            device_refused: Vec::new(),
        }
    }
}

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Hit {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Form or query parameters, decoded.
    pub params: Vec<(String, String)>,
    pub json: Option<Value>,
    pub authorization: Option<String>,
    pub protocol_version: Option<String>,
}

impl Hit {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone, Debug)]
struct CodeData {
    client_id: String,
    challenge: String,
    redirect_uri: String,
    resource: Option<String>,
    scope: Option<String>,
}

#[derive(Clone, Debug)]
struct Grant {
    client_id: String,
    scope: Option<String>,
    resource: Option<String>,
}

#[derive(Default)]
struct Inner {
    hits: Vec<Hit>,
    codes: HashMap<String, CodeData>,
    access: HashMap<String, Grant>,
    refresh: HashMap<String, Grant>,
    clients: HashMap<String, TestClient>,
    jtis: HashSet<String>,
    counter: u64,
    errors: Vec<String>,
    id_jags: HashSet<String>,
    device_codes: HashMap<String, Grant>,
}

pub struct St {
    cfg: Mutex<Cfg>,
    base: String,
    inner: Mutex<Inner>,
}

pub struct TestServer {
    pub base: String,
    pub state: Arc<St>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    pub async fn start(cfg: Cfg) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mut inner = Inner::default();
        for c in &cfg.clients {
            inner.clients.insert(c.id.clone(), c.clone());
        }
        let state = Arc::new(St {
            cfg: Mutex::new(cfg),
            base: base.clone(),
            inner: Mutex::new(inner),
        });
        let s2 = state.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let st = s2.clone();
                async move { handle(&st, method, uri, headers, body) }
            },
        );
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Self {
            base,
            state,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn mcp_url(&self) -> String {
        format!("{}{}", self.base, self.cfg().mcp_path)
    }
    pub fn issuer(&self) -> String {
        format!("{}{}", self.base, self.cfg().issuer_path)
    }
    pub fn cfg(&self) -> Cfg {
        self.state.cfg.lock().unwrap().clone()
    }
    pub fn set_cfg(&self, f: impl FnOnce(&mut Cfg)) {
        f(&mut self.state.cfg.lock().unwrap());
    }
    pub fn hits(&self) -> Vec<Hit> {
        self.state.inner.lock().unwrap().hits.clone()
    }
    /// Paths of all GET requests, in order.
    pub fn get_paths(&self) -> Vec<String> {
        self.hits()
            .into_iter()
            .filter(|h| h.method == "GET")
            .map(|h| h.path)
            .collect()
    }
    pub fn hits_to(&self, path: &str) -> Vec<Hit> {
        self.hits().into_iter().filter(|h| h.path == path).collect()
    }
    pub fn token_hits(&self, grant: &str) -> Vec<Hit> {
        self.hits_to("/token")
            .into_iter()
            .filter(|h| h.param("grant_type") == Some(grant))
            .collect()
    }
    /// Checks the server found wrong in what the client sent.
    pub fn errors(&self) -> Vec<String> {
        self.state.inner.lock().unwrap().errors.clone()
    }
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.abort();
            let _ = h.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.abort();
        }
    }
}

/// A fetcher that allows loopback http, with a short timeout.
pub fn test_fetcher() -> Fetcher {
    Fetcher::new(HttpSettings {
        allow_insecure_http: true,
        timeout: std::time::Duration::from_secs(5),
        ..Default::default()
    })
    .unwrap()
}

fn json_resp(status: StatusCode, v: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn oauth_err(status: StatusCode, code: &str) -> Response {
    json_resp(status, json!({"error": code}))
}

fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn handle(st: &St, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let cfg = st.cfg.lock().unwrap().clone();
    let path = uri.path().to_owned();
    let query = uri.query().map(str::to_owned);
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mut params: Vec<(String, String)> = Vec::new();
    if let Some(q) = &query {
        params.extend(url::form_urlencoded::parse(q.as_bytes()).into_owned());
    }
    if ctype.starts_with("application/x-www-form-urlencoded") {
        params.extend(url::form_urlencoded::parse(&body).into_owned());
    }
    let json_body: Option<Value> = if ctype.starts_with("application/json") {
        serde_json::from_slice(&body).ok()
    } else {
        None
    };
    let hit = Hit {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        params: params.clone(),
        json: json_body.clone(),
        authorization: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        protocol_version: headers
            .get("mcp-protocol-version")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    st.inner.lock().unwrap().hits.push(hit.clone());

    let base = &st.base;
    let mcp_url = format!("{base}{}", cfg.mcp_path);
    let issuer = format!("{base}{}", cfg.issuer_path);
    let ip = cfg.issuer_path;
    let prm_inserted = format!("/.well-known/oauth-protected-resource{}", cfg.mcp_path);
    let prm_doc = || {
        let mut d = json!({
            "resource": cfg.prm_resource.clone().unwrap_or_else(|| mcp_url.clone()),
            "authorization_servers": [issuer.clone()],
        });
        if let Some(s) = &cfg.prm_scopes {
            d["scopes_supported"] = json!(s);
        }
        json_resp(StatusCode::OK, d)
    };
    let as_doc = || {
        let mut d = json!({
            "issuer": cfg.metadata_issuer.clone().unwrap_or_else(|| issuer.clone()),
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        });
        if let Some(p) = &cfg.pkce {
            d["code_challenge_methods_supported"] = json!(p);
        }
        if cfg.dcr {
            d["registration_endpoint"] = json!(format!("{base}/register"));
        }
        if cfg.iss_supported {
            d["authorization_response_iss_parameter_supported"] = json!(true);
        }
        if cfg.cimd {
            d["client_id_metadata_document_supported"] = json!(true);
        }
        if let Some(m) = &cfg.auth_methods {
            d["token_endpoint_auth_methods_supported"] = json!(m);
        }
        if cfg.device {
            d["device_authorization_endpoint"] = json!(format!("{base}/device_authorization"));
        }
        json_resp(StatusCode::OK, d)
    };

    // MCP endpoint.
    if path == cfg.mcp_path {
        return mcp(st, &cfg, &headers, &issuer, base);
    }
    // Protected resource metadata.
    if Some(path.as_str()) == cfg.prm_header_path {
        return prm_doc();
    }
    if path == prm_inserted && cfg.prm_path_inserted {
        return prm_doc();
    }
    if path == "/.well-known/oauth-protected-resource" && cfg.prm_root {
        return prm_doc();
    }
    // Authorization server metadata.
    let trimmed = ip.trim_end_matches('/');
    for doc in &cfg.as_docs {
        let p = match doc {
            AsDoc::OAuthInsert => format!("/.well-known/oauth-authorization-server{trimmed}"),
            AsDoc::OidcInsert => format!("/.well-known/openid-configuration{trimmed}"),
            AsDoc::OidcAppend => format!("{trimmed}/.well-known/openid-configuration"),
        };
        if path == p {
            return as_doc();
        }
    }
    if cfg.as_root_legacy && path == "/.well-known/oauth-authorization-server" {
        return as_doc();
    }
    match path.as_str() {
        "/authorize" => authorize(st, &cfg, &hit, &issuer),
        "/token" => token(st, &cfg, &hit, &issuer),
        "/register" => register(st, &hit),
        "/device_authorization" if cfg.device => device_authorization(st, &cfg, &hit, &issuer),
        "/idp/token" => idp_token(st, &hit, &issuer, &mcp_url),
        _ => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

fn mcp(st: &St, cfg: &Cfg, headers: &HeaderMap, _issuer: &str, base: &str) -> Response {
    let rm = cfg
        .prm_header_path
        .map(|p| format!("{base}{p}"))
        .unwrap_or_else(|| {
            format!(
                "{base}/.well-known/oauth-protected-resource{}",
                cfg.mcp_path
            )
        });
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let grant = bearer.and_then(|t| st.inner.lock().unwrap().access.get(&t).cloned());
    let Some(grant) = grant else {
        let mut c = String::from("Bearer");
        let mut parts = Vec::new();
        if cfg.prm_header_path.is_some() {
            parts.push(format!("resource_metadata=\"{rm}\""));
        }
        if let Some(s) = cfg.challenge_scope {
            parts.push(format!("scope=\"{s}\""));
        }
        if !parts.is_empty() {
            c.push(' ');
            c.push_str(&parts.join(", "));
        }
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, c)],
            "",
        )
            .into_response();
    };
    if let Some(req) = cfg.required_scope {
        let have: HashSet<&str> = grant.scope.as_deref().unwrap_or("").split(' ').collect();
        if !req.split(' ').all(|s| have.contains(s)) {
            let c = format!(
                "Bearer error=\"insufficient_scope\", scope=\"{req}\", resource_metadata=\"{rm}\""
            );
            return (StatusCode::FORBIDDEN, [(header::WWW_AUTHENTICATE, c)], "").into_response();
        }
    }
    json_resp(
        StatusCode::OK,
        json!({"ok": true, "scope": grant.scope, "resource": grant.resource}),
    )
}

fn authorize(st: &St, cfg: &Cfg, hit: &Hit, issuer: &str) -> Response {
    let mut inner = st.inner.lock().unwrap();
    inner.counter += 1;
    let code = format!("code-{}", inner.counter);
    let (Some(redirect_uri), Some(state), Some(challenge), Some(client_id)) = (
        hit.param("redirect_uri"),
        hit.param("state"),
        hit.param("code_challenge"),
        hit.param("client_id"),
    ) else {
        inner.errors.push("authorize: missing parameter".into());
        return (StatusCode::BAD_REQUEST, "missing parameter").into_response();
    };
    if hit.param("code_challenge_method") != Some("S256") {
        inner.errors.push("authorize: method not S256".into());
    }
    inner.codes.insert(
        code.clone(),
        CodeData {
            client_id: client_id.to_owned(),
            challenge: challenge.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            resource: hit.param("resource").map(str::to_owned),
            scope: hit.param("scope").map(str::to_owned),
        },
    );
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("code", &code);
    q.append_pair("state", if cfg.tamper_state { "tampered" } else { state });
    match cfg.iss_mode {
        IssMode::Correct => {
            q.append_pair("iss", issuer);
        }
        IssMode::Wrong => {
            q.append_pair("iss", "https://evil.example");
        }
        IssMode::Absent => {}
    }
    let location = format!("{redirect_uri}?{}", q.finish());
    (StatusCode::FOUND, [(header::LOCATION, location)], "").into_response()
}

/// Authenticates the client of a token request; `Err` is the response to send.
fn authenticate(inner: &mut Inner, hit: &Hit, issuer: &str) -> Result<String, Response> {
    if let Some(basic) = hit
        .authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Basic "))
    {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(basic)
            .map_err(|_| oauth_err(StatusCode::UNAUTHORIZED, "invalid_client"))?;
        let raw = String::from_utf8(raw).unwrap();
        let (id, secret) = raw.split_once(':').unwrap();
        let (id, secret) = (form_decode(id), form_decode(secret));
        return match inner.clients.get(&id) {
            Some(c) if c.secret.as_deref() == Some(secret.as_str()) => Ok(id),
            _ => Err(oauth_err(StatusCode::UNAUTHORIZED, "invalid_client")),
        };
    }
    if let Some(assertion) = hit.param("client_assertion") {
        if hit.param("client_assertion_type")
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            inner.errors.push("assertion type".into());
        }
        let header = jsonwebtoken::decode_header(assertion).unwrap();
        let mut v = jsonwebtoken::Validation::new(header.alg);
        v.set_audience(&[issuer]);
        v.validate_exp = false;
        v.required_spec_claims = HashSet::new();
        let unverified: Value = {
            let payload = assertion.split('.').nth(1).unwrap();
            serde_json::from_slice(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload)
                    .unwrap(),
            )
            .unwrap()
        };
        let id = unverified["sub"].as_str().unwrap_or_default().to_owned();
        let Some(jwk) = inner.clients.get(&id).and_then(|c| c.jwk.clone()) else {
            return Err(oauth_err(StatusCode::UNAUTHORIZED, "invalid_client"));
        };
        let dk = mcp_oauth_core::jose::decoding_key(&jwk).unwrap();
        let claims = match jsonwebtoken::decode::<Value>(assertion, &dk, &v) {
            Ok(d) => d.claims,
            Err(e) => {
                inner.errors.push(format!("assertion invalid: {e}"));
                return Err(oauth_err(StatusCode::UNAUTHORIZED, "invalid_client"));
            }
        };
        let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
        let jti = claims["jti"].as_str().unwrap_or_default().to_owned();
        if claims["iss"] != claims["sub"]
            || claims["aud"] != issuer
            || iat.is_none()
            || exp.is_none_or(|e| e <= iat.unwrap_or(0) || e - iat.unwrap_or(0) > 300)
            || jti.is_empty()
            || !inner.jtis.insert(jti)
        {
            inner
                .errors
                .push(format!("assertion claims wrong: {claims}"));
            return Err(oauth_err(StatusCode::UNAUTHORIZED, "invalid_client"));
        }
        return Ok(id);
    }
    let Some(id) = hit.param("client_id") else {
        return Err(oauth_err(StatusCode::UNAUTHORIZED, "invalid_client"));
    };
    match (inner.clients.get(id), hit.param("client_secret")) {
        (Some(c), Some(s)) if c.secret.as_deref() == Some(s) => Ok(id.to_owned()),
        (Some(c), None) if c.secret.is_none() && c.jwk.is_none() => Ok(id.to_owned()),
        _ => Err(oauth_err(StatusCode::UNAUTHORIZED, "invalid_client")),
    }
}

fn issue(inner: &mut Inner, cfg: &Cfg, grant: Grant, with_refresh: bool) -> Response {
    inner.counter += 1;
    let n = inner.counter;
    let scope = grant.scope.as_deref().map(|s| {
        s.split(' ')
            .filter(|x| Some(*x) != cfg.never_grant)
            .collect::<Vec<_>>()
            .join(" ")
    });
    let grant = Grant { scope, ..grant };
    let at = format!("at-{n}");
    inner.access.insert(at.clone(), grant.clone());
    let mut body =
        json!({"access_token": at, "token_type": "Bearer", "expires_in": cfg.expires_in});
    if let Some(s) = &grant.scope {
        body["scope"] = json!(s);
    }
    if with_refresh {
        let rt = format!("rt-{n}");
        inner.refresh.insert(rt.clone(), grant);
        body["refresh_token"] = json!(rt);
    }
    json_resp(StatusCode::OK, body)
}

fn token(st: &St, cfg: &Cfg, hit: &Hit, issuer: &str) -> Response {
    let mut inner = st.inner.lock().unwrap();
    let client_id = match authenticate(&mut inner, hit, issuer) {
        Ok(id) => id,
        Err(r) => return r,
    };
    if cfg.garbage_token_response {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{not json",
        )
            .into_response();
    }
    let resource = hit.param("resource").map(str::to_owned);
    match hit.param("grant_type") {
        Some("authorization_code") => {
            let Some(code) = hit.param("code").and_then(|c| inner.codes.remove(c)) else {
                return oauth_err(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            let verifier = hit.param("code_verifier").unwrap_or_default();
            let pkce_ok = mcp_oauth_core::pkce::verify_s256(verifier, &code.challenge) == Ok(true);
            if !pkce_ok
                || code.client_id != client_id
                || hit.param("redirect_uri") != Some(code.redirect_uri.as_str())
            {
                inner
                    .errors
                    .push("code exchange: PKCE, client or redirect mismatch".into());
                return oauth_err(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            if code.resource != resource {
                inner.errors.push(format!(
                    "code exchange: resource {resource:?} differs from authorize {:?}",
                    code.resource
                ));
            }
            let grant = Grant {
                client_id,
                scope: code.scope,
                resource,
            };
            issue(&mut inner, cfg, grant, true)
        }
        Some("refresh_token") => {
            let Some(old) = hit
                .param("refresh_token")
                .and_then(|r| inner.refresh.remove(r))
            else {
                return oauth_err(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            if old.resource != resource {
                inner.errors.push(format!(
                    "refresh: resource {resource:?} differs from {:?}",
                    old.resource
                ));
            }
            if old.client_id != client_id {
                inner.errors.push("refresh: client differs".into());
            }
            issue(&mut inner, cfg, old, true)
        }
        Some("client_credentials") => {
            let grant = Grant {
                client_id,
                scope: hit.param("scope").map(str::to_owned),
                resource,
            };
            issue(&mut inner, cfg, grant, false)
        }
        Some("urn:ietf:params:oauth:grant-type:device_code") => {
            let Some(grant) = hit
                .param("device_code")
                .and_then(|c| inner.device_codes.remove(c))
            else {
                return oauth_err(StatusCode::BAD_REQUEST, "invalid_grant");
            };
            if grant.client_id != client_id {
                inner.errors.push("device poll: client differs".into());
                return oauth_err(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            issue(&mut inner, cfg, grant, true)
        }
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            let ok = hit
                .param("assertion")
                .is_some_and(|a| inner.id_jags.remove(a));
            if !ok {
                return oauth_err(StatusCode::BAD_REQUEST, "invalid_grant");
            }
            let grant = Grant {
                client_id,
                scope: hit.param("scope").map(str::to_owned),
                resource,
            };
            issue(&mut inner, cfg, grant, false)
        }
        _ => oauth_err(StatusCode::BAD_REQUEST, "unsupported_grant_type"),
    }
}

/// RFC 8628 §3.1–3.2: the client authenticated as at `/token`, then codes (approved at once).
fn device_authorization(st: &St, cfg: &Cfg, hit: &Hit, issuer: &str) -> Response {
    let mut inner = st.inner.lock().unwrap();
    let client_id = match authenticate(&mut inner, hit, issuer) {
        Ok(id) => id,
        Err(r) => return r,
    };
    if cfg.device_refused.contains(&client_id.as_str()) {
        return oauth_err(StatusCode::BAD_REQUEST, "unauthorized_client");
    }
    inner.counter += 1;
    let code = format!("dc-{}", inner.counter);
    inner.device_codes.insert(
        code.clone(),
        Grant {
            client_id,
            scope: hit.param("scope").map(str::to_owned),
            resource: hit.param("resource").map(str::to_owned),
        },
    );
    json_resp(
        StatusCode::OK,
        json!({
            "device_code": code,
            "user_code": "BCDF-GHJK",
            "verification_uri": format!("{}/device", st.base),
            "expires_in": 60,
            "interval": 1,
        }),
    )
}

fn register(st: &St, hit: &Hit) -> Response {
    let mut inner = st.inner.lock().unwrap();
    let Some(body) = hit.json.clone() else {
        return oauth_err(StatusCode::BAD_REQUEST, "invalid_client_metadata");
    };
    inner.counter += 1;
    let id = format!("dcr-{}", inner.counter);
    inner.clients.insert(
        id.clone(),
        TestClient {
            id: id.clone(),
            secret: None,
            jwk: None,
        },
    );
    let mut out = body;
    out["client_id"] = json!(id);
    json_resp(StatusCode::CREATED, out)
}

/// The IdP's RFC 8693 token exchange issuing ID-JAGs.
fn idp_token(st: &St, hit: &Hit, issuer: &str, mcp_url: &str) -> Response {
    let mut inner = st.inner.lock().unwrap();
    let ok = hit.param("grant_type") == Some("urn:ietf:params:oauth:grant-type:token-exchange")
        && hit.param("requested_token_type") == Some("urn:ietf:params:oauth:token-type:id-jag")
        && hit.param("audience") == Some(issuer)
        && hit.param("resource") == Some(mcp_url)
        && hit.param("subject_token") == Some("id-token-of-alice")
        && hit.param("subject_token_type") == Some("urn:ietf:params:oauth:token-type:id_token")
        && hit.param("client_id") == Some("idp-client")
        && hit.param("client_secret") == Some("idp-secret");
    if !ok {
        inner
            .errors
            .push(format!("idp exchange wrong: {:?}", hit.params));
        return oauth_err(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    inner.counter += 1;
    let jag = format!("id-jag-{}", inner.counter);
    inner.id_jags.insert(jag.clone());
    json_resp(
        StatusCode::OK,
        json!({
            "access_token": jag,
            "issued_token_type": "urn:ietf:params:oauth:token-type:id-jag",
            "token_type": "N_A",
            "expires_in": 300
        }),
    )
}

/// A token manager with the headless prompt, loopback http allowed, and the given store/clock.
pub fn manager_with(
    config: mcp_oauth_client::ClientConfig,
    store: Arc<dyn mcp_oauth_client::CredentialStore>,
    clock: mcp_oauth_core::clock::SharedClock,
) -> Arc<mcp_oauth_client::TokenManager> {
    let config = config
        .allow_insecure_http(true)
        .timeout(std::time::Duration::from_secs(5));
    Arc::new(
        mcp_oauth_client::TokenManager::builder(config)
            .store(store)
            .clock(clock)
            .prompt(Arc::new(mcp_oauth_client::HeadlessPrompt::new(
                test_fetcher(),
            )))
            .build()
            .unwrap(),
    )
}

/// A token manager with a memory store and a test clock.
pub fn manager(config: mcp_oauth_client::ClientConfig) -> Arc<mcp_oauth_client::TokenManager> {
    manager_with(
        config,
        Arc::new(mcp_oauth_client::MemoryStore::new()),
        Arc::new(mcp_oauth_core::clock::TestClock::new(1_700_000_000)),
    )
}
