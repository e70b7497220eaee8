//! The MCP OAuth client commands: `login`, `token`, `logout`, `status`, `tools`, `call`.
//!
//! Credentials live in a [`FileStore`] in the platform config directory (0600, atomic rename)
//! unless `--store memory`, `--store keychain` (the OS keychain: Secret Service, macOS Keychain,
//! Windows Credential Manager) or `--credentials FILE` says otherwise. Nothing secret is printed,
//! except the access token `token` is asked to print.

mod prompt;

use crate::GlobalArgs;
use crate::output::{emit, table, time};
use anyhow::{Context, bail};
use mcp_oauth_client::assertion::load_private_key_file;
use mcp_oauth_client::transport::OAuthHttpClient;
use mcp_oauth_client::{
    ClientAuth, ClientConfig, ClientRegistration, CredentialStore, FileStore, GrantMode,
    KeychainStore, ManualPrompt, MemoryStore, TokenManager,
};
use mcp_oauth_core::secret::Secret;
use mcp_oauth_core::uri::{UriParts, is_loopback_host};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where credentials are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// A 0600 JSON file (default: the platform config directory).
    File,
    /// In memory, forgotten when the command ends.
    Memory,
    /// The OS keychain: Secret Service (gnome-keyring, KeePassXC, KWallet) on Linux, Keychain on
    /// macOS, Credential Manager on Windows. Encrypted at rest by the keychain; lock files in the
    /// config directory.
    Keychain,
}

/// Options shared by the client commands.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Where tokens and registrations are kept.
    #[arg(long, value_enum, default_value = "file")]
    pub store: StoreKind,
    /// The credentials file (default: $XDG_CONFIG_HOME/mcp-oauth/credentials.json); with
    /// `--store keychain`, its directory holds the keychain's lock files.
    #[arg(long, env = "MCP_OAUTH_CREDENTIALS", value_name = "FILE")]
    pub credentials: Option<PathBuf>,
}

/// Options of the commands that talk to a server.
#[derive(Debug, Clone, clap::Args)]
pub struct ConnectArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Allow plain http on loopback addresses (automatic when the server URL is a loopback http URL).
    #[arg(long)]
    pub insecure_http: bool,
    /// Scope to request instead of the one the server challenges for or advertises.
    #[arg(long)]
    pub scope: Option<String>,
    /// A pre-registered client id (otherwise CIMD or dynamic registration is used).
    #[arg(long)]
    pub client_id: Option<String>,
    /// The name of an environment variable holding the client secret.
    #[arg(long, value_name = "VAR", requires = "client_id")]
    pub client_secret_env: Option<String>,
    /// A PKCS#8 PEM private key for private_key_jwt client authentication.
    #[arg(
        long,
        value_name = "FILE",
        requires = "client_id",
        conflicts_with = "client_secret_env"
    )]
    pub private_key: Option<PathBuf>,
    /// This client's Client ID Metadata Document URL (used when the server supports CIMD).
    #[arg(long, value_name = "URL")]
    pub client_metadata_url: Option<String>,
    /// Print the authorization URL and accept the pasted redirect instead of opening a browser.
    #[arg(long)]
    pub no_browser: bool,
    /// Machine to machine: the client credentials grant (needs --client-id and a secret or key).
    #[arg(long, requires = "client_id")]
    pub client_credentials: bool,
    /// Timeout of each OAuth request, in seconds.
    #[arg(long, default_value_t = 10)]
    pub timeout: u64,
}

/// `mcp-oauth login URL`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The MCP server URL.
    pub url: String,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// `mcp-oauth token URL`.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// The MCP server URL.
    pub url: String,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// `mcp-oauth logout URL`.
#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// The MCP server URL.
    pub url: String,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// `mcp-oauth status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `mcp-oauth tools URL`.
#[derive(Debug, clap::Args)]
pub struct ToolsArgs {
    /// The MCP server URL.
    pub url: String,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// `mcp-oauth call URL TOOL --args '{…}'`.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// The MCP server URL.
    pub url: String,
    /// The tool name.
    pub tool: String,
    /// The arguments, a JSON object.
    #[arg(long, default_value = "{}")]
    pub args: String,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

fn open_store(args: &StoreArgs) -> anyhow::Result<Arc<dyn CredentialStore>> {
    Ok(match args.store {
        StoreKind::Memory => Arc::new(MemoryStore::new()),
        StoreKind::File => {
            let path = match &args.credentials {
                Some(p) => p.clone(),
                None => FileStore::default_path()?,
            };
            Arc::new(FileStore::new(path))
        }
        StoreKind::Keychain => {
            let lock_dir = match &args.credentials {
                Some(p) => p
                    .parent()
                    .map(std::path::Path::to_path_buf)
                    .unwrap_or_default(),
                None => KeychainStore::default_lock_dir()?,
            };
            Arc::new(KeychainStore::new(lock_dir))
        }
    })
}

fn is_loopback_http(url: &str) -> bool {
    UriParts::split(url)
        .is_some_and(|p| p.scheme.eq_ignore_ascii_case("http") && is_loopback_host(p.host()))
}

fn client_auth(args: &ConnectArgs) -> anyhow::Result<ClientAuth> {
    if let Some(var) = &args.client_secret_env {
        let secret = std::env::var(var).with_context(|| {
            format!("--client-secret-env: environment variable {var} is not set")
        })?;
        return Ok(ClientAuth::Secret(Secret::new(secret)));
    }
    if let Some(path) = &args.private_key {
        let key = load_private_key_file(path, None)
            .with_context(|| format!("--private-key {}", path.display()))?;
        return Ok(ClientAuth::PrivateKeyJwt(Arc::new(key)));
    }
    Ok(ClientAuth::None)
}

/// The grant the flags ask for.
fn grant(args: &ConnectArgs) -> anyhow::Result<GrantMode> {
    if !args.client_credentials {
        return Ok(GrantMode::AuthorizationCode);
    }
    if args.client_secret_env.is_none() && args.private_key.is_none() {
        bail!("--client-credentials needs --client-secret-env VAR or --private-key FILE");
    }
    Ok(GrantMode::ClientCredentials)
}

/// Builds the token manager for `url` from the flags.
fn manager(url: &str, args: &ConnectArgs) -> anyhow::Result<Arc<TokenManager>> {
    let grant = grant(args)?;
    let mut config = ClientConfig::new()
        .allow_insecure_http(args.insecure_http || is_loopback_http(url))
        .timeout(Duration::from_secs(args.timeout.max(1)))
        .grant(grant);
    if let Some(s) = &args.scope {
        config = config.scope(s.clone());
    }
    if let Some(id) = &args.client_id {
        config = config.pre_registered(ClientRegistration::pre_registered(
            id.clone(),
            client_auth(args)?,
        ));
    }
    if let Some(u) = &args.client_metadata_url {
        config = config.client_metadata_document_url(u.clone());
    }
    let prompt: Arc<dyn mcp_oauth_client::AuthorizationPrompt> = if args.no_browser {
        Arc::new(ManualPrompt)
    } else {
        Arc::new(prompt::SpinnerPrompt)
    };
    Ok(Arc::new(
        TokenManager::builder(config)
            .store(open_store(&args.store)?)
            .prompt(prompt)
            .build()?,
    ))
}

/// A redacted view of what is stored for `url`.
async fn stored_view(manager: &TokenManager, url: &str) -> anyhow::Result<serde_json::Value> {
    let tokens = manager.store().tokens_for_server(url).await?;
    let Some((key, tok)) = tokens.into_iter().max_by_key(|(_, t)| t.obtained_at) else {
        bail!("no token is stored for {url}");
    };
    Ok(json!({
        "server_url": tok.server_url,
        "issuer": key.issuer,
        "resource": key.resource,
        "client_id": key.client_id,
        "scope": tok.scope,
        "expires_at": tok.expires_at,
        "refreshable": tok.refresh_token.is_some(),
    }))
}

/// `login`.
pub async fn login(global: &GlobalArgs, args: LoginArgs) -> anyhow::Result<()> {
    let m = manager(&args.url, &args.connect)?;
    m.login(&args.url).await?;
    let view = stored_view(&m, &args.url).await?;
    emit(global.json, &view, || {
        format!(
            "Logged in to {} (authorization server {}, scope {}, {}).",
            args.url,
            view["issuer"].as_str().unwrap_or("?"),
            view["scope"].as_str().unwrap_or("(none)"),
            view["expires_at"]
                .as_i64()
                .map(|t| format!("access token valid until {}", time(t)))
                .unwrap_or_else(|| "no expiry given".to_owned()),
        )
    })
}

/// `token`: prints a valid access token.
pub async fn token(global: &GlobalArgs, args: TokenArgs) -> anyhow::Result<()> {
    let m = manager(&args.url, &args.connect)?;
    let token = m.bearer_token(&args.url).await?;
    if global.json {
        let mut view = stored_view(&m, &args.url).await?;
        view["access_token"] = json!(token);
        println!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        println!("{token}");
    }
    Ok(())
}

/// `logout`: revokes at the AS and forgets.
pub async fn logout(global: &GlobalArgs, args: LogoutArgs) -> anyhow::Result<()> {
    let m = manager(&args.url, &args.connect)?;
    let results = m.revoke_and_forget(&args.url).await?;
    let views: Vec<_> = results
        .iter()
        .map(|r| {
            json!({
                "issuer": r.key.issuer,
                "resource": r.key.resource,
                "client_id": r.key.client_id,
                "revoked": matches!(r.outcome, Ok(true)),
                "error": r.outcome.as_ref().err(),
            })
        })
        .collect();
    emit(
        global.json,
        &json!({"server_url": args.url, "forgotten": views}),
        || {
            if results.is_empty() {
                return format!("Nothing was stored for {}.", args.url);
            }
            results
                .iter()
                .map(|r| match &r.outcome {
                    Ok(true) => format!("Revoked and forgot the token from {}.", r.key.issuer),
                    Ok(false) => format!(
                        "Forgot the token from {} (it has no revocation endpoint).",
                        r.key.issuer
                    ),
                    Err(e) => format!(
                        "Forgot the token from {}; revocation failed: {e}",
                        r.key.issuer
                    ),
                })
                .collect::<Vec<_>>()
                .join("\n")
        },
    )
}

/// `status`: stored credentials, redacted.
pub async fn status(global: &GlobalArgs, args: StatusArgs) -> anyhow::Result<()> {
    let store = open_store(&args.store)?;
    let now = mcp_oauth_core::clock::Clock::now(&mcp_oauth_core::clock::SystemClock);
    let mut tokens = store.all_tokens().await?;
    tokens.sort_by(|a, b| a.1.server_url.cmp(&b.1.server_url));
    let regs = store.all_registrations().await?;
    let token_views: Vec<_> = tokens
        .iter()
        .map(|(k, t)| {
            json!({
                "server_url": t.server_url,
                "issuer": k.issuer,
                "resource": k.resource,
                "client_id": k.client_id,
                "scope": t.scope,
                "expires_at": t.expires_at,
                "expired": t.expires_at.is_some_and(|e| e <= now),
                "refreshable": t.refresh_token.is_some(),
                "access_token": "[redacted]",
            })
        })
        .collect();
    let reg_views: Vec<_> = regs
        .iter()
        .map(|r| {
            json!({
                "issuer": r.issuer,
                "client_id": r.client_id,
                "token_endpoint_auth_method": r.token_endpoint_auth_method,
                "has_secret": r.client_secret.is_some(),
            })
        })
        .collect();
    emit(
        global.json,
        &json!({"tokens": token_views, "registrations": reg_views}),
        || {
            if tokens.is_empty() {
                return "No stored credentials.".to_owned();
            }
            table(
                &["SERVER", "ISSUER", "CLIENT", "SCOPE", "EXPIRES", "REFRESH"],
                &tokens
                    .iter()
                    .map(|(k, t)| {
                        vec![
                            t.server_url.clone(),
                            k.issuer.clone(),
                            k.client_id.clone(),
                            t.scope.clone().unwrap_or_default(),
                            t.expires_at.map(time).unwrap_or_else(|| "-".into()),
                            if t.refresh_token.is_some() {
                                "yes"
                            } else {
                                "no"
                            }
                            .to_owned(),
                        ]
                    })
                    .collect::<Vec<_>>(),
            )
        },
    )
}

async fn connect(
    url: &str,
    args: &ConnectArgs,
) -> anyhow::Result<rmcp::service::RunningService<rmcp::RoleClient, ()>> {
    let m = manager(url, args)?;
    let transport = OAuthHttpClient::new(m, url)?.into_transport();
    ().serve(transport)
        .await
        .with_context(|| format!("connecting to the MCP server {url}"))
}

/// `tools`: lists the server's tools.
pub async fn tools(global: &GlobalArgs, args: ToolsArgs) -> anyhow::Result<()> {
    let client = connect(&args.url, &args.connect).await?;
    let tools = client.list_all_tools().await;
    let _ = client.cancel().await;
    let tools = tools.context("tools/list")?;
    emit(global.json, &tools, || {
        table(
            &["TOOL", "DESCRIPTION"],
            &tools
                .iter()
                .map(|t| {
                    vec![
                        t.name.to_string(),
                        t.description.as_deref().unwrap_or_default().to_owned(),
                    ]
                })
                .collect::<Vec<_>>(),
        )
    })
}

/// `call`: calls one tool and prints the result.
pub async fn call(global: &GlobalArgs, args: CallArgs) -> anyhow::Result<()> {
    let arguments: serde_json::Value =
        serde_json::from_str(&args.args).context("--args is not valid JSON")?;
    let serde_json::Value::Object(arguments) = arguments else {
        bail!("--args must be a JSON object");
    };
    let client = connect(&args.url, &args.connect).await?;
    let result = client
        .call_tool(CallToolRequestParams::new(args.tool.clone()).with_arguments(arguments))
        .await;
    let _ = client.cancel().await;
    let result = result.with_context(|| format!("tools/call {}", args.tool))?;
    emit(global.json, &result, || {
        let mut parts: Vec<String> = result
            .content
            .iter()
            .map(|c| match c.as_text() {
                Some(t) => t.text.clone(),
                None => serde_json::to_string(c).unwrap_or_default(),
            })
            .collect();
        if parts.is_empty()
            && let Some(s) = &result.structured_content
        {
            parts.push(s.to_string());
        }
        parts.join("\n")
    })?;
    if result.is_error == Some(true) {
        bail!("the tool reported an error");
    }
    Ok(())
}
