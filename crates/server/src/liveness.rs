//! Whether a verified access token still holds: for a guard running in the same process as the
//! server (`serve --demo`), which can ask instead of trusting the signature until the token
//! expires. A token holds while its client is not disabled, its grant (if any) is not revoked and
//! the grant's user (if any) is not disabled.

use crate::state::AppState;
use crate::store::StoreError;

/// Whether the access token of `client_id` carrying grant `grant_id` still holds.
pub async fn token_still_valid(
    state: &AppState,
    client_id: &str,
    grant_id: Option<&str>,
) -> Result<bool, StoreError> {
    if crate::clients::is_disabled(state, client_id).await? {
        return Ok(false);
    }
    let Some(g) = grant_id else {
        return Ok(true);
    };
    let Some(grant) = state.store().get_grant(g).await? else {
        return Ok(false);
    };
    if grant.revoked_at.is_some() {
        return Ok(false);
    }
    Ok(match &grant.user_id {
        Some(u) => state
            .store()
            .get_user(u)
            .await?
            .is_some_and(|u| u.disabled_at.is_none()),
        None => true,
    })
}
