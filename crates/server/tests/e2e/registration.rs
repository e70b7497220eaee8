//! Dynamic client registration (RFC 7591), its management (RFC 7592), the registration
//! policies, the rate limit and the expiry of unused registrations.

use crate::common::*;
use mcp_oauth_core::clock::Clock;
use mcp_oauth_core::secret::sha256_b64url;
use mcp_oauth_server::RegistrationPolicy;
use mcp_oauth_server::model::ClientOrigin;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// POSTs client metadata to /register, optionally with a bearer token.
pub async fn register(s: &TestServer, body: &Value, bearer: Option<&str>) -> reqwest::Response {
    let mut req = s.http.post(s.url("/register")).json(body);
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.unwrap();
    assert!(r.status().as_u16() < 500, "server error: {}", r.status());
    r
}

/// Registers and returns the 201 body.
pub async fn registered(s: &TestServer, body: &Value) -> Value {
    let r = register(s, body, None).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(r.headers()["cache-control"], "no-store");
    r.json().await.unwrap()
}

fn public_metadata() -> Value {
    json!({
        "client_name": "Registered <Public>",
        "redirect_uris": ["http://127.0.0.1/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "mcp:tools files:read",
        "software_id": "test-suite",
        "x_vendor_extension": {"ignored": true}
    })
}

/// The standard authorization query, for another client.
fn query_for(s: &TestServer, client_id: &str, redirect: &str) -> Vec<(String, String)> {
    let mut q = s.authorize_query("mcp:tools");
    q[1].1 = client_id.to_owned();
    q[2].1 = redirect.to_owned();
    q
}

#[tokio::test]
async fn public_client_registers_and_completes_the_code_flow() {
    let s = TestServer::start().await;
    let m: Value = s.get_json("/.well-known/oauth-authorization-server").await;
    assert_eq!(m["registration_endpoint"], s.url("/register"));

    let reg = registered(&s, &public_metadata()).await;
    let id = reg["client_id"].as_str().unwrap();
    assert!(!id.starts_with("https://"), "never looks like a CIMD URL");
    assert!(reg.get("client_secret").is_none(), "public: no secret");
    assert!(reg.get("client_secret_expires_at").is_none());
    assert_eq!(reg["client_id_issued_at"], 1_800_000_000);
    assert_eq!(reg["token_endpoint_auth_method"], "none");
    assert_eq!(
        reg["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(reg["redirect_uris"], json!(["http://127.0.0.1/callback"]));
    assert_eq!(reg["scope"], "files:read mcp:tools");
    assert!(
        reg.get("x_vendor_extension").is_none(),
        "unknown fields ignored"
    );
    assert_eq!(
        reg["registration_client_uri"],
        s.url(&format!("/register/{id}"))
    );
    let rat = reg["registration_access_token"].as_str().unwrap();
    assert_eq!(rat.len(), 43, "256-bit token");

    let stored = s.store().get_client(id).await.unwrap().unwrap();
    assert_eq!(stored.origin, ClientOrigin::Dcr);
    assert_eq!(
        stored.registration_token_hash.as_deref(),
        Some(sha256_b64url(rat.as_bytes()).as_str()),
        "registration access token stored only as a hash"
    );
    assert_eq!(stored.client_name, "Registered <Public>");

    let redirect = "http://127.0.0.1:6000/callback";
    let loc = s
        .browser_authorize(&query_for(&s, id, redirect), "alice", "wonderland")
        .await;
    let code = query_param(&loc, "code").unwrap();
    let r = s.exchange_as(id, &code, redirect).await;
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    assert!(t["refresh_token"].is_string());
    assert_eq!(claims(t["access_token"].as_str().unwrap())["client_id"], id);
    let used = s.store().get_client(id).await.unwrap().unwrap();
    assert_eq!(used.last_used_at, Some(1_800_000_000), "last used recorded");
}

#[tokio::test]
async fn confidential_client_gets_a_secret_shown_once() {
    let s = TestServer::start().await;
    let reg = registered(
        &s,
        &json!({"client_name": "Web app", "redirect_uris": [CONF_REDIRECT]}),
    )
    .await;
    assert_eq!(
        reg["token_endpoint_auth_method"], "client_secret_basic",
        "the RFC 7591 default"
    );
    assert_eq!(reg["grant_types"], json!(["authorization_code"]));
    assert_eq!(reg["response_types"], json!(["code"]));
    let id = reg["client_id"].as_str().unwrap();
    let secret = reg["client_secret"].as_str().unwrap();
    assert_eq!(secret.len(), 43, "256-bit secret");
    assert_eq!(reg["client_secret_expires_at"], 0);
    let stored = s.store().get_client(id).await.unwrap().unwrap();
    assert_eq!(
        stored.secret_hash.as_deref(),
        Some(sha256_b64url(secret.as_bytes()).as_str())
    );

    let loc = s
        .browser_authorize(&query_for(&s, id, CONF_REDIRECT), "alice", "wonderland")
        .await;
    let code = query_param(&loc, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CONF_REDIRECT),
        ("code_verifier", VERIFIER),
        ("resource", s.resource.as_str()),
    ];
    let r = s.post_basic("/token", id, "not-the-secret", &form).await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let r = s.post_basic("/token", id, secret, &form).await;
    assert_eq!(r.status(), StatusCode::OK, "the secret works by Basic");
    // No refresh grant was registered, so no refresh token.
    let t: Value = r.json().await.unwrap();
    assert!(t.get("refresh_token").is_none());
}

#[tokio::test]
async fn every_refusal_answers_in_the_rfc_shape() {
    let s = TestServer::start_with(|c| c.registration_rate_limit = 1000).await;
    let cb = json!(["https://app.example/cb"]);
    let cases = [
        (json!({}), "invalid_redirect_uri"),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["https://app.example/cb#f"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["http://app.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["myapp:/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": "https://app.example/cb"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "client_name": ["x"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "jwks": "not an object"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "token_endpoint_auth_method": "client_secret_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://10.0.0.1/jwks"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://169.254.169.254/jwks"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "grant_types": ["password"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "grant_types": ["authorization_code"], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "grant_types": ["client_credentials"], "response_types": ["code"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_basic"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": cb, "scope": "a\\b"}),
            "invalid_client_metadata",
        ),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ];
    for (body, code) in cases {
        let r = register(&s, &body, None).await;
        assert_eq!(
            error_of(r).await,
            (StatusCode::BAD_REQUEST, code.to_owned()),
            "{body}"
        );
    }
    // Not JSON at all, the wrong content type, too large.
    let r = s
        .http
        .post(s.url("/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(r).await,
        (StatusCode::BAD_REQUEST, "invalid_client_metadata".into())
    );
    let r = s
        .http
        .post(s.url("/register"))
        .form(&[("redirect_uris", "https://app.example/cb")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(error_of(r).await.1, "invalid_request");
    let big = json!({"redirect_uris": cb, "client_name": "x".repeat(70 * 1024)});
    let r = register(&s, &big, None).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // A client-chosen id is ignored; nothing refused was stored.
    let reg = registered(&s, &json!({"client_id": "mine", "redirect_uris": cb})).await;
    assert_ne!(reg["client_id"], "mine");
    assert_eq!(s.store().get_client("mine").await.unwrap(), None);
    let dcr = s
        .store()
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.origin == ClientOrigin::Dcr)
        .count();
    assert_eq!(dcr, 1);
}

#[tokio::test]
async fn rfc7592_read_update_delete() {
    let s = TestServer::start().await;
    let reg = registered(&s, &public_metadata()).await;
    let other = registered(&s, &public_metadata()).await;
    let id = reg["client_id"].as_str().unwrap();
    let uri = reg["registration_client_uri"].as_str().unwrap();
    let rat = reg["registration_access_token"].as_str().unwrap();
    let other_rat = other["registration_access_token"].as_str().unwrap();

    // Read.
    let r = s.http.get(uri).bearer_auth(rat).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let read: Value = r.json().await.unwrap();
    assert_eq!(read["client_id"], id);
    assert_eq!(read["client_name"], "Registered <Public>");
    assert!(read.get("registration_access_token").is_none());

    // Wrong, missing, another client's token, another scheme: 401 with a Bearer challenge.
    for bad in [Some("wrong"), None, Some(other_rat)] {
        let mut req = s.http.get(uri);
        if let Some(t) = bad {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let www = r.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(www.starts_with("Bearer "), "{www}");
        assert!(www.contains("error=\"invalid_token\""), "{www}");
        assert_eq!(error_of(r).await.1, "invalid_token");
    }
    let r = s
        .http
        .get(uri)
        .basic_auth(id, Some(rat))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Clients not registered dynamically cannot be managed, whatever the token.
    let r = s
        .http
        .get(s.url(&format!("/register/{PUBLIC_CLIENT}")))
        .bearer_auth(rat)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Update: replace the metadata; switching to a secret method issues a secret.
    let mut update = read.clone();
    update["client_name"] = "Renamed".into();
    update["redirect_uris"] = json!(["https://app.example/new-cb"]);
    update["token_endpoint_auth_method"] = "client_secret_post".into();
    let r = s
        .http
        .put(uri)
        .bearer_auth(rat)
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["client_name"], "Renamed");
    assert_eq!(
        updated["redirect_uris"],
        json!(["https://app.example/new-cb"])
    );
    let secret = updated["client_secret"].as_str().unwrap().to_owned();
    let stored = s.store().get_client(id).await.unwrap().unwrap();
    assert_eq!(stored.client_name, "Renamed");
    assert_eq!(stored.token_endpoint_auth_method, "client_secret_post");
    assert_eq!(
        stored.secret_hash.as_deref(),
        Some(sha256_b64url(secret.as_bytes()).as_str())
    );
    // A second update keeping the method keeps the secret (and may quote it back).
    let mut again = updated.clone();
    again["client_name"] = "Renamed twice".into();
    let r = s
        .http
        .put(uri)
        .bearer_auth(rat)
        .json(&again)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert!(
        v.get("client_secret").is_none(),
        "the old secret is not shown again"
    );
    // The body must name the client, and a quoted secret must be the current one.
    for (field, value) in [
        ("client_id", json!("someone-else")),
        ("client_secret", json!("guess")),
    ] {
        let mut bad = updated.clone();
        bad[field] = value;
        let r = s
            .http
            .put(uri)
            .bearer_auth(rat)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_of(r).await,
            (StatusCode::BAD_REQUEST, "invalid_client_metadata".into()),
            "{field}"
        );
    }
    let mut bad = updated.clone();
    bad["redirect_uris"] = json!(["http://evil.example/cb"]);
    let r = s
        .http
        .put(uri)
        .bearer_auth(rat)
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "invalid_redirect_uri");

    // The client authenticates at /token (its record is now in the server's record cache; the
    // code is bogus, so the grant fails after authentication).
    let code_request = |secret: String| {
        let s = &s;
        async move {
            s.post_form(
                "/token",
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", id),
                    ("client_secret", &secret),
                    ("code", "x"),
                    ("redirect_uri", "https://app.example/new-cb"),
                    ("code_verifier", VERIFIER),
                ],
            )
            .await
        }
    };
    assert_eq!(
        error_of(code_request(secret.clone()).await).await.1,
        "invalid_grant"
    );

    // Delete: 204, then the registration and the client are gone at once, cached or not.
    let r = s
        .http
        .delete(uri)
        .bearer_auth(other_rat)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "not with another client's token"
    );
    let r = s.http.delete(uri).bearer_auth(rat).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = s.http.get(uri).bearer_auth(rat).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_of(code_request(secret).await).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
}

#[tokio::test]
async fn token_policy_requires_an_initial_access_token() {
    let s = TestServer::start_with(|c| c.registration = RegistrationPolicy::Token).await;
    let body = json!({"redirect_uris": [CONF_REDIRECT]});
    let r = register(&s, &body, None).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    assert_eq!(error_of(r).await.1, "invalid_token");
    let r = register(&s, &body, Some("made-up")).await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_token".into())
    );

    let now = s.clock.now();
    let (record, token) = mcp_oauth_server::admin::add_registration_token(
        s.store().as_ref(),
        "CI pipeline",
        Some(3600),
        now,
    )
    .await
    .unwrap();
    let r = register(&s, &body, Some(token.expose())).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    // An authorized registrant may register a machine client and use it.
    let m2m = json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post", "scope": "mcp:tools"});
    let r = register(&s, &m2m, Some(token.expose())).await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let reg: Value = r.json().await.unwrap();
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", reg["client_id"].as_str().unwrap()),
                ("client_secret", reg["client_secret"].as_str().unwrap()),
                ("resource", &s.resource),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["scope"], "mcp:tools");

    // Expired, then revoked: refused again.
    s.clock.advance(3600);
    let r = register(&s, &body, Some(token.expose())).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "expired");
    s.clock.advance(-3600);
    mcp_oauth_server::admin::revoke_registration_token(s.store().as_ref(), &record.id)
        .await
        .unwrap();
    let r = register(&s, &body, Some(token.expose())).await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "revoked");
}

#[tokio::test]
async fn registration_off_is_neither_served_nor_advertised() {
    let s = TestServer::start_with(|c| c.registration = RegistrationPolicy::Off).await;
    let m: Value = s.get_json("/.well-known/oauth-authorization-server").await;
    assert!(m.get("registration_endpoint").is_none());
    let r = register(&s, &json!({"redirect_uris": [CONF_REDIRECT]}), None).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_registration_flood_hits_the_limit() {
    let s = TestServer::start_with(|c| c.registration_rate_limit = 5).await;
    let body =
        json!({"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none"});
    for i in 0..5 {
        let r = register(&s, &body, None).await;
        assert_eq!(r.status(), StatusCode::CREATED, "request {i}");
    }
    for _ in 0..20 {
        let r = register(&s, &body, None).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(retry, 12, "one registration per 12 s");
        assert_eq!(error_of(r).await.0, StatusCode::TOO_MANY_REQUESTS);
    }
    // Refused requests did not register anything.
    let dcr = s
        .store()
        .list_clients()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.origin == ClientOrigin::Dcr)
        .count();
    assert_eq!(dcr, 5);
    s.clock.advance(12);
    assert_eq!(
        register(&s, &body, None).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn an_unused_registration_expires_and_is_purged() {
    let s = TestServer::start_with(|c| c.unused_registration_ttl = 3600).await;
    let unused = registered(&s, &public_metadata()).await;
    let unused_id = unused["client_id"].as_str().unwrap().to_owned();
    let used = registered(&s, &public_metadata()).await;
    let used_id = used["client_id"].as_str().unwrap().to_owned();
    // The second one obtains a token.
    let redirect = "http://127.0.0.1:6001/callback";
    let loc = s
        .browser_authorize(&query_for(&s, &used_id, redirect), "alice", "wonderland")
        .await;
    let code = query_param(&loc, "code").unwrap();
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &used_id),
                ("code", &code),
                ("redirect_uri", redirect),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    s.clock.advance(3600);
    // Expired at once, before any purge: invalid_client at /token, an error page at /authorize.
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", &unused_id),
                ("code", "x"),
                ("redirect_uri", redirect),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let mut b = Browser::new(&s);
    let page = b
        .get(&s.authorize_url(&query_for(&s, &unused_id, redirect)))
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.location.is_none(), "never a redirect");
    assert!(page.body.contains("not registered"), "{}", page.body);
    let r = s
        .http
        .get(unused["registration_client_uri"].as_str().unwrap())
        .bearer_auth(unused["registration_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    s.server.maintain().await;
    assert_eq!(
        s.store().get_client(&unused_id).await.unwrap(),
        None,
        "purged"
    );
    assert!(
        s.store().get_client(&used_id).await.unwrap().is_some(),
        "a used registration stays"
    );
    assert!(
        s.store().get_client(PUBLIC_CLIENT).await.unwrap().is_some(),
        "administrator clients stay"
    );
}

/// Cursor's redirect URI: not a reverse-domain scheme, admitted by the default allow-list.
const CURSOR_REDIRECT: &str = "cursor://anysphere.cursor-mcp/oauth/callback";

fn cursor_metadata() -> Value {
    json!({
        "client_name": "Cursor",
        "redirect_uris": [CURSOR_REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none"
    })
}

#[tokio::test]
async fn cursor_registers_by_dcr_and_is_sent_back_to_its_scheme() {
    let s = TestServer::start().await;
    let reg = registered(&s, &cursor_metadata()).await;
    assert_eq!(reg["redirect_uris"], json!([CURSOR_REDIRECT]));
    let id = reg["client_id"].as_str().unwrap();
    let loc = s
        .browser_authorize(&query_for(&s, id, CURSOR_REDIRECT), "alice", "wonderland")
        .await;
    assert!(
        loc.starts_with(&format!("{CURSOR_REDIRECT}?code=")),
        "{loc}"
    );
    let code = query_param(&loc, "code").unwrap();
    let r = s.exchange_as(id, &code, CURSOR_REDIRECT).await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn reverse_domain_schemes_need_no_list_and_dangerous_schemes_are_never_admitted() {
    let s = TestServer::start_with(|c| {
        // An operator cannot list these; the validation refuses the configuration.
        c.redirect_uri_schemes = vec!["cursor".into(), "vscode".into()];
    })
    .await;
    let mut m = public_metadata();
    m["redirect_uris"] = json!(["com.example.app:/oauth2redirect", "vscode://app/cb"]);
    registered(&s, &m).await;
    for bad in [
        "javascript:alert(1)",
        "JavaScript://x/%0aalert(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
        "vbscript:msgbox(1)",
        "http://app.example/cb",
        "myapp://cb",
    ] {
        let mut m = public_metadata();
        m["redirect_uris"] = json!([bad]);
        let r = register(&s, &m, None).await;
        let (status, code) = error_of(r).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(code, "invalid_redirect_uri", "{bad}");
    }
    for listed in [
        vec!["javascript".to_owned()],
        vec!["http".to_owned()],
        vec!["data".to_owned()],
    ] {
        let mut c = mcp_oauth_server::ServerConfig::new("https://a.example");
        c.redirect_uri_schemes = listed;
        assert_eq!(c.validate().unwrap_err().key, "redirect_uri_schemes");
    }
}

#[tokio::test]
async fn an_empty_allow_list_refuses_cursor() {
    let s = TestServer::start_with(|c| c.redirect_uri_schemes.clear()).await;
    let r = register(&s, &cursor_metadata(), None).await;
    let (status, code) = error_of(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(code, "invalid_redirect_uri");
}
