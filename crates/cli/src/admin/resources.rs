//! `mcp-oauth resources add | update | list | remove`.

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
        /// A restricted scope, as `SCOPE=ROLE` (repeatable): only users holding one of its
        /// roles may approve it (e.g. `mcp:admin=admin`).
        #[arg(long = "restrict")]
        restrict: Vec<String>,
    },
    /// Change a resource: name, scopes, restrictions.
    Update {
        /// The resource URI.
        uri: String,
        /// A new display name.
        #[arg(long)]
        name: Option<String>,
        /// Replace the scopes, as `name=Description` (repeatable; restrictions of scopes that
        /// stay are kept).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Restrict a scope to a role, as `SCOPE=ROLE` (repeatable).
        #[arg(long = "restrict")]
        restrict: Vec<String>,
        /// Open a scope to every user again (repeatable).
        #[arg(long = "unrestrict")]
        unrestrict: Vec<String>,
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
        ResourcesCommand::Add {
            uri,
            name,
            scopes,
            restrict,
        } => {
            let mut defs = scopes
                .iter()
                .map(|s| admin::parse_scope_def(s))
                .collect::<Result<Vec<_>, _>>()?;
            admin::roles::restrict(&mut defs, &restrict)?;
            let r = admin::add_resource(store.as_ref(), &uri, &name, defs, now()).await?;
            emit(global.json, &r, || format!("resource {} registered", r.uri))
        }
        ResourcesCommand::Update {
            uri,
            name,
            scopes,
            restrict,
            unrestrict,
        } => {
            let defs = if scopes.is_empty() {
                None
            } else {
                Some(
                    scopes
                        .iter()
                        .map(|s| admin::parse_scope_def(s))
                        .collect::<Result<Vec<_>, _>>()?,
                )
            };
            let r = admin::roles::update_resource(
                store.as_ref(),
                &uri,
                name.as_deref(),
                defs,
                &restrict,
                &unrestrict,
            )
            .await?;
            emit(global.json, &r, || format!("resource {} updated", r.uri))
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
                                    .map(|s| {
                                        if s.roles.is_empty() {
                                            s.name.clone()
                                        } else {
                                            format!("{}({})", s.name, s.roles.join("|"))
                                        }
                                    })
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
