//! Restricted scopes: a resource may say that some of its scopes (`mcp:admin`, say) can only be
//! approved by users holding one of some roles. Any user may otherwise consent to any scope
//! the resource offers, which is not what "administer" should mean.
//!
//! The user is known only after login, so `/authorize` validates the request without the
//! restriction and [`for_user`] applies it wherever the user decides or a code is issued: the
//! consent page (which lists the other scopes as not available, with nothing to tick), the
//! consent form (which recomputes everything from the carried request, so nothing the browser
//! sends can add a scope) and a consent already on record. The code, and so the token, gets the
//! intersection. Tokens without a user (`client_credentials`) are bounded by the client's
//! allowed scopes, which only an administrator sets.

use crate::authorization_request::AuthorizationRequest;
use crate::model::Resource;
use crate::state::AppState;
use crate::store::StoreError;
use mcp_oauth_core::ScopeSet;

/// A scope of the request the signed-in user may not approve, and the roles that would let them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    /// The scope token.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The roles that grant it.
    pub roles: Vec<String>,
}

/// Narrows `req.scope` to what `user_id` may approve; returns what was taken out.
pub async fn for_user(
    state: &AppState,
    req: &mut AuthorizationRequest,
    user_id: &str,
) -> Result<Vec<Unavailable>, StoreError> {
    let (kept, removed) = scope_for_user(state, &req.resource, &req.scope, user_id).await?;
    req.scope = kept;
    Ok(removed)
}

/// The scopes of `scope` on `resource` that `user_id` may approve, and the others (the device
/// page's consent, which has no authorization request).
pub async fn scope_for_user(
    state: &AppState,
    resource: &Resource,
    scope: &ScopeSet,
    user_id: &str,
) -> Result<(ScopeSet, Vec<Unavailable>), StoreError> {
    if resource.scopes.iter().all(|d| d.roles.is_empty()) {
        return Ok((scope.clone(), Vec::new()));
    }
    let roles = state
        .store()
        .get_user(user_id)
        .await?
        .map(|u| u.roles)
        .unwrap_or_default();
    Ok(split(resource, scope, &roles))
}

/// The scopes a holder of `roles` may approve, and the others.
fn split(resource: &Resource, scope: &ScopeSet, roles: &[String]) -> (ScopeSet, Vec<Unavailable>) {
    let mut removed = Vec::new();
    let kept = scope
        .iter()
        .filter(|name| {
            match resource.scopes.iter().find(|d| d.name == *name) {
                Some(d) if !d.grantable_to(roles) => {
                    removed.push(Unavailable {
                        name: d.name.clone(),
                        description: d.description.clone(),
                        roles: d.roles.clone(),
                    });
                    false
                }
                // Offered and open, or not defined by the resource (already filtered out).
                _ => true,
            }
        })
        .collect();
    (kept, removed)
}

/// Whether `name` is a valid role: 1 to 64 ASCII letters, digits, `.`, `_`, `-`, `:`.
pub fn is_valid_role(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names() {
        for ok in ["admin", "ops:read", "team-1.lead", "a_b"] {
            assert!(is_valid_role(ok), "{ok}");
        }
        for bad in ["", "with space", "é", "a,b", &"x".repeat(65)] {
            assert!(!is_valid_role(bad), "{bad}");
        }
    }
}
