//! DPoP services of the authorization server (RFC 9449): the server nonces, shared by every
//! instance as MACs under a key derived from the KEK, so any instance accepts a nonce another one
//! issued (`mcp_oauth_core::dpop::nonce`). Single use of proof `jti`s is [`crate::replay`] (the
//! database, or Redis). The request-level check of a proof at `/token` is `handlers/dpop.rs`;
//! the proof rules themselves are `mcp_oauth_core::dpop`.

pub use mcp_oauth_core::dpop::nonce::NonceKey;
