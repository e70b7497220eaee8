//! `mcp-oauth clients add | list | show | remove | rotate-secret`.

use super::{now, store};
use crate::GlobalArgs;
use crate::output::{emit, table, time};
use anyhow::{Context, bail};
use mcp_oauth_core::ScopeSet;
use mcp_oauth_server::admin::{self, NewClient};
use mcp_oauth_server::model::Client;

#[derive(Debug, clap::Subcommand)]
pub enum ClientsCommand {
    /// Register a client. A confidential client's secret is printed once.
    Add {
        /// Display name shown on the consent page.
        #[arg(long)]
        name: String,
        /// A redirect URI (repeatable). Loopback URIs match any port.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// A grant type: authorization_code, refresh_token, client_credentials,
        /// urn:ietf:params:oauth:grant-type:device_code (RFC 8628, sign-in on another device), or
        /// urn:ietf:params:oauth:grant-type:token-exchange for a resource server that exchanges
        /// its users' tokens for their upstream tokens (with --resource) (repeatable).
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// A public client (no secret; PKCE only).
        #[arg(long)]
        public: bool,
        /// Scopes the client may be granted (space-separated; default: any).
        #[arg(long)]
        scope: Option<String>,
        /// Use this client id instead of a random one.
        #[arg(long)]
        client_id: Option<String>,
        /// The client's public keys, a JWK Set file: it authenticates with private_key_jwt
        /// (RFC 7523) instead of a secret.
        #[arg(long, conflicts_with_all = ["jwks_uri", "public"])]
        jwks_file: Option<std::path::PathBuf>,
        /// Where the client publishes its public keys (https): private_key_jwt, no secret.
        #[arg(long, conflicts_with = "public")]
        jwks_uri: Option<String>,
        /// A resource server: it may introspect tokens (RFC 7662) for the `--resource`s it
        /// serves, and only those. Without `--grant` it gets no grant at all.
        #[arg(long, conflicts_with = "public", requires = "resources")]
        introspect: bool,
        /// A resource (registered with `resources add`) this resource server serves
        /// (repeatable; with `--introspect` or the token-exchange grant).
        #[arg(long = "resource")]
        resources: Vec<String>,
    },
    /// List clients.
    List,
    /// Show one client.
    Show {
        /// The client id.
        client_id: String,
    },
    /// Remove a client and everything issued to it.
    Remove {
        /// The client id.
        client_id: String,
    },
    /// Replace a confidential client's secret (printed once).
    RotateSecret {
        /// The client id.
        client_id: String,
        /// Seconds the old secret keeps working (default 0: it stops at once; at most 30 days).
        #[arg(long, default_value_t = 0)]
        overlap: i64,
    },
    /// Disable a client: it cannot sign users in or get or refresh tokens, and its tokens are
    /// inactive at introspection (`enable` undoes it).
    Disable {
        /// The client id.
        client_id: String,
    },
    /// Enable a disabled client again.
    Enable {
        /// The client id.
        client_id: String,
    },
}

async fn set_disabled(
    global: &GlobalArgs,
    store: &std::sync::Arc<dyn mcp_oauth_server::store::Store>,
    client_id: String,
    disabled: bool,
) -> anyhow::Result<()> {
    let c = admin::set_client_disabled(store.as_ref(), &client_id, disabled, now()).await?;
    emit(global.json, &view(&c), || {
        let done = if disabled { "disabled" } else { "enabled" };
        format!("client `{client_id}` {done}")
    })
}

fn view(c: &Client) -> serde_json::Value {
    serde_json::json!({
        "client_id": c.client_id,
        "client_name": c.client_name,
        "origin": c.origin.as_str(),
        "token_endpoint_auth_method": c.token_endpoint_auth_method,
        "redirect_uris": c.redirect_uris,
        "grant_types": c.grant_types,
        "jwks_uri": c.jwks_uri,
        "scope": c.allowed_scopes.as_ref().map(ToString::to_string),
        "introspect_resources": c.introspect_resources,
        "created_at": c.created_at,
        "last_used_at": c.last_used_at,
        "disabled_at": c.disabled_at,
    })
}

pub async fn run(global: &GlobalArgs, cmd: ClientsCommand) -> anyhow::Result<()> {
    let store = store(global).await?;
    match cmd {
        ClientsCommand::Add {
            name,
            redirect_uris,
            grants,
            public,
            scope,
            client_id,
            jwks_file,
            jwks_uri,
            introspect,
            resources,
        } => {
            let exchanges = grants
                .iter()
                .any(|g| g == mcp_oauth_core::token::grant_type::TOKEN_EXCHANGE);
            if !resources.is_empty() && !introspect && !exchanges {
                bail!(
                    "--resource names what a resource server serves: add --introspect or --grant {}",
                    mcp_oauth_core::token::grant_type::TOKEN_EXCHANGE
                );
            }
            let scope = scope.map(|s| ScopeSet::parse(&s)).transpose()?;
            let jwks = match jwks_file {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).with_context(|| {
                        format!("cannot read the JWK Set file {}", path.display())
                    })?;
                    Some(serde_json::from_str(&text).with_context(|| {
                        format!("{} is not JSON (a JWK Set is expected)", path.display())
                    })?)
                }
                None => None,
            };
            let (client, secret) = admin::add_client(
                store.as_ref(),
                NewClient {
                    name,
                    redirect_uris,
                    grant_types: grants,
                    public,
                    scope,
                    client_id,
                    jwks,
                    jwks_uri,
                    introspect_resources: resources,
                },
                now(),
            )
            .await?;
            let mut v = view(&client);
            if let Some(s) = &secret {
                v["client_secret"] = serde_json::Value::String(s.expose().to_owned());
            }
            emit(global.json, &v, || {
                let mut t = format!("client_id: {}", client.client_id);
                if let Some(s) = &secret {
                    t.push_str(&format!(
                        "\nclient_secret: {}\n(store the secret now: it is kept only as a hash and cannot be shown again)",
                        s.expose()
                    ));
                }
                t
            })
        }
        ClientsCommand::List => {
            let all = store.list_clients().await?;
            let views: Vec<_> = all.iter().map(view).collect();
            emit(global.json, &views, || {
                table(
                    &["CLIENT_ID", "NAME", "ORIGIN", "AUTH", "GRANTS", "LAST USED"],
                    &all.iter()
                        .map(|c| {
                            vec![
                                c.client_id.clone(),
                                c.client_name.clone(),
                                c.origin.as_str().to_owned(),
                                c.token_endpoint_auth_method.clone(),
                                c.grant_types.join(","),
                                c.last_used_at.map(time).unwrap_or_else(|| "never".into()),
                            ]
                        })
                        .collect::<Vec<_>>(),
                )
            })
        }
        ClientsCommand::Show { client_id } => {
            let Some(c) = store.get_client(&client_id).await? else {
                bail!("client `{client_id}` not found");
            };
            let v = view(&c);
            emit(global.json, &v, || {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            })
        }
        ClientsCommand::Remove { client_id } => {
            if !admin::remove_client(store.as_ref(), &client_id, now()).await? {
                bail!("client `{client_id}` not found");
            }
            emit(
                global.json,
                &serde_json::json!({"removed": client_id}),
                || format!("client `{client_id}` removed"),
            )
        }
        ClientsCommand::Disable { client_id } => {
            set_disabled(global, &store, client_id, true).await
        }
        ClientsCommand::Enable { client_id } => {
            set_disabled(global, &store, client_id, false).await
        }
        ClientsCommand::RotateSecret { client_id, overlap } => {
            let secret =
                admin::rotate_secret_with_overlap(store.as_ref(), &client_id, overlap, now())
                    .await?;
            let old = if overlap > 0 {
                format!("the old secret works until {}", time(now() + overlap))
            } else {
                "the old secret no longer works".to_owned()
            };
            emit(
                global.json,
                &serde_json::json!({"client_id": client_id, "client_secret": secret.expose(),
                                    "previous_secret_until": (overlap > 0).then(|| now() + overlap)}),
                || format!("client_secret: {}\n({old})", secret.expose()),
            )
        }
    }
}
