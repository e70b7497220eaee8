//! The verified caller, as the guard hands it to the protected service.

use mcp_oauth_core::ScopeSet;
use mcp_oauth_core::clock::UnixTime;
use serde_json::Value;
use std::ops::Deref;
use std::sync::Arc;

/// Who is calling, established from a verified access token.
///
/// The guard inserts it into the request's extensions, so a handler reads it with
/// `req.extensions().get::<Principal>()` (or axum's `Extension<Principal>`). It is the only
/// identity a handler should trust: never one sent by the client in the JSON-RPC body, and never
/// the MCP session id (the spec requires every request to be authorized on its own).
///
/// A request has no `Principal` only when the [`crate::ScopePolicy`] declares its methods public
/// and it carried no token (or it is a CORS preflight).
///
/// The fields are those of [`PrincipalData`], read through `Deref` (`principal.subject`,
/// `principal.scopes`, ...). The data is shared behind an [`Arc`]: cloning a `Principal` is a
/// reference-count increment, so the verified-token caches hand out the same principal to every
/// request with that token without copying its claims.
#[derive(Clone, PartialEq)]
pub struct Principal(Arc<PrincipalData>);

/// What a [`Principal`] holds: the identity and grants of one verified access token.
#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalData {
    /// The issuer that vouched for the token (`iss`, or the configured issuer for introspection).
    pub issuer: String,
    /// The resource owner (`sub`); for `client_credentials` tokens, usually the client itself.
    /// Absent only when an introspection endpoint does not return `sub`.
    pub subject: Option<String>,
    /// The client the token was issued to: the profile's client claim (`client_id`, else `azp`,
    /// by default; Okta `cid`, Entra ID `azp` or `appid`), or the introspection answer's
    /// `client_id`.
    pub client_id: Option<String>,
    /// The granted scopes: the union of the profile's scope claims (`scope` and `scp` by default;
    /// Auth0 adds `permissions`, Entra ID is `scp` and `roles`), or the introspection answer's
    /// `scope`.
    pub scopes: ScopeSet,
    /// Every audience value of the token; one of them names this resource.
    pub audience: Vec<String>,
    /// Expiry (`exp`), when known: caches never keep the principal longer.
    pub expires_at: Option<UnixTime>,
    /// All claims as received (JWT payload or introspection response), for application logic
    /// that needs more (tenant, groups, `auth_time`, ...).
    pub claims: Value,
}

impl PrincipalData {
    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }
}

impl Principal {
    /// A principal holding `data`.
    pub fn new(data: PrincipalData) -> Self {
        Self(Arc::new(data))
    }

    /// The shared data.
    pub fn data(&self) -> &Arc<PrincipalData> {
        &self.0
    }

    /// The data, copied only if another clone of this principal still shares it.
    pub fn into_data(self) -> PrincipalData {
        Arc::unwrap_or_clone(self.0)
    }
}

impl From<PrincipalData> for Principal {
    fn from(data: PrincipalData) -> Self {
        Self::new(data)
    }
}

impl From<Arc<PrincipalData>> for Principal {
    fn from(data: Arc<PrincipalData>) -> Self {
        Self(data)
    }
}

impl Deref for Principal {
    type Target = PrincipalData;

    fn deref(&self) -> &PrincipalData {
        &self.0
    }
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("issuer", &self.issuer)
            .field("subject", &self.subject)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .field("audience", &self.audience)
            .field("expires_at", &self.expires_at)
            .field("claims", &self.claims)
            .finish()
    }
}

/// Reads scopes from claims: `scope` as a space-delimited string (RFC 9068, RFC 7662), else
/// `scp` as a string or an array (Okta, Entra ID). Tokens outside the RFC 6749 grammar are
/// ignored rather than failing the whole token: they can never match a policy scope anyway.
pub(crate) fn scopes_from_claims(claims: &Value) -> ScopeSet {
    let mut out = ScopeSet::new();
    if let Some(v) = claims.get("scope").or_else(|| claims.get("scp")) {
        add_scopes(&mut out, v);
    }
    out
}

/// Adds the scopes of one claim value: a space-delimited string, or an array of such strings
/// (Auth0 `permissions`, Entra ID `roles`, Okta `scp`); anything else adds nothing.
pub(crate) fn add_scopes(out: &mut ScopeSet, value: &Value) {
    use mcp_oauth_core::scope::is_scope_token;
    let mut add = |s: &str| {
        for tok in s.split(' ').filter(|t| is_scope_token(t)) {
            out.insert(tok);
        }
    };
    match value {
        Value::String(s) => add(s),
        Value::Array(items) => {
            for item in items {
                if let Value::String(s) = item {
                    add(s);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clones_share_the_data() {
        let p = Principal::new(PrincipalData {
            issuer: "https://as".into(),
            subject: Some("alice".into()),
            client_id: None,
            scopes: ScopeSet::parse("a b").unwrap(),
            audience: vec![],
            expires_at: None,
            claims: json!({"sub": "alice"}),
        });
        let q = p.clone();
        assert!(Arc::ptr_eq(p.data(), q.data()));
        assert_eq!(q.subject.as_deref(), Some("alice"));
        assert!(q.has_scope("b"));
        assert_eq!(p, q);
        assert!(format!("{q:?}").starts_with("Principal { issuer: \"https://as\""));
        drop(p);
        assert_eq!(q.into_data().issuer, "https://as");
    }

    #[test]
    fn scopes_from_scope_or_scp() {
        assert_eq!(
            scopes_from_claims(&json!({"scope": "b a"})).to_string(),
            "a b"
        );
        assert_eq!(
            scopes_from_claims(&json!({"scp": ["x", "y z"]})).to_string(),
            "x y z"
        );
        assert_eq!(scopes_from_claims(&json!({"scp": "q"})).to_string(), "q");
        assert!(scopes_from_claims(&json!({"scope": 5})).is_empty());
        assert_eq!(
            scopes_from_claims(&json!({"scope": "ok bad\"one"})).to_string(),
            "ok"
        );
    }
}
