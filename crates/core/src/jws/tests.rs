use super::*;
use crate::jose::{SigningKey, VERIFY_ALGORITHMS};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize, PartialEq)]
struct Claims {
    sub: String,
}

fn claims() -> Value {
    json!({"sub": "alice", "exp": 4_000_000_000_i64})
}

fn set(keys: &[&SigningKey]) -> Vec<JwkKey> {
    JwkKey::set(keys.iter().map(|k| k.public_jwk()), 64)
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// A token signed by `key` with a header of our choosing.
fn with_header(key: &SigningKey, header: Value, payload: &[u8]) -> String {
    let mut h = jsonwebtoken::Header::new(key.algorithm());
    h.typ = header["typ"].as_str().map(str::to_owned);
    h.kid = header["kid"].as_str().map(str::to_owned);
    h.crit = header["crit"].as_array().map(|c| {
        c.iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    });
    let encoding = jsonwebtoken::EncodingKey::from_ec_der(key.pkcs8_der());
    let head = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&h).unwrap());
    let input = format!("{head}.{}", URL_SAFE_NO_PAD.encode(payload));
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &encoding, key.algorithm()).unwrap();
    format!("{input}.{sig}")
}

#[test]
fn verifies_and_reads_the_header() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let token = key.sign("at+jwt", &claims()).unwrap();
    let jws = Jws::parse(&token, &VERIFY_ALGORITHMS).unwrap();
    assert_eq!(jws.alg(), Algorithm::ES256);
    assert_eq!(jws.kid(), Some(key.kid()));
    assert_eq!(jws.typ(), Some("at+jwt"));
    let keys = set(&[&key]);
    assert!(jws.names_a_key_of(&keys));
    for rule in [KidRule::Exact, KidRule::OrUnnamed] {
        let c: Claims = jws.verify(&keys, rule).unwrap();
        assert_eq!(c.sub, "alice");
        let v: Value = jws.verify(&keys, rule).unwrap();
        assert_eq!(v, claims());
    }
}

#[test]
fn header_rules() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let token = key.sign("at+jwt", &claims()).unwrap();
    assert_eq!(
        Jws::parse(&token, &[Algorithm::RS256]).unwrap_err(),
        JwsError::Algorithm(Algorithm::ES256)
    );
    let none = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims()));
    assert_eq!(
        Jws::parse(&none, &VERIFY_ALGORITHMS).unwrap_err(),
        JwsError::Malformed
    );
    let hs = format!("{}.{}.c2ln", b64(&json!({"alg": "HS256"})), b64(&claims()));
    assert_eq!(
        Jws::parse(&hs, &VERIFY_ALGORITHMS).unwrap_err(),
        JwsError::Algorithm(Algorithm::HS256)
    );
    for junk in [
        "",
        "a",
        "a.b",
        "a.b.c",
        "e30.e30.e30",
        "not a jwt",
        "..",
        "....",
    ] {
        assert_eq!(
            Jws::parse(junk, &VERIFY_ALGORITHMS).unwrap_err(),
            JwsError::Malformed,
            "{junk:?}"
        );
    }
    assert_eq!(
        Jws::parse(&format!("{token}.x"), &VERIFY_ALGORITHMS).unwrap_err(),
        JwsError::Malformed
    );
    let crit = with_header(
        &key,
        json!({"typ": "at+jwt", "kid": key.kid(), "crit": ["exp"]}),
        br#"{"sub":"alice"}"#,
    );
    assert_eq!(
        Jws::parse(&crit, &VERIFY_ALGORITHMS).unwrap_err(),
        JwsError::Critical
    );
}

#[test]
fn kid_rules() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let other = SigningKey::generate(Algorithm::ES256).unwrap();
    let mut unnamed = key.public_jwk().clone();
    unnamed.common.key_id = None;
    let only_unnamed = JwkKey::set([&unnamed], 64);

    // A kid nobody publishes: refused, or the unnamed keys under `OrUnnamed`.
    let token = key.sign("at+jwt", &claims()).unwrap();
    let jws = Jws::parse(&token, &VERIFY_ALGORITHMS).unwrap();
    assert!(!jws.names_a_key_of(&only_unnamed));
    assert_eq!(
        jws.verify::<Claims, _>(&only_unnamed, KidRule::Exact)
            .unwrap_err(),
        JwsError::UnknownKey
    );
    assert!(
        jws.verify::<Claims, _>(&only_unnamed, KidRule::OrUnnamed)
            .is_ok()
    );
    assert_eq!(
        jws.verify::<Claims, _>(&set(&[&other]), KidRule::OrUnnamed)
            .unwrap_err(),
        JwsError::UnknownKey
    );

    // No kid in the token: every key that fits is tried.
    let no_kid = with_header(&key, json!({"typ": "at+jwt"}), br#"{"sub":"alice"}"#);
    let jws = Jws::parse(&no_kid, &VERIFY_ALGORITHMS).unwrap();
    let both = set(&[&other, &key]);
    assert!(jws.names_a_key_of(&both));
    assert!(jws.verify::<Claims, _>(&both, KidRule::Exact).is_ok());
    assert_eq!(
        jws.verify::<Claims, _>(&set(&[&other]), KidRule::Exact)
            .unwrap_err(),
        JwsError::Signature
    );
}

#[test]
fn fit_signature_and_claims() {
    let key = SigningKey::generate(Algorithm::ES256).unwrap();
    let other = SigningKey::generate(Algorithm::ES256).unwrap();
    let rsa = SigningKey::generate(Algorithm::RS256).unwrap();
    let token = key.sign("at+jwt", &claims()).unwrap();
    let jws = Jws::parse(&token, &VERIFY_ALGORITHMS).unwrap();

    // Another key published under the token's kid.
    let mut impostor = other.public_jwk().clone();
    impostor.common.key_id = Some(key.kid().to_owned());
    let keys = JwkKey::set([&impostor], 64);
    assert_eq!(
        jws.verify::<Claims, _>(&keys, KidRule::Exact).unwrap_err(),
        JwsError::Signature
    );
    // An RSA key under the kid of an ES256 token does not fit.
    let mut wrong_kind = rsa.public_jwk().clone();
    wrong_kind.common.key_id = Some(key.kid().to_owned());
    let keys = JwkKey::set([&wrong_kind], 64);
    assert_eq!(
        jws.verify::<Claims, _>(&keys, KidRule::Exact).unwrap_err(),
        JwsError::NoFittingKey
    );
    // A good signature over claims of the wrong shape.
    let not_claims = with_header(&key, json!({"kid": key.kid()}), br#"{"sub":5}"#);
    let jws = Jws::parse(&not_claims, &VERIFY_ALGORITHMS).unwrap();
    assert_eq!(
        jws.verify::<Claims, _>(&set(&[&key]), KidRule::Exact)
            .unwrap_err(),
        JwsError::Claims
    );
    let not_json = with_header(&key, json!({"kid": key.kid()}), b"\xff");
    let jws = Jws::parse(&not_json, &VERIFY_ALGORITHMS).unwrap();
    assert_eq!(
        jws.verify::<Value, _>(&set(&[&key]), KidRule::Exact)
            .unwrap_err(),
        JwsError::Claims
    );
    // A tampered payload.
    let mut parts: Vec<&str> = token.split('.').collect();
    let forged = b64(&json!({"sub": "mallory"}));
    parts[1] = &forged;
    let forged = parts.join(".");
    let jws = Jws::parse(&forged, &VERIFY_ALGORITHMS).unwrap();
    assert_eq!(
        jws.verify::<Claims, _>(&set(&[&key]), KidRule::Exact)
            .unwrap_err(),
        JwsError::Signature
    );
}

#[test]
fn single_algorithm_keys() {
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let token = key.sign("at+jwt", &claims()).unwrap();
    let jws = Jws::parse(&token, &VERIFY_ALGORITHMS).unwrap();
    let dk = decoding_key(key.public_jwk()).unwrap();
    let ours = (Algorithm::EdDSA, dk.clone());
    let c: Claims = jws.verify_with([&ours]).unwrap();
    assert_eq!(c.sub, "alice");
    let mislabelled = (Algorithm::ES256, dk);
    assert_eq!(
        jws.verify_with::<Claims, _>([&mislabelled]).unwrap_err(),
        JwsError::NoFittingKey
    );
    assert_eq!(
        jws.verify_with::<Claims, (Algorithm, DecodingKey)>([])
            .unwrap_err(),
        JwsError::UnknownKey
    );
}

#[test]
fn only_signature_keys_enter_a_set() {
    let sig = SigningKey::generate(Algorithm::ES256).unwrap();
    let mut enc = sig.public_jwk().clone();
    enc.common.public_key_use = Some(PublicKeyUse::Encryption);
    let oct: Jwk = serde_json::from_value(json!({"kty":"oct","k":"c2VjcmV0","kid":"h"})).unwrap();
    let keys = JwkKey::set([sig.public_jwk(), &enc, &oct], 64);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid(), Some(sig.kid()));
    assert_eq!(
        JwkKey::set([sig.public_jwk(), sig.public_jwk()], 1).len(),
        1
    );
}
