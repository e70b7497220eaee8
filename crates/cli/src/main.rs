//! `mcp-oauth`: serve an OAuth 2.1 authorization server for MCP, administer it, and act as an
//! MCP OAuth client.

mod admin;
mod audit;
mod backup;
mod client_cmd;
mod data;
mod demo;
mod dev_callback;
mod doctor;
mod guard;
mod init;
mod logging;
mod output;
mod serve;
mod settings;
mod signal;

use clap::{CommandFactory, FromArgMatches, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// The OAuth 2.1 stack for the Model Context Protocol.
#[derive(Debug, clap::Parser)]
#[command(name = "mcp-oauth", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    output: OutputArgs,
    /// The server state options are also accepted before the command
    /// (`mcp-oauth --data-dir DIR serve`), as they always were.
    #[command(flatten)]
    state: TopStateArgs,
    #[command(subcommand)]
    command: Command,
}

/// How much every command prints.
#[derive(Debug, Clone, clap::Args)]
struct OutputArgs {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Say more: `-v` shows the cause of an error and the library's info lines, `-vv` debug.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Print only results and errors (no progress, no notes).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
}

/// Where the server's state is: for `serve`, `backup`, `audit` and the admin commands only.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StateArgs {
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
}

/// [`StateArgs`] before the command name (not propagated, so client commands never list them).
#[derive(Debug, Clone, Default, clap::Args)]
struct TopStateArgs {
    /// Where the server keeps its state (server and admin commands).
    #[arg(long = "data-dir", id = "top_data_dir", value_name = "DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The database URL (server and admin commands).
    #[arg(long = "database", id = "top_database", value_name = "DATABASE")]
    database: Option<String>,
    /// A TOML configuration file (server and admin commands).
    #[arg(long = "config", id = "top_config", value_name = "CONFIG")]
    config: Option<PathBuf>,
}

/// What a command is given: the state options (server and admin commands), the output options.
#[derive(Debug, Clone, Default)]
pub struct GlobalArgs {
    /// `--data-dir` / `MCP_OAUTH_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
    /// `--database` / `MCP_OAUTH_DATABASE`.
    pub database: Option<String>,
    /// `--config` / `MCP_OAUTH_CONFIG`.
    pub config: Option<PathBuf>,
    /// `--json`.
    pub json: bool,
    /// `-v` count.
    pub verbose: u8,
    /// `-q`.
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the authorization server.
    Serve {
        #[command(flatten)]
        state: StateArgs,
        #[command(flatten)]
        args: serve::ServeArgs,
    },
    /// Copy the SQLite database to FILE while the server runs (PostgreSQL: use pg_dump).
    Backup {
        #[command(flatten)]
        state: StateArgs,
        #[command(flatten)]
        args: backup::BackupArgs,
    },
    /// Manage local user accounts.
    Users {
        #[command(flatten)]
        state: StateArgs,
        #[command(subcommand)]
        cmd: admin::users::UsersCommand,
    },
    /// Manage OAuth clients.
    Clients {
        #[command(flatten)]
        state: StateArgs,
        #[command(subcommand)]
        cmd: admin::clients::ClientsCommand,
    },
    /// Manage the protected resources tokens may be issued for.
    Resources {
        #[command(flatten)]
        state: StateArgs,
        #[command(subcommand)]
        cmd: admin::resources::ResourcesCommand,
    },
    /// Inspect and rotate signing keys.
    Keys {
        #[command(flatten)]
        state: StateArgs,
        #[command(subcommand)]
        cmd: admin::keys::KeysCommand,
    },
    /// Manage initial access tokens for `registration = "token"`.
    RegistrationTokens {
        #[command(flatten)]
        state: StateArgs,
        #[command(subcommand)]
        cmd: admin::registration_tokens::RegistrationTokensCommand,
    },
    /// Manage API keys: bound to one resource, a subset of its scopes and an expiry.
    ApiKeys {
        #[command(flatten)]
        state: StateArgs,
        #[command(subcommand)]
        cmd: admin::api_keys::ApiKeysCommand,
    },
    /// Show the audit trail of security events (logins, consents, clients, revocations, reuse,
    /// keys), newest first.
    Audit {
        #[command(flatten)]
        state: StateArgs,
        #[command(flatten)]
        args: audit::AuditArgs,
    },
    /// Protect an existing MCP server: an OAuth resource-server reverse proxy in front of it.
    Guard(Box<guard::GuardArgs>),
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
    /// Diagnose an MCP server's authorization: every link a client walks, what is wrong, how to
    /// fix it (exit status 1 when something is wrong).
    Doctor(doctor::DoctorArgs),
    /// Start a new project: a Rust MCP server protected by OAuth (default), or `--template
    /// guard` to run `mcp-oauth guard` in front of a server in any language.
    Init(init::InitArgs),
}

impl Command {
    /// The state options given after the command name, for the commands that take them.
    fn state(&self) -> Option<&StateArgs> {
        match self {
            Self::Serve { state, .. }
            | Self::Backup { state, .. }
            | Self::Users { state, .. }
            | Self::Clients { state, .. }
            | Self::Resources { state, .. }
            | Self::Keys { state, .. }
            | Self::RegistrationTokens { state, .. }
            | Self::ApiKeys { state, .. }
            | Self::Audit { state, .. } => Some(state),
            _ => None,
        }
    }

    /// Whether this command runs a server whose log lines are its output.
    fn is_server(&self) -> bool {
        matches!(self, Self::Serve { .. } | Self::Guard(_))
    }
}

/// Parses the command line; an unknown flag that was renamed gets a hint naming the new one.
fn parse() -> Cli {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => output::exit_with_hint(e),
    };
    match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    }
}

/// mimalloc instead of glibc's malloc: a profile of the demo at 1 024 connections spent ~27% of
/// the server's CPU in glibc's allocator (`_int_malloc`, `malloc_consolidate`, `unlink_chunk`:
/// fragmentation under many requests in flight); see bench/notes.md.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = parse();
    let state = cli.command.state().cloned().unwrap_or_default();
    let global = GlobalArgs {
        data_dir: state.data_dir.or(cli.state.data_dir),
        database: state.database.or(cli.state.database),
        config: state.config.or(cli.state.config),
        json: cli.output.json,
        verbose: cli.output.verbose,
        quiet: cli.output.quiet,
    };
    logging::init(&logging::Options {
        server: cli.command.is_server(),
        json_lines: global.json && matches!(cli.command, Command::Serve { .. }),
        verbose: global.verbose,
        quiet: global.quiet,
    });
    output::set_quiet(global.quiet);
    let result = match cli.command {
        Command::Serve { args, .. } => serve::run(&global, args).await,
        Command::Backup { args, .. } => backup::run(&global, args).await,
        Command::Users { cmd, .. } => admin::users::run(&global, cmd).await,
        Command::Clients { cmd, .. } => admin::clients::run(&global, cmd).await,
        Command::Resources { cmd, .. } => admin::resources::run(&global, cmd).await,
        Command::Keys { cmd, .. } => admin::keys::run(&global, cmd).await,
        Command::RegistrationTokens { cmd, .. } => {
            admin::registration_tokens::run(&global, cmd).await
        }
        Command::ApiKeys { cmd, .. } => admin::api_keys::run(&global, cmd).await,
        Command::Audit { args, .. } => audit::run(&global, args).await,
        Command::Guard(a) => guard::run(*a, global.config.clone()).await,
        Command::Login(a) => client_cmd::login(&global, a).await,
        Command::Token(a) => client_cmd::token(&global, a).await,
        Command::Logout(a) => client_cmd::logout(&global, a).await,
        Command::Status(a) => client_cmd::status(&global, a).await,
        Command::Tools(a) => client_cmd::tools(&global, a).await,
        Command::Call(a) => client_cmd::call(&global, a).await,
        Command::Doctor(a) => doctor::run(&global, a).await,
        Command::Init(a) => init::run(&global, a).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::print_error(&e, global.json, global.verbose > 0);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }
}
