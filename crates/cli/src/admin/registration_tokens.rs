//! `mcp-oauth registration-tokens add | list | revoke`: initial access tokens for the `token`
//! registration policy (RFC 7591 §3).

use super::{now, store};
use crate::GlobalArgs;
use crate::output::{emit, table, time};
use mcp_oauth_server::admin;
use mcp_oauth_server::model::RegistrationToken;

#[derive(Debug, clap::Subcommand)]
pub enum RegistrationTokensCommand {
    /// Create a token that lets its holder register clients at /register. Printed once.
    Add {
        /// What it is for (shown by `list`).
        #[arg(long)]
        label: String,
        /// Lifetime in seconds (default: until revoked).
        #[arg(long)]
        expires_in: Option<i64>,
    },
    /// List tokens (never the tokens themselves: only their ids and labels).
    List,
    /// Revoke a token by id. Clients registered with it stay registered.
    Revoke {
        /// The token id (from `list`).
        id: String,
    },
}

fn view(t: &RegistrationToken) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "label": t.label,
        "created_at": t.created_at,
        "expires_at": t.expires_at,
    })
}

pub async fn run(global: &GlobalArgs, cmd: RegistrationTokensCommand) -> anyhow::Result<()> {
    let store = store(global).await?;
    match cmd {
        RegistrationTokensCommand::Add { label, expires_in } => {
            let (record, token) =
                admin::add_registration_token(store.as_ref(), &label, expires_in, now()).await?;
            let mut v = view(&record);
            v["token"] = serde_json::Value::String(token.expose().to_owned());
            emit(global.json, &v, || {
                format!(
                    "id: {}\ntoken: {}\n(store the token now: it is kept only as a hash and cannot be shown again;\n registrants send it as `Authorization: Bearer <token>` to /register)",
                    record.id,
                    token.expose()
                )
            })
        }
        RegistrationTokensCommand::List => {
            let all = store.list_registration_tokens().await?;
            let views: Vec<_> = all.iter().map(view).collect();
            emit(global.json, &views, || {
                table(
                    &["ID", "LABEL", "CREATED", "EXPIRES"],
                    &all.iter()
                        .map(|t| {
                            vec![
                                t.id.clone(),
                                t.label.clone(),
                                time(t.created_at),
                                t.expires_at.map(time).unwrap_or_else(|| "never".into()),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )
            })
        }
        RegistrationTokensCommand::Revoke { id } => {
            admin::revoke_registration_token(store.as_ref(), &id).await?;
            emit(global.json, &serde_json::json!({"revoked": id}), || {
                format!("registration token `{id}` revoked")
            })
        }
    }
}
