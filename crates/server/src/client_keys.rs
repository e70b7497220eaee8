//! The public keys of `private_key_jwt` clients: what a JWK Set must look like to be accepted
//! at registration (DCR, CIMD, administrator).
//!
//! Only asymmetric public keys: a symmetric (`oct`) key would turn the registered "public key"
//! into a shared secret, and a key carrying private parameters (`d`, `p`, `q`, …) shows the
//! client leaked its private key into its metadata.

use mcp_oauth_core::jose::{JwkSet, decoding_key};
use serde_json::Value;

/// Most keys a client may register: rollover needs two, a few more are harmless.
pub const MAX_KEYS: usize = 10;

/// JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// Parses and checks a JWK Set given by value. The error says what is wrong, for an
/// `invalid_client_metadata` description or an administrator.
pub fn parse_public_jwks(v: &Value) -> Result<JwkSet, String> {
    let keys = v
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("jwks must be a JWK Set: an object with a `keys` array")?;
    if keys.is_empty() {
        return Err("jwks contains no keys".into());
    }
    if keys.len() > MAX_KEYS {
        return Err(format!("jwks may hold at most {MAX_KEYS} keys"));
    }
    for k in keys {
        let obj = k
            .as_object()
            .ok_or("every key in jwks must be a JSON object")?;
        if PRIVATE_MEMBERS.iter().any(|m| obj.contains_key(*m)) {
            return Err("jwks must contain public keys only (a key has private parameters)".into());
        }
    }
    let set: JwkSet = serde_json::from_value(v.clone())
        .map_err(|e| format!("jwks is not a valid JWK Set: {e}"))?;
    for jwk in &set.keys {
        decoding_key(jwk).map_err(|e| format!("jwks holds an unusable key: {e}"))?;
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_oauth_core::jose::{Algorithm, SigningKey};

    #[test]
    fn accepts_public_keys_only() {
        let k = SigningKey::generate(Algorithm::ES256).unwrap();
        let good = serde_json::json!({ "keys": [k.public_jwk()] });
        assert_eq!(parse_public_jwks(&good).unwrap().keys.len(), 1);
        let mut private = serde_json::to_value(k.public_jwk()).unwrap();
        private["d"] = "secret".into();
        assert!(parse_public_jwks(&serde_json::json!({ "keys": [private] })).is_err());
        let oct = serde_json::json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
        assert!(parse_public_jwks(&oct).is_err());
        assert!(parse_public_jwks(&serde_json::json!({"keys": []})).is_err());
        assert!(parse_public_jwks(&serde_json::json!([])).is_err());
        assert!(parse_public_jwks(&serde_json::json!({"keys": [1]})).is_err());
    }
}
