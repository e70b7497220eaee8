//! The local user of an upstream account. Accounts are linked by (upstream, subject) only: the
//! same subject through two blocks is two accounts (two providers may number users alike), and
//! an e-mail alone never finds an account, unless the block allows linking by e-mail and the
//! upstream verified the address; then the account is the one an earlier sign-in (through any
//! block) proved that verified address for.
//!
//! A new user gets a username `{upstream}-{name}` (made to fit the username grammar, with a
//! random suffix when taken) and no password: only its upstream signs it in.

use super::identity::Identity;
use crate::model::User;
use crate::model::upstream::UpstreamLink;
use crate::store::{Store, StoreError};
use mcp_oauth_core::clock::UnixTime;
use mcp_oauth_core::secret::random_token;

/// How many usernames are tried before giving up.
const ATTEMPTS: usize = 4;

/// A username for a new account: `{upstream}-{name}`, at most 64 characters of the grammar.
fn username(upstream_id: &str, base: &str, suffix: Option<&str>) -> String {
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let tail = suffix.map(|s| format!("-{s}")).unwrap_or_default();
    let room = 64usize.saturating_sub(upstream_id.len() + 1 + tail.len());
    let clean: String = clean.chars().take(room).collect();
    format!("{upstream_id}-{clean}{tail}")
}

/// Finds, links or creates the user of `identity` at `upstream_id`.
pub(crate) async fn user_for(
    store: &dyn Store,
    upstream_id: &str,
    link_by_email: bool,
    identity: &Identity,
    now: UnixTime,
) -> Result<String, StoreError> {
    if let Some(l) = store
        .get_upstream_link(upstream_id, &identity.subject)
        .await?
    {
        return Ok(l.user_id);
    }
    let link = |user_id: &str| UpstreamLink {
        upstream_id: upstream_id.to_owned(),
        subject: identity.subject.clone(),
        user_id: user_id.to_owned(),
        email: identity.email.clone(),
        email_verified: identity.email_verified,
        created_at: now,
    };
    if link_by_email
        && identity.email_verified
        && let Some(email) = &identity.email
        && let Some(existing) = store.find_verified_links(email).await?.first()
    {
        match store.insert_upstream_link(&link(&existing.user_id)).await {
            Ok(()) => return Ok(existing.user_id.clone()),
            Err(StoreError::Conflict(_)) => {
                return linked_meanwhile(store, upstream_id, identity).await;
            }
            Err(e) => return Err(e),
        }
    }
    for attempt in 0..ATTEMPTS {
        let suffix = (attempt > 0).then(|| random_token(3));
        let user = User {
            id: random_token(16),
            username: username(upstream_id, &identity.username, suffix.as_deref()),
            // Not a PHC string: no password ever verifies against it.
            password_hash: String::new(),
            created_at: now,
            roles: Vec::new(),
            disabled_at: None,
        };
        match store.create_upstream_user(&user, &link(&user.id)).await {
            Ok(()) => return Ok(user.id),
            Err(StoreError::Conflict(_)) => {
                // A concurrent first sign-in of the same account, or a taken username.
                if let Some(l) = store
                    .get_upstream_link(upstream_id, &identity.subject)
                    .await?
                {
                    return Ok(l.user_id);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::Conflict(
        "no free username for the upstream account".into(),
    ))
}

async fn linked_meanwhile(
    store: &dyn Store,
    upstream_id: &str,
    identity: &Identity,
) -> Result<String, StoreError> {
    store
        .get_upstream_link(upstream_id, &identity.subject)
        .await?
        .map(|l| l.user_id)
        .ok_or_else(|| StoreError::Conflict("upstream link".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::UserStore;
    use crate::store::memory::MemoryStore;

    fn who(sub: &str, email: &str, verified: bool) -> Identity {
        Identity {
            subject: sub.into(),
            username: "Ann Smith".into(),
            email: Some(email.into()),
            email_verified: verified,
            display_name: None,
            claims: Default::default(),
            organizations: Vec::new(),
        }
    }

    #[tokio::test]
    async fn linked_by_subject_per_upstream_and_by_verified_email_only() {
        let store = MemoryStore::new();
        let a = user_for(&store, "corp", true, &who("s1", "ann@x.example", true), 1)
            .await
            .unwrap();
        assert_eq!(
            user_for(
                &store,
                "corp",
                true,
                &who("s1", "other@x.example", false),
                2
            )
            .await
            .unwrap(),
            a,
            "the subject decides"
        );
        let u = store.get_user(&a).await.unwrap().unwrap();
        assert_eq!(u.username, "corp-Ann_Smith");
        let b = user_for(&store, "other", false, &who("s1", "ann@x.example", true), 3)
            .await
            .unwrap();
        assert_ne!(a, b, "same subject, another block: another account");
        let c = user_for(&store, "third", true, &who("s9", "ann@x.example", false), 4)
            .await
            .unwrap();
        assert_ne!(a, c, "an unverified e-mail takes over nothing");
        let d = user_for(&store, "fourth", true, &who("s7", "ann@x.example", true), 5)
            .await
            .unwrap();
        assert_eq!(a, d, "a verified e-mail with linking allowed");
        assert_eq!(username("gh", &"x".repeat(100), Some("abcd")).len(), 64);
    }
}
