//! `private_key_jwt` (RFC 7523 §2.2): clients registered by DCR, by an administrator (keys by
//! value or by URL) and by a metadata document, and every way an assertion can be wrong.

use crate::cimd::{DOC_REDIRECT, DocServer, cimd_server};
use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcp_oauth_core::clock::Clock;
use mcp_oauth_core::jose::{Algorithm, SigningKey};
use mcp_oauth_server::admin::{self, NewClient};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn jwks(keys: &[&SigningKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.public_jwk()).collect::<Vec<_>>() })
}

/// Claims of a good assertion for `client_id` at `now`.
fn claims_for(client_id: &str, aud: &str, now: i64, jti: &str) -> Value {
    json!({
        "iss": client_id, "sub": client_id, "aud": aud,
        "iat": now, "exp": now + 60, "jti": jti
    })
}

fn sign(key: &SigningKey, claims: &Value) -> String {
    key.sign("JWT", claims).unwrap()
}

/// A token request authenticated by `assertion`, with `extra` parameters.
async fn with_assertion(
    s: &TestServer,
    assertion: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    form.extend_from_slice(extra);
    s.post_form("/token", &form).await
}

async fn m2m(s: &TestServer, assertion: &str) -> reqwest::Response {
    with_assertion(
        s,
        assertion,
        &[
            ("grant_type", "client_credentials"),
            ("resource", &s.resource),
        ],
    )
    .await
}

async fn add_jwt_client(s: &TestServer, id: &str, keys: Option<Value>, uri: Option<String>) {
    admin::add_client(
        s.store().as_ref(),
        NewClient {
            name: format!("JWT {id}"),
            grant_types: vec!["client_credentials".into()],
            client_id: Some(id.into()),
            jwks: keys,
            jwks_uri: uri,
            ..Default::default()
        },
        s.clock.now(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn metadata_advertises_private_key_jwt() {
    let s = TestServer::start().await;
    let m: Value = s.get_json("/.well-known/oauth-authorization-server").await;
    let methods = m["token_endpoint_auth_methods_supported"]
        .as_array()
        .unwrap();
    assert!(methods.iter().any(|x| x == "private_key_jwt"));
    assert!(methods.iter().any(|x| x == "client_secret_basic"));
    assert_eq!(
        m["token_endpoint_auth_signing_alg_values_supported"],
        json!(["ES256", "RS256", "PS256", "EdDSA"])
    );
}

#[tokio::test]
async fn a_dcr_client_authenticates_with_its_key_on_every_request() {
    let s = TestServer::start().await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let r = s
        .http
        .post(s.url("/register"))
        .json(&json!({
            "client_name": "Key client",
            "redirect_uris": [CONF_REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": jwks(&[&key]),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let reg: Value = r.json().await.unwrap();
    assert!(
        reg.get("client_secret").is_none(),
        "no secret for a key client"
    );
    let id = reg["client_id"].as_str().unwrap();

    let mut q = s.authorize_query("mcp:tools");
    q[1].1 = id.to_owned();
    q[2].1 = CONF_REDIRECT.to_owned();
    let loc = s.browser_authorize(&q, "alice", "wonderland").await;
    let code = query_param(&loc, "code").unwrap();
    let now = s.clock.now();
    let a = sign(&key, &claims_for(id, &s.base, now, "code-1"));
    let r = with_assertion(
        &s,
        &a,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CONF_REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    )
    .await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "no client_id needed: sub names the client"
    );
    let t: Value = r.json().await.unwrap();
    let refresh = t["refresh_token"].as_str().unwrap();

    // A refresh without the assertion is refused; with one (aud = token endpoint) it works.
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", id),
                ("refresh_token", refresh),
            ],
        )
        .await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let a = sign(&key, &claims_for(id, &s.url("/token"), now, "refresh-1"));
    let r = with_assertion(
        &s,
        &a,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", id),
            ("refresh_token", refresh),
        ],
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    // A secret is not a way in for a key client.
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", id),
                ("client_secret", "anything"),
                ("refresh_token", refresh),
            ],
        )
        .await;
    assert_eq!(error_of(r).await.1, "invalid_client");
}

#[tokio::test]
async fn client_credentials_by_assertion_and_every_refusal() {
    let s = TestServer::start().await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let other_key = SigningKey::generate(Algorithm::ES256).unwrap();
    let ed_key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    add_jwt_client(&s, "jwt-m2m", Some(jwks(&[&key])), None).await;
    add_jwt_client(&s, "jwt-other", Some(jwks(&[&other_key])), None).await;
    add_jwt_client(&s, "jwt-ed", Some(jwks(&[&ed_key])), None).await;
    let stored = s.store().get_client("jwt-m2m").await.unwrap().unwrap();
    assert_eq!(stored.token_endpoint_auth_method, "private_key_jwt");
    assert!(stored.secret_hash.is_none());
    let now = s.clock.now();
    let id = "jwt-m2m";

    // The good case, with the issuer as audience, with and without a trailing slash, and with
    // the token endpoint.
    let good = sign(&key, &claims_for(id, &s.base, now, "ok-1"));
    let r = m2m(&s, &good).await;
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    assert_eq!(claims(t["access_token"].as_str().unwrap())["sub"], id);
    for (jti, aud) in [("ok-2", format!("{}/", s.base)), ("ok-3", s.url("/token"))] {
        let r = m2m(&s, &sign(&key, &claims_for(id, &aud, now, jti))).await;
        assert_eq!(r.status(), StatusCode::OK, "{aud}");
    }
    let r = m2m(
        &s,
        &sign(&ed_key, &claims_for("jwt-ed", &s.base, now, "ed-1")),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK, "EdDSA");

    // Replay of the good assertion.
    let r = m2m(&s, &good).await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into()),
        "replay"
    );

    let mut cases: Vec<(&str, String)> = Vec::new();
    let mut c = claims_for(id, &s.base, now, "expired");
    c["exp"] = (now - 120).into();
    cases.push(("expired", sign(&key, &c)));
    let mut c = claims_for(id, &s.base, now, "far");
    c["exp"] = (now + 3600).into();
    cases.push(("exp too far ahead", sign(&key, &c)));
    let mut c = claims_for(id, &s.base, now, "no-exp");
    c.as_object_mut().unwrap().remove("exp");
    cases.push(("no exp", sign(&key, &c)));
    let mut c = claims_for(id, &s.base, now, "nbf");
    c["nbf"] = (now + 600).into();
    cases.push(("not yet valid", sign(&key, &c)));
    let mut c = claims_for(id, &s.base, now, "x");
    c.as_object_mut().unwrap().remove("jti");
    cases.push(("no jti", sign(&key, &c)));
    cases.push((
        "wrong aud",
        sign(
            &key,
            &claims_for(id, "https://other-as.example", now, "aud"),
        ),
    ));
    // The sender's numbers at the ends of i64: refused, never an overflow.
    let mut c = claims_for(id, &s.base, now, "exp-max");
    c["exp"] = i64::MAX.into();
    cases.push(("exp i64::MAX", sign(&key, &c)));
    let mut c = claims_for(id, &s.base, now, "exp-min");
    c["exp"] = i64::MIN.into();
    cases.push(("exp i64::MIN", sign(&key, &c)));
    let mut c = claims_for(id, &s.base, now, "nbf-min");
    c["nbf"] = i64::MIN.into();
    c["iat"] = i64::MIN.into();
    c["exp"] = (now - 10_000).into();
    cases.push(("nbf and iat i64::MIN, expired", sign(&key, &c)));
    let mut c = claims_for(id, &s.base, now, "aud-array");
    c["aud"] = json!([s.base.clone(), "https://other-as.example"]);
    cases.push(("aud array naming another server too", sign(&key, &c)));
    let mut c = claims_for(id, &s.base, now, "aud-array-1");
    c["aud"] = json!([s.base.clone()]);
    cases.push(("aud array of only our issuer", sign(&key, &c)));
    cases.push((
        "aud of a path below the issuer",
        sign(&key, &claims_for(id, &s.url("/introspect"), now, "aud2")),
    ));
    let mut c = claims_for(id, &s.base, now, "iss");
    c["iss"] = "jwt-other".into();
    cases.push(("iss is not sub", sign(&key, &c)));
    cases.push((
        "a key of another client",
        sign(&other_key, &claims_for(id, &s.base, now, "other-key")),
    ));
    // Another key, presented under this client's kid: the signature does not verify.
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    h.kid = key.public_jwk().common.key_id.clone();
    let forged = jsonwebtoken::encode(
        &h,
        &claims_for(id, &s.base, now, "forged"),
        &jsonwebtoken::EncodingKey::from_ec_der(other_key.pkcs8_der()),
    )
    .unwrap();
    cases.push(("another key under this client's kid", forged));
    // A payload swapped under another client's valid signature.
    let theirs = sign(&other_key, &claims_for("jwt-other", &s.base, now, "x2"));
    let parts: Vec<&str> = theirs.split('.').collect();
    let swapped = URL_SAFE_NO_PAD.encode(claims_for(id, &s.base, now, "swap").to_string());
    cases.push((
        "a payload swapped under another signature",
        format!("{}.{swapped}.{}", parts[0], parts[2]),
    ));
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims_for(id, &s.base, now, "none").to_string());
    cases.push(("alg none", format!("{header}.{payload}.")));
    // The classic confusion: HS256 "signed" with the client's public key as the secret.
    let public = serde_json::to_string(key.public_jwk()).unwrap();
    let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    h.kid = key.public_jwk().common.key_id.clone();
    let hs = jsonwebtoken::encode(
        &h,
        &claims_for(id, &s.base, now, "hs256"),
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    cases.push(("HS256 with the public key", hs));
    cases.push(("not a JWT", "not-a-jwt".to_owned()));
    for (what, assertion) in &cases {
        let r = m2m(&s, assertion).await;
        assert_eq!(
            error_of(r).await,
            (StatusCode::UNAUTHORIZED, "invalid_client".into()),
            "{what}"
        );
    }

    // Request-shape refusals.
    let fresh = sign(&key, &claims_for(id, &s.base, now, "shape-1"));
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", "urn:example:other"),
                ("client_assertion", &fresh),
            ],
        )
        .await;
    assert_eq!(
        error_of(r).await.1,
        "invalid_client",
        "wrong assertion type"
    );
    let r = with_assertion(
        &s,
        &fresh,
        &[
            ("grant_type", "client_credentials"),
            ("client_secret", "x"),
            ("client_id", id),
        ],
    )
    .await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::BAD_REQUEST, "invalid_request".into()),
        "two methods"
    );
    let r = s
        .post_basic(
            "/token",
            id,
            "x",
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &fresh),
            ],
        )
        .await;
    assert_eq!(
        error_of(r).await.1,
        "invalid_request",
        "Basic and an assertion"
    );
    let r = s
        .post_form(
            "/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion", &fresh),
            ],
        )
        .await;
    assert_eq!(
        error_of(r).await.1,
        "invalid_request",
        "assertion without its type"
    );
    let r = with_assertion(
        &s,
        &fresh,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "jwt-other"),
        ],
    )
    .await;
    assert_eq!(
        error_of(r).await.1,
        "invalid_client",
        "client_id differs from sub"
    );
    let r = s
        .post_form(
            "/token",
            &[("grant_type", "client_credentials"), ("client_id", id)],
        )
        .await;
    assert_eq!(
        error_of(r).await.1,
        "invalid_client",
        "no authentication at all"
    );
    // A secret client cannot switch to assertions.
    let r = m2m(
        &s,
        &sign(&key, &claims_for(M2M_CLIENT, &s.base, now, "secret-client")),
    )
    .await;
    assert_eq!(error_of(r).await.1, "invalid_client");
    // The untouched fresh assertion still works: refusals above did not burn it.
    let r = m2m(&s, &fresh).await;
    assert_eq!(r.status(), StatusCode::OK);

    // The replay store forgets an id only after the assertion expired and was purged.
    s.clock.advance(60 + 30 + 1);
    s.server.maintain().await;
    let r = m2m(&s, &good).await;
    assert_eq!(
        error_of(r).await.1,
        "invalid_client",
        "expired by now anyway"
    );
}

#[tokio::test]
async fn keys_from_a_jwks_uri_are_cached_and_refetched_on_rollover() {
    let s = cimd_server().await;
    let host = DocServer::start().await;
    let k1 = SigningKey::generate(Algorithm::ES256).unwrap();
    let k2 = SigningKey::generate(Algorithm::RS256).unwrap();
    let k3 = SigningKey::generate(Algorithm::ES256).unwrap();
    host.extra
        .lock()
        .unwrap()
        .insert("jwks.json".into(), jwks(&[&k1]));
    add_jwt_client(&s, "uri-client", None, Some(host.url("jwks.json"))).await;
    let now = s.clock.now();
    let id = "uri-client";
    let r = m2m(&s, &sign(&k1, &claims_for(id, &s.base, now, "u1"))).await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = m2m(&s, &sign(&k1, &claims_for(id, &s.base, now, "u2"))).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(host.hits(), 1, "cached");

    // Rollover: the client publishes k2; past the refetch interval, an assertion with the new
    // kid triggers one refetch.
    host.extra
        .lock()
        .unwrap()
        .insert("jwks.json".into(), jwks(&[&k1, &k2]));
    s.clock.advance(61);
    let now = s.clock.now();
    let r = m2m(&s, &sign(&k2, &claims_for(id, &s.base, now, "u3"))).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "RS256 key picked up after the rollover"
    );
    assert_eq!(host.hits(), 2);
    // An unknown kid right after does not make the server fetch again.
    let r = m2m(&s, &sign(&k3, &claims_for(id, &s.base, now, "u4"))).await;
    assert_eq!(error_of(r).await.1, "invalid_client");
    assert_eq!(host.hits(), 2, "at most one refetch per interval");
    s.clock.advance(61);
    let now = s.clock.now();
    let r = m2m(&s, &sign(&k3, &claims_for(id, &s.base, now, "u5"))).await;
    assert_eq!(error_of(r).await.1, "invalid_client");
    assert_eq!(host.hits(), 3, "the next interval may refetch once");

    // A jwks_uri on a private address is refused at registration, and never fetched.
    let r = s
        .http
        .post(s.url("/register"))
        .json(&json!({
            "redirect_uris": [CONF_REDIRECT],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": "https://169.254.169.254/keys"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await.1, "invalid_client_metadata");
}

#[tokio::test]
async fn a_document_client_with_private_key_jwt_must_use_its_key() {
    let s = cimd_server().await;
    let docs = DocServer::start().await;
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let id = docs.url("pk.json");
    docs.extra.lock().unwrap().insert(
        "pk.json".into(),
        json!({
            "client_id": id,
            "client_name": "Keyed document client",
            "redirect_uris": [DOC_REDIRECT],
            "grant_types": ["authorization_code"],
            "token_endpoint_auth_method": "private_key_jwt",
            "jwks": jwks(&[&key]),
        }),
    );
    let redirect = "http://127.0.0.1:6301/callback";
    let mut q = s.authorize_query("mcp:tools");
    q[1].1 = id.clone();
    q[2].1 = redirect.to_owned();
    let loc = s.browser_authorize(&q, "alice", "wonderland").await;
    let code = query_param(&loc, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect),
        ("code_verifier", VERIFIER),
    ];
    // As a public client: refused, and the code is not spent by the refusal.
    let mut public = form.to_vec();
    public.push(("client_id", &id));
    let r = s.post_form("/token", &public).await;
    assert_eq!(
        error_of(r).await,
        (StatusCode::UNAUTHORIZED, "invalid_client".into())
    );
    let a = sign(&key, &claims_for(&id, &s.base, s.clock.now(), "doc-1"));
    let r = with_assertion(&s, &a, &form).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(docs.hits(), 1);
}
