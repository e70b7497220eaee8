//! DPoP (RFC 9449): the rules of a proof, shared by the authorization server (proofs at `/token`),
//! the resource guard (proofs with a bound access token) and the client (which makes proofs).
//!
//! No I/O here: whether a `jti` was seen before and which nonces are current are the caller's
//! state, and time comes in as a parameter. [`verify`] checks everything a single proof can show
//! on its own (RFC 9449 §4.3): `typ: dpop+jwt`, an asymmetric `alg` of [`ALGORITHMS`], a public
//! `jwk` in the header (a private member is refused, not ignored) whose key verifies the
//! signature through [`crate::jws`], `htm` and `htu` against the request, `iat` inside the
//! caller's window, and `ath` against the access token when one is presented. It returns the
//! key's RFC 7638 thumbprint (`jkt`), the `jti` to record and the `nonce` to judge.

use crate::jose::{Algorithm, JoseError, Jwk, SigningKey, algorithm_name};
use crate::jws::{JwkKey, Jws};
use crate::secret::sha256_b64url;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::ThumbprintHash;
use serde::Deserialize;
use std::fmt;

/// The request header that carries a proof (RFC 9449 §4.1).
pub const HEADER: &str = "DPoP";
/// The response header that carries a server nonce (RFC 9449 §8).
pub const NONCE_HEADER: &str = "DPoP-Nonce";
/// The `typ` of a proof.
pub const PROOF_TYPE: &str = "dpop+jwt";
/// The `token_type` of a DPoP-bound access token (RFC 9449 §5).
pub const TOKEN_TYPE: &str = "DPoP";
/// The authorization scheme of a DPoP-bound access token (RFC 9449 §7.1).
pub const SCHEME: &str = "DPoP";
/// The longest proof read at all: an RSA-4096 proof is under 2 KiB.
pub const MAX_PROOF_BYTES: usize = 8192;
/// The longest `jti` recorded: replay stores keep it, so its size is bounded.
pub const MAX_JTI_BYTES: usize = 256;

/// The algorithms a proof may be signed with: asymmetric only (RFC 9449 §4.2 forbids `none` and
/// symmetric algorithms), advertised as `dpop_signing_alg_values_supported`.
pub const ALGORITHMS: [Algorithm; 5] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::PS256,
];

/// The names of [`ALGORITHMS`], for metadata and challenges.
pub fn algorithm_names() -> Vec<String> {
    ALGORITHMS.iter().map(|a| algorithm_name(*a)).collect()
}

/// Why a proof was refused; `Display` is the `error_description`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpopError {
    /// Not a compact JWS this library reads, or longer than [`MAX_PROOF_BYTES`].
    Malformed,
    /// `alg` is not one of [`ALGORITHMS`].
    Algorithm,
    /// `typ` is not `dpop+jwt`.
    Type,
    /// No `jwk` header, or one that is not a usable public signature key.
    Key,
    /// The `jwk` header carries private key material.
    PrivateKey,
    /// The signature does not verify with the header's key.
    Signature,
    /// The claims are missing or malformed (`jti`, `htm`, `htu`, `iat`).
    Claims,
    /// `htm` is not the request's method.
    Method,
    /// `htu` is not the request's URL.
    Url,
    /// `iat` is outside the accepted window.
    Time,
    /// `ath` is missing or is not the hash of the presented access token.
    AccessTokenHash,
}

impl fmt::Display for DpopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "the DPoP proof is not a well-formed JWS",
            Self::Algorithm => "the DPoP proof's alg is not accepted",
            Self::Type => "the DPoP proof's typ must be dpop+jwt",
            Self::Key => "the DPoP proof must carry a public signature key in its jwk header",
            Self::PrivateKey => "the DPoP proof's jwk header contains a private key",
            Self::Signature => "the DPoP proof's signature does not verify with its jwk",
            Self::Claims => "the DPoP proof must carry jti, htm, htu and iat",
            Self::Method => "the DPoP proof's htm is not this request's method",
            Self::Url => "the DPoP proof's htu is not this request's URL",
            Self::Time => "the DPoP proof's iat is too old or in the future",
            Self::AccessTokenHash => "the DPoP proof's ath does not match the access token",
        })
    }
}

impl std::error::Error for DpopError {}

/// What a proof must match, and the caller's time window.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The request method (`POST`).
    pub method: &'a str,
    /// The request URL as the client addressed it (query and fragment are ignored).
    pub url: &'a str,
    /// Now, in seconds.
    pub now: i64,
    /// How old `iat` may be, in seconds.
    pub max_age: i64,
    /// How far in the future `iat` may be (client clocks run fast), in seconds.
    pub future_leeway: i64,
    /// The access token presented with the proof (resource requests): `ath` must be its hash.
    pub access_token: Option<&'a str>,
}

impl Expect<'_> {
    /// Until when a proof's `jti` must be remembered: after that its `iat` is out of the window
    /// anyway.
    pub fn replay_until(&self, iat: i64) -> i64 {
        iat.max(self.now) + self.max_age + self.future_leeway
    }
}

/// A proof that passed [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The RFC 7638 SHA-256 thumbprint of its key, as `cnf.jkt` carries it.
    pub jkt: String,
    /// Its `jti`, to be used once.
    pub jti: String,
    /// Its `iat`.
    pub iat: i64,
    /// Its `nonce`, for the caller's nonce policy.
    pub nonce: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    #[serde(default)]
    ath: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
}

/// JWK members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Verifies a proof against `expect` (RFC 9449 §4.3, checks 1 to 11 but the nonce and `jti`
/// ones, which need the caller's state).
pub fn verify(proof: &str, expect: &Expect<'_>) -> Result<Proof, DpopError> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(DpopError::Malformed);
    }
    let jws = Jws::parse(proof, &ALGORITHMS).map_err(|e| match e {
        crate::jws::JwsError::Algorithm(_) => DpopError::Algorithm,
        _ => DpopError::Malformed,
    })?;
    if !jws
        .typ()
        .is_some_and(|t| t.eq_ignore_ascii_case(PROOF_TYPE))
    {
        return Err(DpopError::Type);
    }
    // The parsed header's `Jwk` drops members it does not know, so private parts are looked for
    // in the raw header.
    if raw_jwk_has_private_members(proof)? {
        return Err(DpopError::PrivateKey);
    }
    let jwk = jws.header().jwk.as_ref().ok_or(DpopError::Key)?;
    let key = JwkKey::from_jwk(jwk).ok_or(DpopError::Key)?;
    let claims: Claims = jws.verify_with([&key]).map_err(|e| match e {
        crate::jws::JwsError::Claims => DpopError::Claims,
        crate::jws::JwsError::NoFittingKey | crate::jws::JwsError::UnknownKey => DpopError::Key,
        _ => DpopError::Signature,
    })?;
    if claims.jti.is_empty() || claims.jti.len() > MAX_JTI_BYTES {
        return Err(DpopError::Claims);
    }
    if claims.htm != expect.method {
        return Err(DpopError::Method);
    }
    if !same_target(&claims.htu, expect.url) {
        return Err(DpopError::Url);
    }
    if claims.iat < expect.now - expect.max_age || claims.iat > expect.now + expect.future_leeway {
        return Err(DpopError::Time);
    }
    if let Some(token) = expect.access_token {
        let want = ath(token);
        let got = claims.ath.as_deref().unwrap_or("");
        if !crate::secret::constant_time_eq(got.as_bytes(), want.as_bytes()) {
            return Err(DpopError::AccessTokenHash);
        }
    }
    Ok(Proof {
        jkt: thumbprint(jwk).ok_or(DpopError::Key)?,
        jti: claims.jti,
        iat: claims.iat,
        nonce: claims.nonce,
    })
}

fn raw_jwk_has_private_members(proof: &str) -> Result<bool, DpopError> {
    let head = proof.split('.').next().unwrap_or("");
    let header: serde_json::Value = URL_SAFE_NO_PAD
        .decode(head)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(DpopError::Malformed)?;
    match header.get("jwk") {
        Some(serde_json::Value::Object(jwk)) => {
            Ok(PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)))
        }
        _ => Err(DpopError::Key),
    }
}

/// Whether `htu` names `url` (RFC 9449 §4.3 check 9): both without query and fragment, compared
/// after the syntax- and scheme-based normalisation of RFC 3986 §6.2.2 and §6.2.3 (case of scheme
/// and host, default port, empty path, percent-encoding case), which `url` applies.
pub fn same_target(htu: &str, url: &str) -> bool {
    fn norm(s: &str) -> Option<String> {
        let mut u = url::Url::parse(s).ok()?;
        if !matches!(u.scheme(), "http" | "https") {
            return None;
        }
        u.set_query(None);
        u.set_fragment(None);
        Some(u.to_string())
    }
    matches!((norm(htu), norm(url)), (Some(a), Some(b)) if a == b)
}

/// The `ath` of an access token: base64url SHA-256 of its ASCII (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    sha256_b64url(access_token.as_bytes())
}

/// The RFC 7638 SHA-256 thumbprint of a public key, as `cnf.jkt` and `dpop_jkt` carry it.
pub fn thumbprint(jwk: &Jwk) -> Option<String> {
    jwk.thumbprint(ThumbprintHash::SHA256).ok()
}

/// What a new proof says (the client's side).
#[derive(Debug, Clone, Copy)]
pub struct NewProof<'a> {
    /// The request method.
    pub method: &'a str,
    /// The request URL; query and fragment are left out of `htu`.
    pub url: &'a str,
    /// Now, in seconds.
    pub iat: i64,
    /// A fresh unique id.
    pub jti: &'a str,
    /// The access token sent with the proof, for `ath`.
    pub access_token: Option<&'a str>,
    /// The server's latest nonce, if it gave one.
    pub nonce: Option<&'a str>,
}

/// Signs a proof with `key`; the header carries its public JWK.
pub fn sign(key: &SigningKey, p: &NewProof<'_>) -> Result<String, JoseError> {
    let mut jwk =
        serde_json::to_value(key.public_jwk()).map_err(|e| JoseError::Rejected(e.to_string()))?;
    if let Some(o) = jwk.as_object_mut() {
        // The key id and use mean nothing to the receiver; the thumbprint names the key.
        o.remove("kid");
        o.remove("use");
    }
    let header = serde_json::json!({
        "typ": PROOF_TYPE,
        "alg": algorithm_name(key.algorithm()),
        "jwk": jwk,
    });
    let htu = p.url.split(['?', '#']).next().unwrap_or(p.url);
    let mut claims = serde_json::json!({
        "jti": p.jti,
        "htm": p.method,
        "htu": htu,
        "iat": p.iat,
    });
    if let Some(t) = p.access_token {
        claims["ath"] = ath(t).into();
    }
    if let Some(n) = p.nonce {
        claims["nonce"] = n.into();
    }
    let header = URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&header).map_err(|e| JoseError::Rejected(e.to_string()))?);
    let payload = serde_json::to_vec(&claims).map_err(|e| JoseError::Rejected(e.to_string()))?;
    key.sign_with_header(&header, &payload)
}

/// The `jkt` of an access token's `cnf` claim (RFC 9449 §6.1), among its other claims.
pub fn cnf_jkt(claims: &serde_json::Map<String, serde_json::Value>) -> Option<&str> {
    claims.get("cnf")?.get("jkt")?.as_str()
}

pub mod nonce;

#[cfg(test)]
mod tests;
