//! User roles and restricted scopes: `users add --role`, `users role`, `resources add|update
//! --restrict SCOPE=ROLE`. What they mean at consent is in [`crate::roles`].

use super::{AdminError, invalid};
use crate::model::{Resource, ScopeDef, User};
use crate::roles::is_valid_role;
use crate::store::Store;

/// Validates role names; returns them sorted and unique.
pub fn normalize(roles: &[String]) -> Result<Vec<String>, AdminError> {
    let mut out = Vec::with_capacity(roles.len());
    for r in roles {
        let r = r.trim();
        if !is_valid_role(r) {
            return Err(invalid(format!(
                "`{r}` is not a valid role (1 to 64 letters, digits, '.', '_', '-' or ':')"
            )));
        }
        out.push(r.to_owned());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Adds and removes roles of a user; returns the user as stored.
pub async fn change_user_roles(
    store: &dyn Store,
    username: &str,
    add: &[String],
    remove: &[String],
) -> Result<User, AdminError> {
    let mut user = store
        .get_user_by_name(username)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("user `{username}`")))?;
    let add = normalize(add)?;
    let remove = normalize(remove)?;
    let mut roles: Vec<String> = user
        .roles
        .iter()
        .filter(|r| !remove.contains(r))
        .cloned()
        .chain(add)
        .collect();
    roles.sort();
    roles.dedup();
    if !store.set_roles(username, &roles).await? {
        return Err(AdminError::NotFound(format!("user `{username}`")));
    }
    user.roles = roles;
    Ok(user)
}

/// Applies `SCOPE=ROLE` restrictions (repeatable; several roles for one scope are several
/// entries) to a resource's scope definitions. The scope must be one of them.
pub fn restrict(scopes: &mut [ScopeDef], restrictions: &[String]) -> Result<(), AdminError> {
    for entry in restrictions {
        let Some((scope, role)) = entry.split_once('=') else {
            return Err(invalid(format!(
                "`{entry}`: a restriction is SCOPE=ROLE (e.g. mcp:admin=admin)"
            )));
        };
        let (scope, role) = (scope.trim(), normalize(&[role.to_owned()])?);
        let Some(def) = scopes.iter_mut().find(|d| d.name == scope) else {
            return Err(invalid(format!(
                "`{scope}` is not a scope of this resource (add it with --scope)"
            )));
        };
        def.roles.extend(role);
        def.roles.sort();
        def.roles.dedup();
    }
    Ok(())
}

/// Changes a registered resource: its name, its scopes (replaced when `scopes` is given, keeping
/// the restrictions of scopes that stay), restrictions added (`SCOPE=ROLE`) and removed (every
/// role of the scopes named in `unrestrict`).
pub async fn update_resource(
    store: &dyn Store,
    uri: &str,
    name: Option<&str>,
    scopes: Option<Vec<ScopeDef>>,
    restrictions: &[String],
    unrestrict: &[String],
) -> Result<Resource, AdminError> {
    let mut r = store
        .get_resource(uri)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("resource {uri}")))?;
    if let Some(name) = name {
        if name.trim().is_empty() {
            return Err(invalid("a resource needs a name"));
        }
        r.name = name.trim().to_owned();
    }
    if let Some(mut new) = scopes {
        for d in &mut new {
            if let Some(old) = r.scopes.iter().find(|o| o.name == d.name) {
                d.roles = old.roles.clone();
            }
        }
        r.scopes = new;
    }
    for scope in unrestrict {
        let Some(def) = r.scopes.iter_mut().find(|d| d.name == *scope) else {
            return Err(invalid(format!(
                "`{scope}` is not a scope of this resource"
            )));
        };
        def.roles.clear();
    }
    restrict(&mut r.scopes, restrictions)?;
    store.upsert_resource(&r).await?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs() -> Vec<ScopeDef> {
        ["mcp:tools", "mcp:admin"]
            .iter()
            .map(|s| super::super::parse_scope_def(s).unwrap())
            .collect()
    }

    #[test]
    fn restrictions_name_existing_scopes_and_valid_roles() {
        let mut d = defs();
        restrict(
            &mut d,
            &[
                "mcp:admin=admin".into(),
                "mcp:admin=ops".into(),
                "mcp:admin=admin".into(),
            ],
        )
        .unwrap();
        assert_eq!(d[1].roles, ["admin", "ops"]);
        assert!(d[0].roles.is_empty());
        assert!(restrict(&mut d, &["files:write=admin".into()]).is_err());
        assert!(restrict(&mut d, &["mcp:admin".into()]).is_err());
        assert!(restrict(&mut d, &["mcp:admin=two words".into()]).is_err());
        assert_eq!(
            normalize(&["b".into(), "a".into(), "b".into()]).unwrap(),
            ["a", "b"]
        );
    }
}
