//! Kept upstream tokens revoked at their provider once they are deleted here. Every deletion
//! (a grant revoked at `/revoke`, by code replay or refresh-token reuse, a consent withdrawn,
//! a client or user removed, grants and codes expired) queues them in the store in its own
//! transaction; [`drain`] takes them from the queue (one instance each) and revokes them: at an
//! OpenID provider with a revocation endpoint, RFC 7009 (the refresh token, then the access
//! token); at GitHub, its "delete an app token" API. Best effort: a failure is logged (without
//! the token) and the row is not retried, as the grant is gone here whatever the provider says.

use super::Upstreams;
use super::presets::Protocol;
use crate::model::upstream::UpstreamTokens;
use crate::store::Store;
use mcp_oauth_core::clock::UnixTime;
use std::time::Duration;

/// How long a request waits for the revocations it caused before answering; the rest go on in
/// the background.
pub(crate) const BOUND: Duration = Duration::from_secs(2);

/// Rows taken from the queue at a time.
const BATCH: u32 = 32;

/// At most this many bytes of a revocation answer are read.
const MAX_ANSWER: usize = 16 * 1024;

/// Revokes everything queued; returns how many rows were taken.
pub(crate) async fn drain(store: &dyn Store, upstreams: &Upstreams, now: UnixTime) -> usize {
    let mut done = 0;
    loop {
        let batch = match store.take_upstream_revocations(BATCH).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(target: "mcp_oauth::upstream", error = %e, "reading the upstream revocation queue failed");
                return done;
            }
        };
        let n = batch.len();
        futures::future::join_all(batch.iter().map(|k| revoke(upstreams, k, now))).await;
        done += n;
        if n < BATCH as usize {
            return done;
        }
    }
}

/// Revokes one deleted row's tokens at its provider.
async fn revoke(upstreams: &Upstreams, kept: &UpstreamTokens, now: UnixTime) {
    let id = kept.upstream_id.as_str();
    let Some(upstream) = upstreams.get(id) else {
        tracing::info!(target: "mcp_oauth::upstream", upstream = id, "upstream tokens of a block no longer configured: not revoked there");
        return;
    };
    let Ok(tokens) = super::kept::open(upstreams.kek(), kept) else {
        tracing::warn!(target: "mcp_oauth::upstream", upstream = id, "kept upstream tokens do not open: not revoked there");
        return;
    };
    let outcome = match &upstream.resolved.protocol {
        Protocol::Github { api, .. } => {
            // GitHub: `DELETE /applications/{client_id}/token`, Basic with the app's id and
            // secret, the token in a JSON body; `204` when done.
            let Some(secret) = &upstream.config.client_secret else {
                tracing::warn!(target: "mcp_oauth::upstream", upstream = id, "no client secret: the GitHub token is not deleted there");
                return;
            };
            let url = format!(
                "{}/applications/{}/token",
                api.trim_end_matches('/'),
                upstream.config.client_id
            );
            let auth = mcp_oauth_core::basic::encode(&upstream.config.client_id, secret.expose());
            let body = serde_json::json!({"access_token": tokens.access_token.expose()});
            vec![(
                "access_token",
                upstream
                    .fetcher
                    .delete_json_status(&url, &body, &auth, MAX_ANSWER)
                    .await,
                204,
            )]
        }
        Protocol::Oidc { .. } => {
            let Ok(endpoints) = upstream.endpoints(now).await else {
                tracing::warn!(target: "mcp_oauth::upstream", upstream = id, "upstream unreachable: tokens not revoked there");
                return;
            };
            let Some(url) = endpoints.revocation else {
                return;
            };
            let mut pairs = Vec::new();
            if let Some(rt) = &tokens.refresh_token {
                pairs.push((rt.expose(), "refresh_token"));
            }
            pairs.push((tokens.access_token.expose(), "access_token"));
            let mut outcome = Vec::new();
            for (token, hint) in pairs {
                let mut form = vec![("token", token), ("token_type_hint", hint)];
                let auth = upstream.client_auth(&mut form);
                let r = upstream
                    .fetcher
                    .post_form_status(&url, &form, auth.as_deref(), MAX_ANSWER)
                    .await;
                outcome.push((hint, r, 200));
            }
            outcome
        }
    };
    for (hint, result, ok) in outcome {
        match result {
            Ok(status) if status == ok => {
                tracing::info!(target: "mcp_oauth::upstream", upstream = id, token = hint, "upstream token revoked");
            }
            Ok(status) => {
                tracing::warn!(target: "mcp_oauth::upstream", upstream = id, token = hint, status, "upstream revocation refused");
            }
            Err(e) => {
                tracing::warn!(target: "mcp_oauth::upstream", upstream = id, token = hint, error = %e, "upstream revocation failed");
            }
        }
    }
}
