//! Unit tests of the JWT verifier: claims, signatures, `typ`, algorithms, key selection.

use super::*;
use mcp_oauth_core::clock::TestClock;
use mcp_oauth_core::jose::{Jwk, SigningKey};
use serde_json::json;

const ISS: &str = "https://as.example";
const AUD: &str = "https://mcp.example/mcp";
const NOW: i64 = 1_800_000_000;

fn claims() -> Value {
    json!({
        "iss": ISS, "sub": "alice", "aud": AUD, "exp": NOW + 300, "iat": NOW,
        "jti": "j1", "client_id": "c1", "scope": "mcp files:read"
    })
}

fn verifier(key: &SigningKey, clock: &TestClock) -> JwtVerifier {
    JwtVerifier::builder(ISS, AUD)
        .static_jwks(JwkSet {
            keys: vec![key.public_jwk().clone()],
        })
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap()
}

#[test]
fn claim_checks() {
    let ok = check_claims(&claims(), ISS, AUD, NOW, 60).unwrap();
    assert_eq!(ok.subject.as_deref(), Some("alice"));
    assert_eq!(ok.client_id.as_deref(), Some("c1"));
    assert_eq!(ok.scopes.to_string(), "files:read mcp");
    assert_eq!(ok.expires_at, Some(NOW + 300));

    let with = |k: &str, v: Value| {
        let mut c = claims();
        c[k] = v;
        check_claims(&c, ISS, AUD, NOW, 60)
    };
    assert!(with("iss", json!("https://as.example/")).is_err());
    assert!(with("aud", json!("https://mcp.example/other")).is_err());
    assert!(with("aud", json!(["x", "HTTPS://MCP.EXAMPLE/mcp"])).is_ok());
    assert!(with("aud", json!(5)).is_err());
    assert!(with("exp", json!(NOW - 61)).is_err());
    assert!(with("exp", json!(NOW - 59)).is_ok(), "within leeway");
    assert!(with("exp", json!("soon")).is_err());
    assert!(with("nbf", json!(NOW + 61)).is_err());
    assert!(with("nbf", json!(NOW + 59)).is_ok());
    assert!(with("iat", json!(NOW + 120)).is_err());
    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    assert!(check_claims(&c, ISS, AUD, NOW, 60).is_err());
    let mut c = claims();
    c.as_object_mut().unwrap().remove("aud");
    assert!(check_claims(&c, ISS, AUD, NOW, 60).is_err());
}

#[test]
fn root_audience_accepts_trailing_slash() {
    let mut c = claims();
    c["aud"] = json!("https://mcp.example/");
    assert!(check_claims(&c, ISS, "https://mcp.example", NOW, 60).is_ok());
}

#[tokio::test]
async fn verifies_signed_token_and_typ() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let clock = TestClock::new(NOW);
    let v = verifier(&key, &clock);
    let token = key.sign("at+jwt", &claims()).unwrap();
    assert_eq!(
        v.verify(&token).await.unwrap().subject.as_deref(),
        Some("alice")
    );
    let token = key.sign("application/AT+JWT", &claims()).unwrap();
    assert!(v.verify(&token).await.is_ok());
    let id_token = key.sign("JWT", &claims()).unwrap();
    assert!(matches!(
        v.verify(&id_token).await,
        Err(VerifyError::InvalidToken(_))
    ));
    let lax = JwtVerifier::builder(ISS, AUD)
        .static_jwks(JwkSet {
            keys: vec![key.public_jwk().clone()],
        })
        .clock(Arc::new(clock.clone()))
        .require_typ(false)
        .build()
        .unwrap();
    assert!(lax.verify(&id_token).await.is_ok());
    clock.advance(300 + 61);
    assert_eq!(
        v.verify(&key.sign("at+jwt", &claims()).unwrap()).await,
        Err(VerifyError::invalid("the access token expired"))
    );
}

#[tokio::test]
async fn other_key_and_garbage_are_invalid() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let other = SigningKey::generate(Algorithm::ES256).unwrap();
    let clock = TestClock::new(NOW);
    let v = verifier(&key, &clock);
    let token = other.sign("at+jwt", &claims()).unwrap();
    assert!(matches!(
        v.verify(&token).await,
        Err(VerifyError::InvalidToken(_))
    ));
    for junk in ["", "a.b.c", "not a jwt", "e30.e30.e30"] {
        assert!(matches!(
            v.verify(junk).await,
            Err(VerifyError::InvalidToken(_))
        ));
    }
}

#[tokio::test]
async fn restricted_algorithms() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let v = JwtVerifier::builder(ISS, AUD)
        .static_jwks(JwkSet {
            keys: vec![key.public_jwk().clone()],
        })
        .clock(Arc::new(TestClock::new(NOW)))
        .algorithms([Algorithm::RS256])
        .build()
        .unwrap();
    let token = key.sign("at+jwt", &claims()).unwrap();
    assert!(v.verify(&token).await.is_err());
    assert_eq!(
        JwtVerifier::builder(ISS, AUD)
            .algorithms([Algorithm::HS256])
            .build()
            .err(),
        Some(ConfigError::Algorithm("HS256".into()))
    );
}

#[test]
fn build_refuses_bad_config() {
    assert!(matches!(
        JwtVerifier::builder("http://as.example", AUD).build(),
        Err(ConfigError::InsecureUrl(_))
    ));
    assert!(
        JwtVerifier::builder("http://as.example", AUD)
            .insecure_allow_http(true)
            .build()
            .is_ok()
    );
    assert!(matches!(
        JwtVerifier::builder(ISS, "not a uri").build(),
        Err(ConfigError::InvalidResource(_))
    ));
    assert!(matches!(
        JwtVerifier::builder("nope", AUD).build(),
        Err(ConfigError::InvalidIssuer(_))
    ));
}

#[tokio::test]
async fn keys_without_kid_and_tokens_without_kid() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let mut published = key.public_jwk().clone();
    published.common.key_id = None;
    let v = JwtVerifier::builder(ISS, AUD)
        .static_jwks(JwkSet {
            keys: vec![published],
        })
        .clock(Arc::new(TestClock::new(NOW)))
        .build()
        .unwrap();
    assert!(
        v.verify(&key.sign("at+jwt", &claims()).unwrap())
            .await
            .is_ok()
    );
    let mut header = jsonwebtoken::Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    let der = key.pkcs8_der();
    let no_kid = jsonwebtoken::encode(
        &header,
        &claims(),
        &jsonwebtoken::EncodingKey::from_ec_der(der),
    )
    .unwrap();
    assert!(v.verify(&no_kid).await.is_ok());
    let other = SigningKey::generate(Algorithm::ES256).unwrap();
    assert!(
        v.verify(&other.sign("at+jwt", &claims()).unwrap())
            .await
            .is_err()
    );
}

#[test]
fn symmetric_and_encryption_keys_are_skipped() {
    let sig = SigningKey::generate(Algorithm::ES256).unwrap();
    let mut enc = sig.public_jwk().clone();
    enc.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Encryption);
    let oct: Jwk = serde_json::from_value(json!({"kty":"oct","k":"c2VjcmV0","kid":"h"})).unwrap();
    let entries = key_entries(&[sig.public_jwk().clone(), enc, oct]);
    assert_eq!(entries.len(), 1);
}

#[test]
fn a_profile_that_cannot_check_the_audience_is_refused_at_build() {
    let b = || {
        JwtVerifier::builder("https://id.example/realms/mcp", AUD)
            .static_jwks(JwkSet { keys: vec![] })
    };
    assert!(matches!(
        b().profile(Profile::keycloak()).build(),
        Err(ConfigError::Audience(_))
    ));
    assert!(
        b().profile(Profile::keycloak())
            .audience("mcp-guard")
            .build()
            .is_ok()
    );
    assert!(matches!(
        b().profile(Profile::okta()).build(),
        Err(ConfigError::IssuerForm(_))
    ));
}

#[tokio::test]
async fn profile_claims_and_aliases() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let clock = TestClock::new(NOW);
    let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let iss = format!("https://login.microsoftonline.com/{tid}/v2.0");
    let v = JwtVerifier::builder(iss.clone(), AUD)
        .profile(Profile::entra())
        .audience("api://mcp")
        .static_jwks(JwkSet {
            keys: vec![key.public_jwk().clone()],
        })
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    assert_eq!(
        v.accepted_issuers(),
        [iss.clone(), format!("https://sts.windows.net/{tid}/")]
    );
    let claims = json!({"iss": format!("https://sts.windows.net/{tid}/"), "aud": "api://mcp",
        "exp": NOW + 60, "tid": tid, "scp": "Tools.Use", "roles": ["Admin"], "appid": "app"});
    let p = v.verify(&key.sign("JWT", &claims).unwrap()).await.unwrap();
    assert_eq!(p.scopes.to_string(), "Admin Tools.Use");
    assert_eq!(p.client_id.as_deref(), Some("app"));
    assert!(
        v.verify(&key.sign("at+jwt", &claims).unwrap())
            .await
            .is_err(),
        "Entra's typ is JWT"
    );
    let mut other = claims.clone();
    other["aud"] = json!("api://MCP");
    assert!(
        v.verify(&key.sign("JWT", &other).unwrap()).await.is_err(),
        "aliases are exact"
    );
}
