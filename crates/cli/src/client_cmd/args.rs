//! The options of the client commands: each command lists only what it uses (no server
//! options; `logout` and `status` no sign-in options).

use std::path::PathBuf;

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

/// Where tokens and registrations are kept.
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
    /// A pre-registered client id (otherwise CIMD or dynamic registration is used); only tokens
    /// of this client are used.
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
    /// Timeout of each HTTP request to the servers, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub request_timeout: u64,
}

/// Options of the commands that may have to obtain a token.
#[derive(Debug, Clone, clap::Args)]
pub struct SignInArgs {
    /// Scope to request instead of the one the server challenges for (else its
    /// `scopes_supported`); more is asked for by step-up when a call needs it.
    #[arg(long)]
    pub scope: Option<String>,
    /// This client's Client ID Metadata Document URL (used when the server supports CIMD).
    #[arg(long, value_name = "URL")]
    pub client_metadata_url: Option<String>,
    /// Print the authorization URL and read the redirect URL pasted on stdin instead of opening
    /// a browser (works without a terminal too).
    #[arg(long)]
    pub no_browser: bool,
    /// Machine to machine: the client credentials grant (needs --client-id and a secret or key).
    #[arg(long, requires = "client_id")]
    pub client_credentials: bool,
    /// How long to wait for you to finish signing in, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub timeout: u64,
    /// Bind the token to a key kept with it in the credential store (DPoP, RFC 9449), when the
    /// server supports it: a stolen token is then useless without the key. `tools` and `call`
    /// prove the key on every request; the token no longer works as a bearer token elsewhere.
    #[arg(long)]
    pub dpop: bool,
    /// Sign in on another device (the device authorization grant, RFC 8628): print a page and a
    /// code to enter there, then wait. For machines without a browser (SSH, containers).
    #[arg(long, conflicts_with_all = ["no_browser", "client_credentials"])]
    pub device: bool,
}

/// `mcp-oauth login URL`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The MCP server URL.
    pub url: String,
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(flatten)]
    pub sign_in: SignInArgs,
}

/// `mcp-oauth token URL`.
#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// The MCP server URL.
    pub url: String,
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(flatten)]
    pub sign_in: SignInArgs,
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
    #[command(flatten)]
    pub sign_in: SignInArgs,
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
    #[command(flatten)]
    pub sign_in: SignInArgs,
}
