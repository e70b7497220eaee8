//! `mcp-oauth-server`: an OAuth 2.1 authorization server for MCP.

pub mod model;
pub mod store;
