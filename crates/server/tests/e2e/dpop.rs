//! DPoP at `/token` (RFC 9449 §5): bound access and refresh tokens, every refused proof, server
//! nonces, and clients that must use DPoP.

use crate::common::*;
use crate::registration::registered;
use mcp_oauth_core::dpop::{self, NewProof};
use mcp_oauth_core::jose::{Algorithm, SigningKey};
use mcp_oauth_core::secret::random_token;
use reqwest::StatusCode;
use serde_json::{Value, json};

pub(crate) fn key() -> SigningKey {
    SigningKey::generate(Algorithm::ES256).unwrap()
}

/// A fresh proof for `POST {issuer}/token` at the server's time.
pub(crate) fn proof(s: &TestServer, key: &SigningKey, nonce: Option<&str>) -> String {
    proof_for(s, key, "POST", &s.url("/token"), 0, nonce)
}

fn proof_for(
    s: &TestServer,
    key: &SigningKey,
    method: &str,
    url: &str,
    age: i64,
    nonce: Option<&str>,
) -> String {
    dpop::sign(
        key,
        &NewProof {
            method,
            url,
            iat: s.state.now() - age,
            jti: &random_token(16),
            access_token: None,
            nonce,
        },
    )
    .unwrap()
}

/// `POST /token` with the given `DPoP` headers (and Basic credentials when given).
async fn token(
    s: &TestServer,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
    proofs: &[&str],
) -> reqwest::Response {
    let mut req = s.http.post(s.url("/token")).form(form);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    for p in proofs {
        req = req.header("DPoP", *p);
    }
    let r = req.send().await.unwrap();
    assert!(r.status().as_u16() < 500, "server error: {}", r.status());
    r
}

async fn m2m(s: &TestServer, proofs: &[&str]) -> reqwest::Response {
    token(
        s,
        Some((M2M_CLIENT, &s.m2m_secret)),
        &[
            ("grant_type", "client_credentials"),
            ("resource", &s.resource),
        ],
        proofs,
    )
    .await
}

async fn code_exchange(s: &TestServer, proofs: &[&str]) -> reqwest::Response {
    let code = s.code("mcp:tools").await;
    token(
        s,
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC_CLIENT),
            ("code", &code),
            ("redirect_uri", PUBLIC_REDIRECT),
            ("code_verifier", VERIFIER),
            ("resource", &s.resource),
        ],
        proofs,
    )
    .await
}

async fn refresh(s: &TestServer, rt: &str, proofs: &[&str]) -> reqwest::Response {
    token(
        s,
        None,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC_CLIENT),
            ("refresh_token", rt),
        ],
        proofs,
    )
    .await
}

/// The error code and description of a refused request.
async fn refused(r: reqwest::Response) -> (StatusCode, String, String) {
    let status = r.status();
    assert_eq!(r.headers()["cache-control"], "no-store");
    let v: Value = r.json().await.unwrap();
    (
        status,
        v["error"].as_str().unwrap().to_owned(),
        v["error_description"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test]
async fn the_code_grant_binds_the_access_token_and_the_public_refresh_token() {
    let s = TestServer::start().await;
    let k = key();
    let r = code_exchange(&s, &[&proof(&s, &k, None)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "DPoP");
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(
        claims(at)["cnf"]["jkt"],
        k.kid(),
        "cnf.jkt is the key's thumbprint"
    );
    let rt = t["refresh_token"].as_str().unwrap().to_owned();

    // Stolen: without a proof, or with the thief's key, the refresh token is worthless, and
    // trying does not burn the family.
    let (st, code, _) = refused(refresh(&s, &rt, &[]).await).await;
    assert_eq!(
        (st, code.as_str()),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    let thief = key();
    let (_, code, _) = refused(refresh(&s, &rt, &[&proof(&s, &thief, None)]).await).await;
    assert_eq!(code, "invalid_grant");
    // The tag cannot be stripped: the store knows only the bound token's hash.
    let stripped = rt.split_once('.').unwrap().0;
    let (_, code, _) = refused(refresh(&s, stripped, &[]).await).await;
    assert_eq!(code, "invalid_grant");

    // The owner refreshes with a proof of the key; the successor stays bound.
    let r = refresh(&s, &rt, &[&proof(&s, &k, None)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let t2: Value = r.json().await.unwrap();
    assert_eq!(t2["token_type"], "DPoP");
    assert_eq!(
        claims(t2["access_token"].as_str().unwrap())["cnf"]["jkt"],
        k.kid()
    );
    let rt2 = t2["refresh_token"].as_str().unwrap();
    assert_ne!(rt2, rt);
    let (_, code, _) = refused(refresh(&s, rt2, &[]).await).await;
    assert_eq!(code, "invalid_grant", "the successor is bound too");
    let r = refresh(&s, rt2, &[&proof(&s, &k, None)]).await;
    assert_eq!(r.status(), StatusCode::OK);

    // Introspection tells resource servers about the binding (RFC 9449 §6.2).
    let i = s.introspect(at).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["cnf"]["jkt"], k.kid());
}

#[tokio::test]
async fn without_a_proof_tokens_stay_bearer_tokens() {
    let s = TestServer::start().await;
    let t = s.tokens("mcp:tools").await;
    assert_eq!(t["token_type"], "Bearer");
    assert!(
        claims(t["access_token"].as_str().unwrap())
            .get("cnf")
            .is_none()
    );
    let rt = t["refresh_token"].as_str().unwrap();
    assert!(!rt.contains('.'));
    assert_eq!(refresh(&s, rt, &[]).await.status(), StatusCode::OK);

    let r = m2m(&s, &[&proof(&s, &key(), None)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.unwrap();
    assert_eq!(t["token_type"], "DPoP", "client credentials are bound too");
    assert!(claims(t["access_token"].as_str().unwrap())["cnf"]["jkt"].is_string());
}

#[tokio::test]
async fn hostile_proofs_are_refused() {
    let s = TestServer::start().await;
    let k = key();
    let good = proof(&s, &k, None);
    assert_eq!(m2m(&s, &[&good]).await.status(), StatusCode::OK);

    let token_url = s.url("/token");
    let revoke_url = s.url("/revoke");
    let other_host = token_url.replace("127.0.0.1", "localhost");
    let cases: Vec<(&str, String)> = vec![
        ("replayed", good.clone()),
        (
            "for another endpoint",
            proof_for(&s, &k, "POST", &revoke_url, 0, None),
        ),
        (
            "for another host",
            proof_for(&s, &k, "POST", &other_host, 0, None),
        ),
        (
            "for another method",
            proof_for(&s, &k, "GET", &token_url, 0, None),
        ),
        ("too old", proof_for(&s, &k, "POST", &token_url, 61, None)),
        (
            "from the future",
            proof_for(&s, &k, "POST", &token_url, -30, None),
        ),
        ("garbage", "not.a.proof".into()),
        ("an access token", {
            let t: Value = m2m(&s, &[]).await.json().await.unwrap();
            t["access_token"].as_str().unwrap().to_owned()
        }),
    ];
    for (what, p) in cases {
        let (st, code, desc) = refused(m2m(&s, &[&p]).await).await;
        assert_eq!(
            (st, code.as_str()),
            (StatusCode::BAD_REQUEST, "invalid_dpop_proof"),
            "{what}: {desc}"
        );
    }
    let (_, code, desc) =
        refused(m2m(&s, &[&proof(&s, &k, None), &proof(&s, &k, None)]).await).await;
    assert_eq!(code, "invalid_dpop_proof", "two headers: {desc}");

    // A private key in the header.
    let mut jwk = serde_json::to_value(k.public_jwk()).unwrap();
    jwk["d"] = "c2VjcmV0".into();
    let head = base64_json(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}));
    let body = serde_json::to_vec(&json!({
        "jti": random_token(8), "htm": "POST", "htu": token_url, "iat": s.state.now()
    }))
    .unwrap();
    let p = k.sign_with_header(&head, &body).unwrap();
    let (_, code, desc) = refused(m2m(&s, &[&p]).await).await;
    assert_eq!(code, "invalid_dpop_proof");
    assert!(desc.contains("private"), "{desc}");

    // Replay after the window: the iat check refuses it, whatever the replay store forgot.
    s.clock.advance(120);
    let (_, code, _) = refused(m2m(&s, &[&good]).await).await;
    assert_eq!(code, "invalid_dpop_proof");
}

fn base64_json(v: &Value) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

#[tokio::test]
async fn server_nonces_when_required() {
    let s = TestServer::start_with(|c| c.dpop_nonce_required = true).await;
    let k = key();
    let r = m2m(&s, &[&proof(&s, &k, None)]).await;
    let nonce = r.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let (st, code, _) = refused(r).await;
    assert_eq!(
        (st, code.as_str()),
        (StatusCode::BAD_REQUEST, "use_dpop_nonce")
    );

    let r = m2m(&s, &[&proof(&s, &k, Some(&nonce))]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers().contains_key("dpop-nonce"),
        "a fresh nonce on success"
    );

    let r = m2m(&s, &[&proof(&s, &k, Some("forged-nonce"))]).await;
    assert_eq!(refused(r).await.1, "use_dpop_nonce");
    s.clock.advance(2 * 300);
    let r = m2m(&s, &[&proof(&s, &k, Some(&nonce))]).await;
    assert_eq!(refused(r).await.1, "use_dpop_nonce", "an expired nonce");
    // Without a proof at all, nonces do not matter.
    assert_eq!(m2m(&s, &[]).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_client_registered_for_dpop_must_use_it() {
    let s = TestServer::start().await;
    let c = registered(
        &s,
        &json!({
            "client_name": "dpop app",
            "redirect_uris": [PUBLIC_REDIRECT],
            "token_endpoint_auth_method": "none",
            "dpop_bound_access_tokens": true,
        }),
    )
    .await;
    assert_eq!(c["dpop_bound_access_tokens"], true);
    let id = c["client_id"].as_str().unwrap();
    let mut q = s.authorize_query("mcp:tools");
    q[1].1 = id.to_owned();
    for with_proof in [false, true] {
        let loc = s.browser_authorize(&q, "alice", "wonderland").await;
        let code = query_param(&loc, "code").unwrap();
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", id),
            ("code", &code),
            ("redirect_uri", PUBLIC_REDIRECT),
            ("code_verifier", VERIFIER),
            ("resource", &s.resource),
        ];
        let p = proof(&s, &key(), None);
        let proofs: &[&str] = if with_proof { &[&p] } else { &[] };
        let r = token(&s, None, &form, proofs).await;
        if with_proof {
            assert_eq!(r.status(), StatusCode::OK);
        } else {
            let (_, code, desc) = refused(r).await;
            assert_eq!(code, "invalid_dpop_proof", "{desc}");
        }
    }
}

#[tokio::test]
async fn metadata_lists_the_proof_algorithms() {
    let s = TestServer::start().await;
    let m: Value = s.get_json("/.well-known/oauth-authorization-server").await;
    let algs: Vec<&str> = m["dpop_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(algs.contains(&"ES256") && algs.contains(&"EdDSA"));
    assert!(!algs.iter().any(|a| a.starts_with("HS") || *a == "none"));
}
