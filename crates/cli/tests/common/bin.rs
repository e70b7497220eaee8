//! The `mcp-oauth` binary under test.

/// The binary this build made, or the one `MCP_OAUTH_TEST_BIN` names: an older build, to show that
/// a test fails before the fix it pins (docs/security.md, "Regression proof").
pub fn mcp_oauth() -> String {
    std::env::var("MCP_OAUTH_TEST_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mcp-oauth").to_owned())
}
