//! `mcp-oauth keys list | rotate`.

use super::{now, store};
use crate::GlobalArgs;
use crate::output::{emit, table, time};
use crate::{data, settings};
use mcp_oauth_server::keys::KeyManager;
use std::sync::Arc;

#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// List signing keys.
    List,
    /// Create the next signing key. It is published at once and signs after --prepublish
    /// seconds, so resource servers have fetched it before the first token it signs; the
    /// current key then retires (and stays published until its tokens have expired).
    Rotate {
        /// Seconds between publication and first use (default: one access-token lifetime).
        #[arg(long, default_value_t = 900)]
        prepublish: i64,
        /// Algorithm of the new key: ES256, EdDSA, RS256 or PS256.
        #[arg(long, default_value = "ES256")]
        alg: String,
    },
}

pub async fn run(global: &GlobalArgs, cmd: KeysCommand) -> anyhow::Result<()> {
    let store = store(global).await?;
    match cmd {
        KeysCommand::List => {
            let keys = store.list_keys().await?;
            let views: Vec<_> = keys
                .iter()
                .map(|k| serde_json::json!({"kid": k.kid, "alg": k.alg, "created_at": k.created_at, "activates_at": k.activates_at, "retires_at": k.retires_at}))
                .collect();
            emit(global.json, &views, || {
                table(
                    &["KID", "ALG", "PUBLISHED", "SIGNS FROM", "RETIRES"],
                    &keys
                        .iter()
                        .map(|k| {
                            vec![
                                k.kid.clone(),
                                k.alg.clone(),
                                time(k.created_at),
                                time(k.activates_at),
                                k.retires_at.map(time).unwrap_or_else(|| "-".into()),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )
            })
        }
        KeysCommand::Rotate { prepublish, alg } => {
            let alg = mcp_oauth_core::jose::parse_signing_algorithm(&alg)
                .ok_or_else(|| anyhow::anyhow!("`{alg}` is not ES256, EdDSA, RS256 or PS256"))?;
            let file = settings::read_file(global.config.as_deref())?.own;
            let dir = data::dir(global.data_dir.as_deref(), file.data_dir.as_deref());
            let kek = Arc::new(data::load_kek(&dir)?);
            let manager = KeyManager::load(store.clone(), kek, alg, now()).await?;
            let kid = manager.rotate(now(), prepublish).await?;
            emit(
                global.json,
                &serde_json::json!({"kid": kid, "signs_from": now() + prepublish}),
                || {
                    format!(
                        "new key {kid} published; it signs from {}",
                        time(now() + prepublish)
                    )
                },
            )
        }
    }
}
