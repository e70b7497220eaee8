//! `mcp-oauth users add | list | remove | passwd | role`.

use super::{now, store};
use crate::GlobalArgs;
use crate::output::{emit, table, time};
use anyhow::{Context, bail};
use mcp_oauth_core::secret::Secret;
use mcp_oauth_server::admin;
use std::io::BufRead;

#[derive(Debug, clap::Subcommand)]
pub enum UsersCommand {
    /// Create a user (the password is prompted for, or read from stdin).
    Add {
        /// Login name.
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// A role (repeatable): restricted scopes need one (`resources add --restrict`).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Add or remove roles of a user (applies to authorizations from now on; revoke grants
    /// to take a scope back at once).
    Role {
        /// Login name.
        username: String,
        /// A role to add (repeatable).
        #[arg(long = "add")]
        add: Vec<String>,
        /// A role to remove (repeatable).
        #[arg(long = "remove")]
        remove: Vec<String>,
    },
    /// List users.
    List,
    /// Remove a user with their sessions, consents and grants.
    Remove {
        /// Login name.
        username: String,
    },
    /// Disable a user: no sign-in, no refresh, tokens inactive at introspection, sessions ended.
    Disable {
        /// Login name.
        username: String,
    },
    /// Enable a disabled user again.
    Enable {
        /// Login name.
        username: String,
    },
    /// Set a new password.
    Passwd {
        /// Login name.
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

fn read_password(from_stdin: bool) -> anyhow::Result<Secret> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let pw = line.trim_end_matches(['\r', '\n']).to_owned();
        return Ok(Secret::new(pw));
    }
    let a = rpassword::prompt_password("Password: ")
        .context("cannot read the password (use --password-stdin)")?;
    let b = rpassword::prompt_password("Repeat: ")?;
    if a != b {
        bail!("the passwords differ");
    }
    Ok(Secret::new(a))
}

pub async fn run(global: &GlobalArgs, cmd: UsersCommand) -> anyhow::Result<()> {
    let store = store(global).await?;
    match cmd {
        UsersCommand::Add {
            username,
            password_stdin,
            roles,
        } => {
            admin::validate_username(&username)?;
            admin::roles::normalize(&roles)?;
            let pw = read_password(password_stdin)?;
            let user =
                admin::add_user_with_roles(store.as_ref(), &username, pw, &roles, now()).await?;
            emit(
                global.json,
                &serde_json::json!({"id": user.id, "username": user.username, "roles": user.roles, "created_at": user.created_at}),
                || format!("user `{}` created (id {})", user.username, user.id),
            )
        }
        UsersCommand::Role {
            username,
            add,
            remove,
        } => {
            if add.is_empty() && remove.is_empty() {
                bail!("name a role to --add or --remove");
            }
            let user =
                admin::roles::change_user_roles(store.as_ref(), &username, &add, &remove).await?;
            emit(
                global.json,
                &serde_json::json!({"username": user.username, "roles": user.roles}),
                || {
                    format!(
                        "roles of `{}`: {}",
                        user.username,
                        if user.roles.is_empty() {
                            "none".to_owned()
                        } else {
                            user.roles.join(", ")
                        }
                    )
                },
            )
        }
        UsersCommand::List => {
            let users = store.list_users().await?;
            // Where each account comes from: `local` (a password here), or the upstream
            // accounts linked to it (`upstream:subject`).
            let mut sources: std::collections::HashMap<String, Vec<String>> = Default::default();
            for l in store.list_upstream_links().await? {
                sources
                    .entry(l.user_id.clone())
                    .or_default()
                    .push(format!("{}:{}", l.upstream_id, l.subject));
            }
            let source = |u: &mcp_oauth_server::model::User| -> Vec<String> {
                sources
                    .get(&u.id)
                    .cloned()
                    .unwrap_or_else(|| vec!["local".to_owned()])
            };
            let rows: Vec<serde_json::Value> = users
                .iter()
                .map(|u| serde_json::json!({"id": u.id, "username": u.username, "roles": u.roles, "source": source(u), "created_at": u.created_at}))
                .collect();
            emit(global.json, &rows, || {
                table(
                    &["USERNAME", "ID", "ROLES", "SOURCE", "CREATED"],
                    &users
                        .iter()
                        .map(|u| {
                            vec![
                                u.username.clone(),
                                u.id.clone(),
                                u.roles.join(","),
                                source(u).join(","),
                                time(u.created_at),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )
            })
        }
        UsersCommand::Remove { username } => {
            if !store.delete_user(&username).await? {
                bail!("user `{username}` not found");
            }
            emit(
                global.json,
                &serde_json::json!({"removed": username}),
                || format!("user `{username}` removed"),
            )
        }
        UsersCommand::Disable { username } => toggle(global, store.as_ref(), &username, true).await,
        UsersCommand::Enable { username } => toggle(global, store.as_ref(), &username, false).await,
        UsersCommand::Passwd {
            username,
            password_stdin,
        } => {
            if store.get_user_by_name(&username).await?.is_none() {
                bail!("user `{username}` not found");
            }
            let pw = read_password(password_stdin)?;
            admin::set_password(store.as_ref(), &username, pw).await?;
            emit(
                global.json,
                &serde_json::json!({"updated": username}),
                || format!("password of `{username}` changed"),
            )
        }
    }
}

async fn toggle(
    global: &GlobalArgs,
    store: &dyn mcp_oauth_server::store::Store,
    username: &str,
    disabled: bool,
) -> anyhow::Result<()> {
    let u = admin::set_user_disabled(store, username, disabled, now()).await?;
    let done = if disabled { "disabled" } else { "enabled" };
    emit(
        global.json,
        &serde_json::json!({"username": u.username, "disabled_at": u.disabled_at}),
        || format!("user `{username}` {done}"),
    )
}
