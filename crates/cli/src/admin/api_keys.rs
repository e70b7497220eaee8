//! `mcp-oauth api-keys add | list | revoke`: API keys bound to one resource, a subset of its
//! scopes and an expiry (see `mcp_oauth_server::api_keys`). The key is printed once; the server
//! keeps only its HMAC under a key derived from the KEK, which is why `add` loads the KEK.

use super::{now, store};
use crate::GlobalArgs;
use crate::output::{emit, table, time};
use crate::{data, settings};
use anyhow::Context;
use mcp_oauth_core::ScopeSet;
use mcp_oauth_server::api_keys::{self, NewKey};
use mcp_oauth_server::model::ApiKey;

#[derive(Debug, clap::Subcommand)]
pub enum ApiKeysCommand {
    /// Create a key for one resource. Printed once: keep it now.
    Add {
        /// The resource URI the key is good for (as in `resources list`).
        #[arg(long)]
        resource: String,
        /// The scopes it carries, space-separated: a subset of the resource's.
        #[arg(long)]
        scope: String,
        /// What it is for (shown by `list`).
        #[arg(long)]
        label: String,
        /// The user it acts for (default: a service key of no user).
        #[arg(long)]
        user: Option<String>,
        /// Lifetime in seconds (default 90 days, at most one year).
        #[arg(long, default_value_t = 90 * 24 * 3600)]
        expires_in: i64,
    },
    /// List keys (never the keys themselves), with their last use.
    List {
        /// Only this user's keys.
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a key by id, at once.
    Revoke {
        /// The key id (from `list`).
        id: String,
    },
}

/// The JSON view of a key (no hash).
pub fn view(k: &ApiKey) -> serde_json::Value {
    serde_json::json!({
        "id": k.id,
        "label": k.label,
        "user_id": k.user_id,
        "resource": k.resource,
        "scope": k.scope.to_string(),
        "created_at": k.created_at,
        "expires_at": k.expires_at,
        "last_used_at": k.last_used_at,
        "revoked_at": k.revoked_at,
    })
}

fn state(k: &ApiKey, now: i64) -> &'static str {
    if k.revoked_at.is_some() {
        "revoked"
    } else if k.expires_at <= now {
        "expired"
    } else {
        "active"
    }
}

pub async fn run(global: &GlobalArgs, cmd: ApiKeysCommand) -> anyhow::Result<()> {
    let store = store(global).await?;
    let user_named = async |name: &str| -> anyhow::Result<_> {
        store
            .get_user_by_name(name)
            .await?
            .with_context(|| format!("no user `{name}`"))
    };
    match cmd {
        ApiKeysCommand::Add {
            resource,
            scope,
            label,
            user,
            expires_in,
        } => {
            let res = store
                .get_resource(&resource)
                .await?
                .with_context(|| format!("no resource `{resource}` (see `resources list`)"))?;
            let scope = ScopeSet::parse(&scope)
                .map_err(|e| anyhow::anyhow!("invalid --scope `{scope}`: {e}"))?;
            let user = match &user {
                Some(name) => Some(user_named(name).await?),
                None => None,
            };
            let file = settings::read_file(global.config.as_deref())?.own;
            let dir = data::dir(global.data_dir.as_deref(), file.data_dir.as_deref());
            let hmac = data::load_kek(&dir)?.derive_hmac(api_keys::HMAC_PURPOSE);
            let new = NewKey {
                label: &label,
                user: user.as_ref(),
                resource: &res,
                scope: &scope,
                ttl: expires_in,
            };
            let (record, key) = api_keys::create(store.as_ref(), &hmac, new, now()).await?;
            let mut v = view(&record);
            v["key"] = serde_json::Value::String(key.expose().to_owned());
            emit(global.json, &v, || {
                format!(
                    "id: {}\nkey: {}\n(store the key now: it is kept only as a hash and cannot be shown again;\n send it as `Authorization: Bearer <key>` or in the guard's API-key header)",
                    record.id,
                    key.expose()
                )
            })
        }
        ApiKeysCommand::List { user } => {
            let owner = match &user {
                Some(name) => Some(user_named(name).await?.id),
                None => None,
            };
            let all = store.list_api_keys(owner.as_deref()).await?;
            let views: Vec<_> = all.iter().map(view).collect();
            let t = now();
            emit(global.json, &views, || {
                table(
                    &[
                        "ID",
                        "LABEL",
                        "RESOURCE",
                        "SCOPE",
                        "EXPIRES",
                        "LAST USED",
                        "STATE",
                    ],
                    &all.iter()
                        .map(|k| {
                            vec![
                                k.id.clone(),
                                k.label.clone(),
                                k.resource.clone(),
                                k.scope.to_string(),
                                time(k.expires_at),
                                k.last_used_at.map(time).unwrap_or_else(|| "never".into()),
                                state(k, t).into(),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )
            })
        }
        ApiKeysCommand::Revoke { id } => {
            api_keys::revoke(store.as_ref(), &id, None, now()).await?;
            emit(global.json, &serde_json::json!({"revoked": id}), || {
                format!("API key `{id}` revoked")
            })
        }
    }
}
