//! `mcp-oauth`: serve an OAuth 2.1 authorization server for MCP, administer it, and act as an
//! MCP OAuth client.

mod admin;
mod audit;
mod backup;
mod client_cmd;
mod data;
mod demo;
mod dev_callback;
mod guard;
mod output;
mod serve;
mod settings;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// The OAuth 2.1 stack for the Model Context Protocol.
#[derive(Debug, Parser)]
#[command(name = "mcp-oauth", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Where the server keeps its state (SQLite database, key-encryption key).
    #[arg(long, global = true, env = "MCP_OAUTH_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The database: a `postgres://user:password@host:port/name` URL for PostgreSQL (several
    /// instances share one); unset, SQLite in the data directory.
    #[arg(long, global = true, env = "MCP_OAUTH_DATABASE")]
    pub database: Option<String>,
    /// A TOML configuration file (keys as in docs/configuration.md).
    #[arg(long, global = true, env = "MCP_OAUTH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the authorization server.
    Serve(serve::ServeArgs),
    /// Copy the SQLite database to FILE while the server runs (PostgreSQL: use pg_dump).
    Backup(backup::BackupArgs),
    /// Manage local user accounts.
    #[command(subcommand)]
    Users(admin::users::UsersCommand),
    /// Manage OAuth clients.
    #[command(subcommand)]
    Clients(admin::clients::ClientsCommand),
    /// Manage the protected resources tokens may be issued for.
    #[command(subcommand)]
    Resources(admin::resources::ResourcesCommand),
    /// Inspect and rotate signing keys.
    #[command(subcommand)]
    Keys(admin::keys::KeysCommand),
    /// Manage initial access tokens for `registration = "token"`.
    #[command(subcommand)]
    RegistrationTokens(admin::registration_tokens::RegistrationTokensCommand),
    /// Show the audit trail of security events (logins, consents, clients, revocations, reuse,
    /// keys), newest first.
    Audit(audit::AuditArgs),
    /// Protect an existing MCP server: an OAuth resource-server reverse proxy in front of it.
    Guard(guard::GuardArgs),
    /// Sign in to an MCP server (OAuth authorization code + PKCE in the browser).
    Login(client_cmd::LoginArgs),
    /// Print a valid access token for an MCP server (refreshing it as needed).
    Token(client_cmd::TokenArgs),
    /// Revoke the tokens for an MCP server at its authorization server and forget them.
    Logout(client_cmd::LogoutArgs),
    /// List stored credentials (redacted).
    Status(client_cmd::StatusArgs),
    /// List an MCP server's tools.
    Tools(client_cmd::ToolsArgs),
    /// Call a tool on an MCP server and print the result.
    Call(client_cmd::CallArgs),
}

fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("MCP_OAUTH_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.global.json && matches!(cli.command, Command::Serve(_)));
    let result = match cli.command {
        Command::Serve(args) => serve::run(&cli.global, args).await,
        Command::Backup(args) => backup::run(&cli.global, args).await,
        Command::Users(c) => admin::users::run(&cli.global, c).await,
        Command::Clients(c) => admin::clients::run(&cli.global, c).await,
        Command::Resources(c) => admin::resources::run(&cli.global, c).await,
        Command::Keys(c) => admin::keys::run(&cli.global, c).await,
        Command::RegistrationTokens(c) => admin::registration_tokens::run(&cli.global, c).await,
        Command::Audit(a) => audit::run(&cli.global, a).await,
        Command::Guard(a) => guard::run(a).await,
        Command::Login(a) => client_cmd::login(&cli.global, a).await,
        Command::Token(a) => client_cmd::token(&cli.global, a).await,
        Command::Logout(a) => client_cmd::logout(&cli.global, a).await,
        Command::Status(a) => client_cmd::status(&cli.global, a).await,
        Command::Tools(a) => client_cmd::tools(&cli.global, a).await,
        Command::Call(a) => client_cmd::call(&cli.global, a).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if cli.global.json {
                let body = serde_json::json!({ "error": format!("{e:#}") });
                println!("{body}");
            } else {
                eprintln!("error: {e:#}");
            }
            ExitCode::FAILURE
        }
    }
}
