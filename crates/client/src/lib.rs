//! `mcp-oauth-client`: the OAuth side of an MCP client.
//!
//! - [`discovery`]: protected resource metadata → authorization server metadata, in the exact
//!   order of the MCP specification, with the 2025-03-26 fallback;
//! - [`registration`]: pre-registered → Client ID Metadata Document → dynamic registration;
//! - [`authorize`], [`callback`], [`prompt`]: authorization code + PKCE S256 through a loopback
//!   redirect, a browser opened without a shell, a pasted URL, or a headless follower;
//! - [`client_credentials`], [`assertion`], [`enterprise`]: machine-to-machine grants;
//! - [`TokenManager`]: valid tokens on demand, refreshed single-flight (across processes too);
//! - [`store`]: memory and 0600 JSON file credential stores, and the OS keychain (feature
//!   `keychain`);
//! - [`AuthorizedClient`]: a `reqwest` wrapper that handles 401 and 403 `insufficient_scope`;
//! - `transport` (feature `rmcp`): the same for rmcp's streamable-HTTP client transport.
//!
//! Every URL a server hands over passes the URL policy of [`fetch`] (https; http only on
//! loopback with an explicit switch), redirects are never followed, requests time out and bodies
//! are bounded. Tokens and secrets are [`Secret`](mcp_oauth_core::secret::Secret)s in memory and
//! never appear in `Debug`, `Display` or logs.
//!
//! ```no_run
//! # async fn demo() -> mcp_oauth_client::Result<()> {
//! use mcp_oauth_client::{AuthorizedClient, ClientConfig, FileStore, TokenManager};
//! use std::sync::Arc;
//!
//! let store = Arc::new(FileStore::new(FileStore::default_path()?));
//! let manager = Arc::new(TokenManager::builder(ClientConfig::new()).store(store).build()?);
//! let client = AuthorizedClient::new(manager, "https://mcp.example.com/mcp")?;
//! let resp = client
//!     .send(|http| {
//!         http.post("https://mcp.example.com/mcp")
//!             .header("MCP-Protocol-Version", "2025-11-25")
//!             .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
//!     })
//!     .await?;
//! # let _ = resp; Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod assertion;
pub mod authorize;
pub mod callback;
pub mod client_credentials;
pub mod config;
pub mod device;
pub mod discovery;
pub mod dpop;
pub mod enterprise;
pub mod error;
pub mod fetch;
pub mod http;
pub mod manager;
pub mod prompt;
pub mod registration;
pub mod store;
pub mod token;
#[cfg(feature = "rmcp")]
pub mod transport;

pub use config::{ClientConfig, GrantMode};
pub use discovery::Discovery;
pub use enterprise::EnterpriseConfig;
pub use error::{Error, Result};
pub use http::AuthorizedClient;
pub use manager::{Revocation, TokenManager, TokenManagerBuilder};
pub use prompt::{AuthorizationPrompt, BrowserPrompt, HeadlessPrompt, ManualPrompt};
pub use registration::{ClientAuth, ClientRegistration};
#[cfg(feature = "keychain")]
pub use store::KeychainStore;
pub use store::{CredentialStore, FileStore, MemoryStore};
