//! Servers that each make one mistake people make, and the message doctor gives for it. One
//! small axum app plays the MCP server, its metadata and its authorization server's metadata on
//! one 127.0.0.1 port; [`Mistake`] says what it gets wrong.

use crate::{doctor, spawn};
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mistake {
    /// None: the fake is right (the baseline the others differ from).
    None,
    /// The PRM at `/mcp/.well-known/oauth-protected-resource` (appended, not inserted), and no
    /// `resource_metadata` in the challenge to point there.
    PrmAtWrongPath,
    /// The AS metadata names another issuer than the one listed.
    IssuerMismatch,
    /// The PRM `resource` has a trailing slash the server URL does not.
    ResourceTrailingSlash,
    /// The issuer has a path (`/tenant`), and its metadata is at the appended URL
    /// (`/tenant/.well-known/oauth-authorization-server`) instead of the inserted one.
    AsMetadataAppended,
    /// No `code_challenge_methods_supported`.
    NoPkce,
    /// No registration endpoint, no CIMD.
    NoRegistration,
    /// No CORS headers anywhere.
    NoCors,
    /// The MCP endpoint answers without a token.
    Unprotected,
    /// A 401 without `WWW-Authenticate`.
    NoChallengeHeader,
    /// A clock ten minutes behind (every `Date`).
    SlowClock,
}

/// Serves the fake for `mistake`; returns the MCP URL and the task (aborted on drop).
async fn serve(mistake: Mistake) -> (String, Served) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mcp = format!("{base}/mcp");
    let (issuer, as_path) = if mistake == Mistake::AsMetadataAppended {
        (
            format!("{base}/tenant"),
            "/tenant/.well-known/oauth-authorization-server",
        )
    } else {
        (base.clone(), "/.well-known/oauth-authorization-server")
    };
    let prm_path = if mistake == Mistake::PrmAtWrongPath {
        "/mcp/.well-known/oauth-protected-resource"
    } else {
        "/.well-known/oauth-protected-resource/mcp"
    };
    let challenge = if mistake == Mistake::PrmAtWrongPath {
        "Bearer scope=\"mcp:tools\"".to_owned()
    } else {
        format!("Bearer resource_metadata=\"{base}{prm_path}\", scope=\"mcp:tools\"")
    };
    let resource = if mistake == Mistake::ResourceTrailingSlash {
        format!("{mcp}/")
    } else {
        mcp.clone()
    };
    let prm = json!({
        "resource": resource,
        "authorization_servers": [issuer],
        "scopes_supported": ["mcp:tools"],
        "bearer_methods_supported": ["header"],
    });
    let mut meta = json!({
        "issuer": if mistake == Mistake::IssuerMismatch { "https://auth.example.com".to_owned() } else { issuer.clone() },
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "registration_endpoint": format!("{base}/register"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["mcp:tools"],
        "client_id_metadata_document_supported": true,
    });
    if mistake == Mistake::NoPkce {
        meta.as_object_mut()
            .unwrap()
            .remove("code_challenge_methods_supported");
    }
    if mistake == Mistake::NoRegistration {
        let m = meta.as_object_mut().unwrap();
        m.remove("registration_endpoint");
        m.remove("client_id_metadata_document_supported");
    }
    let challenge = Arc::new(challenge);
    let mcp_route = post(move |req: Request| {
        let challenge = challenge.clone();
        async move {
            if req.headers().contains_key("authorization") || mistake == Mistake::Unprotected {
                return axum::Json(json!({"jsonrpc": "2.0", "id": 0, "result": {}}))
                    .into_response();
            }
            if mistake == Mistake::NoChallengeHeader {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            (
                StatusCode::UNAUTHORIZED,
                [("www-authenticate", challenge.as_str())],
            )
                .into_response()
        }
    });
    let json_of = |v: Value| get(move || async move { axum::Json(v) });
    let app = Router::new()
        .route("/mcp", mcp_route)
        .route(prm_path, json_of(prm))
        .route(as_path, json_of(meta))
        .route("/token", post(|| async { StatusCode::BAD_REQUEST }))
        .route("/register", post(|| async { StatusCode::BAD_REQUEST }));
    let app = if mistake == Mistake::NoCors {
        app
    } else {
        app.layer(middleware::from_fn(cors))
    };
    let app = if mistake == Mistake::SlowClock {
        app.layer(middleware::from_fn(slow_clock))
    } else {
        app
    };
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (mcp, Served(task))
}

/// CORS as a browser client needs it: preflights answered, everything readable.
async fn cors(req: Request, next: Next) -> Response {
    let preflight = req.method() == Method::OPTIONS;
    let mut resp = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    h.insert(
        "access-control-allow-headers",
        HeaderValue::from_static("authorization, content-type, mcp-protocol-version"),
    );
    h.insert(
        "access-control-expose-headers",
        HeaderValue::from_static("www-authenticate, mcp-session-id"),
    );
    resp
}

/// A `Date` ten minutes in the past (hyper keeps a `Date` the app set).
async fn slow_clock(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(600);
    let date = httpdate::fmt_http_date(then);
    resp.headers_mut()
        .insert("date", HeaderValue::from_str(&date).unwrap());
    resp
}

struct Served(tokio::task::JoinHandle<()>);

impl Drop for Served {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[tokio::test]
async fn the_baseline_fake_is_all_right() {
    let (mcp, _s) = serve(Mistake::None).await;
    let d = doctor(&mcp, &[], &[]).await;
    assert!(d.ok, "{:#}", d.report);
    assert_eq!(d.report["summary"]["warn"], 0, "{:#}", d.report);
}

#[tokio::test]
async fn metadata_at_the_wrong_well_known_path() {
    let (mcp, _s) = serve(Mistake::PrmAtWrongPath).await;
    let d = doctor(&mcp, &[], &[]).await;
    assert!(!d.ok);
    d.expect(
        "challenge.resource_metadata",
        "warn",
        "no resource_metadata",
    );
    d.expect("prm.found", "fail", "served at the wrong path: ");
    d.expect(
        "prm.found",
        "fail",
        "/mcp/.well-known/oauth-protected-resource",
    );
    let fix = d.check("prm.found")["fix"].as_str().unwrap();
    assert!(
        fix.contains("/.well-known/oauth-protected-resource/mcp"),
        "{fix}"
    );
    d.expect("client.discovery", "warn", "2025-03-26");
    // The fallback a client takes is examined anyway: the origin's authorization server.
    d.expect("prm.legacy", "info", "2025-03-26");
    d.expect("as.pkce", "pass", "S256");
}

#[tokio::test]
async fn an_issuer_that_does_not_match() {
    let (mcp, _s) = serve(Mistake::IssuerMismatch).await;
    let d = doctor(&mcp, &[], &[]).await;
    assert!(!d.ok);
    d.expect("as.issuer", "fail", "is not the one listed");
    assert!(
        d.check("as.issuer")["spec"]
            .as_str()
            .unwrap()
            .contains("RFC 8414 §3.3")
    );
    d.expect("client.discovery", "fail", "cannot start authorization");
}

#[tokio::test]
async fn a_resource_with_a_trailing_slash() {
    let (mcp, _s) = serve(Mistake::ResourceTrailingSlash).await;
    let d = doctor(&mcp, &[], &[]).await;
    assert!(!d.ok);
    assert_eq!(d.failures(), 1, "{:#}", d.report);
    d.expect("prm.resource", "fail", "trailing slash");
}

#[tokio::test]
async fn authorization_server_metadata_appended_instead_of_inserted() {
    let (mcp, _s) = serve(Mistake::AsMetadataAppended).await;
    let d = doctor(&mcp, &[], &[]).await;
    assert!(!d.ok);
    d.expect(
        "as.found",
        "fail",
        "/tenant/.well-known/oauth-authorization-server, where clients do not look",
    );
    let fix = d.check("as.found")["fix"].as_str().unwrap();
    assert!(
        fix.ends_with("/.well-known/oauth-authorization-server/tenant"),
        "{fix}"
    );
}

#[tokio::test]
async fn no_pkce_advertised() {
    let (mcp, _s) = serve(Mistake::NoPkce).await;
    let d = doctor(&mcp, &[], &[]).await;
    assert!(!d.ok);
    d.expect("as.pkce", "fail", "PKCE is not advertised");
    d.expect(
        "client.discovery",
        "fail",
        "would refuse to sign in there: no PKCE S256",
    );
}

#[tokio::test]
async fn no_way_to_register() {
    let (mcp, _s) = serve(Mistake::NoRegistration).await;
    let d = doctor(&mcp, &[], &[]).await;
    d.expect(
        "as.registration",
        "warn",
        "only a pre-registered client id works",
    );
    assert!(d.ok, "a warning only: pre-registration is allowed");
}

#[tokio::test]
async fn no_cors_for_browser_clients() {
    let (mcp, _s) = serve(Mistake::NoCors).await;
    let d = doctor(&mcp, &[], &[]).await;
    for id in [
        "cors.mcp.preflight",
        "cors.mcp.challenge",
        "cors.as.metadata",
        "cors.as.token",
        "cors.as.registration",
    ] {
        assert_eq!(d.check(id)["status"], "warn", "{id}: {:#}", d.report);
    }
    d.expect("cors.as.token", "warn", "browser-based clients cannot call");
    assert!(d.ok, "CORS only matters to browser clients: warnings");
}

#[tokio::test]
async fn a_server_that_does_not_challenge() {
    let (mcp, _s) = serve(Mistake::Unprotected).await;
    let d = doctor(&mcp, &[], &[]).await;
    d.expect("challenge.status", "fail", "the server is not protected");
    let (mcp, _s) = serve(Mistake::NoChallengeHeader).await;
    let d = doctor(&mcp, &[], &[]).await;
    d.expect("challenge.header", "fail", "no WWW-Authenticate header");
}

#[tokio::test]
async fn a_clock_that_is_behind() {
    let (mcp, _s) = serve(Mistake::SlowClock).await;
    let d = doctor(&mcp, &[], &[]).await;
    d.expect("clock", "warn", "behind this machine's");
    d.expect("clock.as", "warn", "the authorization server's clock is 6");
}

/// Plain http to another machine is refused before any request; an https server whose
/// certificate is not trusted is named as a TLS failure.
#[tokio::test]
async fn plain_http_and_untrusted_certificates() {
    let d = doctor("http://mcp.example.com/mcp", &[], &[]).await;
    d.expect(
        "url.https",
        "fail",
        "plain http on a host that is not this machine",
    );
    assert_eq!(
        d.report["checks"].as_array().unwrap().len(),
        1,
        "{:#}",
        d.report
    );

    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (c, k) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    let data = dir.path().join("data");
    let s = spawn(
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
            "--tls-cert",
            c.to_str().unwrap(),
            "--tls-key",
            k.to_str().unwrap(),
        ],
        "mcp-oauth listening on",
    );
    let d = doctor(&format!("{}/mcp", s.base), &[], &[]).await;
    d.expect("tls", "fail", "the certificate was refused");
    let saw = d.check("tls")["saw"].as_str().unwrap().to_ascii_lowercase();
    assert!(
        saw.contains("certificate") || saw.contains("issuer"),
        "{saw}"
    );
}
