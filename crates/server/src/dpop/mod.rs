//! DPoP services of the authorization server (RFC 9449): the replay store of proof `jti`s and
//! the server nonces. Both are shared by every instance on one database: the replay store is the
//! database itself, and the nonces are MACs under a key derived from the KEK, so any instance
//! accepts a nonce another one issued (`mcp_oauth_core::dpop::nonce`). The request-level check of a proof at `/token` is
//! `handlers/dpop.rs`; the proof rules themselves are `mcp_oauth_core::dpop`.

pub mod replay;

pub use mcp_oauth_core::dpop::nonce::NonceKey;
pub use replay::{ProofReplay, StoreReplay};
