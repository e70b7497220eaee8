//! `mcp-oauth resources add | list | remove`.

use super::{now, store};
use crate::GlobalArgs;
use crate::output::{emit, table};
use anyhow::bail;
use mcp_oauth_server::admin;

#[derive(Debug, clap::Subcommand)]
pub enum ResourcesCommand {
    /// Register a protected resource (an MCP server) by its canonical URI.
    Add {
        /// The canonical resource URI, exactly as clients send it (e.g. https://mcp.example.com/mcp).
        uri: String,
        /// Display name shown on the consent page.
        #[arg(long)]
        name: String,
        /// A scope it offers, as `name=Description` (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List resources.
    List,
    /// Remove a resource.
    Remove {
        /// The resource URI.
        uri: String,
    },
}

pub async fn run(global: &GlobalArgs, cmd: ResourcesCommand) -> anyhow::Result<()> {
    let store = store(global).await?;
    match cmd {
        ResourcesCommand::Add { uri, name, scopes } => {
            let defs = scopes
                .iter()
                .map(|s| admin::parse_scope_def(s))
                .collect::<Result<Vec<_>, _>>()?;
            let r = admin::add_resource(store.as_ref(), &uri, &name, defs, now()).await?;
            emit(global.json, &r, || format!("resource {} registered", r.uri))
        }
        ResourcesCommand::List => {
            let all = store.list_resources().await?;
            emit(global.json, &all, || {
                table(
                    &["URI", "NAME", "SCOPES"],
                    &all.iter()
                        .map(|r| {
                            vec![
                                r.uri.clone(),
                                r.name.clone(),
                                r.scopes
                                    .iter()
                                    .map(|s| s.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(" "),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )
            })
        }
        ResourcesCommand::Remove { uri } => {
            if !store.delete_resource(&uri).await? {
                bail!("resource {uri} not found");
            }
            emit(global.json, &serde_json::json!({"removed": uri}), || {
                format!("resource {uri} removed")
            })
        }
    }
}
