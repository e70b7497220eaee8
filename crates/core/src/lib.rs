//! `mcp-oauth-core`: the protocol rules of OAuth 2.1 for the Model Context Protocol, without I/O.
//!
//! Everything here is a pure function or a plain data type: metadata documents (RFC 8414, OpenID
//! Discovery, RFC 9728, RFC 7591), error codes with their RFC strings, PKCE (RFC 7636, S256 only),
//! redirect-URI matching (exact; loopback any port per RFC 8252 §7.3), resource and audience rules
//! (RFC 8707), well-known URL construction, `WWW-Authenticate` build and parse (RFC 6750, RFC 9728),
//! scope sets, `client_secret_basic` credentials, the outbound-URL policy, JOSE helpers (keys,
//! signing, the one JWS verification) and secret newtypes. The server, the resource guard and the
//! client all build on these so that the three agree byte for byte.
//!
//! This crate never imports a web framework, an HTTP client or an async runtime. Time comes in
//! through [`clock::Clock`], never from `SystemTime::now()` inside logic.

pub mod basic;
pub mod challenge;
pub mod clock;
pub mod dpop;
pub mod error;
pub mod form;
pub mod jose;
pub mod json;
pub mod jws;
pub mod metadata;
pub mod outbound;
pub mod pkce;
pub mod redirect;
pub mod resource;
pub mod scope;
pub mod secret;
pub mod token;
pub mod uri;
pub mod wellknown;

pub use error::{ErrorCode, ErrorResponse};
pub use scope::ScopeSet;
