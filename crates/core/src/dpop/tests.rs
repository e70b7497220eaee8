use super::*;
use serde_json::{Value, json};

const URL: &str = "https://as.example/token";

fn key() -> SigningKey {
    SigningKey::generate(Algorithm::ES256).unwrap()
}

fn new_proof<'a>(jti: &'a str) -> NewProof<'a> {
    NewProof {
        method: "POST",
        url: URL,
        iat: 1000,
        jti,
        access_token: None,
        nonce: None,
    }
}

fn expect() -> Expect<'static> {
    Expect {
        method: "POST",
        url: URL,
        now: 1000,
        max_age: 60,
        future_leeway: 5,
        access_token: None,
    }
}

/// A proof with a header and claims of our choosing, signed by `key`.
fn forged(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap());
    key.sign_with_header(&h, &serde_json::to_vec(claims).unwrap())
        .unwrap()
}

fn public_jwk(key: &SigningKey) -> Value {
    serde_json::to_value(key.public_jwk()).unwrap()
}

fn good_claims() -> Value {
    json!({"jti": "j1", "htm": "POST", "htu": URL, "iat": 1000})
}

#[test]
fn a_signed_proof_verifies_and_names_its_key() {
    let k = key();
    let proof = sign(&k, &new_proof("j1")).unwrap();
    let p = verify(&proof, &expect()).unwrap();
    assert_eq!(
        p.jkt,
        k.kid(),
        "the kid of our keys is their RFC 7638 thumbprint"
    );
    assert_eq!(p.jti, "j1");
    assert_eq!(p.nonce, None);
    for alg in [Algorithm::EdDSA, Algorithm::RS256, Algorithm::PS256] {
        let k = SigningKey::generate(alg).unwrap();
        let proof = sign(&k, &new_proof("j")).unwrap();
        assert_eq!(verify(&proof, &expect()).unwrap().jkt, k.kid(), "{alg:?}");
    }
}

#[test]
fn nonce_and_ath_are_carried() {
    let k = key();
    let proof = sign(
        &k,
        &NewProof {
            access_token: Some("tok"),
            nonce: Some("n1"),
            ..new_proof("j")
        },
    )
    .unwrap();
    let mut e = expect();
    e.access_token = Some("tok");
    assert_eq!(verify(&proof, &e).unwrap().nonce.as_deref(), Some("n1"));
    e.access_token = Some("another token");
    assert_eq!(verify(&proof, &e), Err(DpopError::AccessTokenHash));
    // A proof without ath is refused where a token is presented.
    let bare = sign(&k, &new_proof("j")).unwrap();
    e.access_token = Some("tok");
    assert_eq!(verify(&bare, &e), Err(DpopError::AccessTokenHash));
}

#[test]
fn method_url_and_time_must_match() {
    let k = key();
    let proof = sign(&k, &new_proof("j")).unwrap();
    let mut e = expect();
    e.method = "GET";
    assert_eq!(verify(&proof, &e), Err(DpopError::Method));
    for other in [
        "https://as.example/revoke",
        "https://evil.example/token",
        "http://as.example/token",
        "https://as.example:8443/token",
        "https://as.example/token/",
    ] {
        let mut e = expect();
        e.url = other;
        assert_eq!(verify(&proof, &e), Err(DpopError::Url), "{other}");
    }
    // Normalisation: host case, default port, query and fragment ignored.
    for same in [
        "https://AS.example/token",
        "https://as.example:443/token",
        "https://as.example/token?x=1",
        "https://as.example/token#f",
    ] {
        let mut e = expect();
        e.url = same;
        assert!(verify(&proof, &e).is_ok(), "{same}");
    }
    let mut e = expect();
    e.now = 1061;
    assert_eq!(verify(&proof, &e), Err(DpopError::Time), "too old");
    e.now = 994;
    assert_eq!(verify(&proof, &e), Err(DpopError::Time), "from the future");
    e.now = 996;
    assert!(verify(&proof, &e).is_ok(), "inside the leeway");
    assert_eq!(e.replay_until(1000), 1065);
}

#[test]
fn header_rules() {
    let k = key();
    let jwk = public_jwk(&k);
    let ok = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
    assert!(verify(&forged(&k, &ok, &good_claims()), &expect()).is_ok());

    let mut h = ok.clone();
    h["typ"] = "JWT".into();
    assert_eq!(
        verify(&forged(&k, &h, &good_claims()), &expect()),
        Err(DpopError::Type)
    );
    h.as_object_mut().unwrap().remove("typ");
    assert_eq!(
        verify(&forged(&k, &h, &good_claims()), &expect()),
        Err(DpopError::Type)
    );

    let mut h = ok.clone();
    h.as_object_mut().unwrap().remove("jwk");
    assert_eq!(
        verify(&forged(&k, &h, &good_claims()), &expect()),
        Err(DpopError::Key)
    );

    // The private scalar next to the public key: refused, never ignored.
    let mut h = ok.clone();
    h["jwk"]["d"] = "AAAA".into();
    assert_eq!(
        verify(&forged(&k, &h, &good_claims()), &expect()),
        Err(DpopError::PrivateKey)
    );

    // A symmetric key.
    let mut h = ok.clone();
    h["jwk"] = json!({"kty": "oct", "k": "c2VjcmV0"});
    assert_eq!(
        verify(&forged(&k, &h, &good_claims()), &expect()),
        Err(DpopError::PrivateKey)
    );

    // Another key in the header than the one that signed.
    let other = key();
    let mut h = ok.clone();
    h["jwk"] = public_jwk(&other);
    assert_eq!(
        verify(&forged(&k, &h, &good_claims()), &expect()),
        Err(DpopError::Signature)
    );

    // An RSA key in the header of an ES256 proof.
    let rsa = SigningKey::generate(Algorithm::RS256).unwrap();
    let mut h = ok.clone();
    h["jwk"] = public_jwk(&rsa);
    h["jwk"].as_object_mut().unwrap().remove("alg");
    assert_eq!(
        verify(&forged(&k, &h, &good_claims()), &expect()),
        Err(DpopError::Key)
    );

    // HS256 and none are not on the list.
    for alg in ["HS256", "none"] {
        let mut h = ok.clone();
        h["alg"] = alg.into();
        let proof = forged(&k, &h, &good_claims());
        assert!(
            matches!(
                verify(&proof, &expect()),
                Err(DpopError::Algorithm | DpopError::Malformed)
            ),
            "{alg}"
        );
    }
}

#[test]
fn claims_rules() {
    let k = key();
    let h = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(&k)});
    for missing in ["jti", "htm", "htu", "iat"] {
        let mut c = good_claims();
        c.as_object_mut().unwrap().remove(missing);
        assert_eq!(
            verify(&forged(&k, &h, &c), &expect()),
            Err(DpopError::Claims),
            "{missing}"
        );
    }
    let mut c = good_claims();
    c["jti"] = "x".repeat(MAX_JTI_BYTES + 1).into();
    assert_eq!(
        verify(&forged(&k, &h, &c), &expect()),
        Err(DpopError::Claims)
    );
    c["jti"] = "".into();
    assert_eq!(
        verify(&forged(&k, &h, &c), &expect()),
        Err(DpopError::Claims)
    );
}

#[test]
fn tampering_and_garbage() {
    let k = key();
    let proof = sign(&k, &new_proof("j")).unwrap();
    let (head, rest) = proof.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let other_claims = URL_SAFE_NO_PAD.encode(
        serde_json::to_vec(&json!({"jti": "j", "htm": "GET", "htu": URL, "iat": 1000})).unwrap(),
    );
    let tampered = format!("{head}.{other_claims}.{sig}");
    assert_eq!(verify(&tampered, &expect()), Err(DpopError::Signature));
    for junk in ["", "a.b", "a.b.c", "...", &"x".repeat(MAX_PROOF_BYTES + 1)] {
        assert_eq!(verify(junk, &expect()), Err(DpopError::Malformed));
    }
}

#[test]
fn cnf_is_read() {
    let claims = json!({"cnf": {"jkt": "abc"}});
    assert_eq!(cnf_jkt(claims.as_object().unwrap()), Some("abc"));
    assert_eq!(cnf_jkt(json!({}).as_object().unwrap()), None);
}
