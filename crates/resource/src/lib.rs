//! `mcp-oauth-resource`: make any MCP server a correct OAuth 2.1 resource server.
//!
//! - [`RequireBearerLayer`]: a tower layer that demands `Authorization: Bearer` on every request,
//!   verifies the token with a [`TokenVerifier`], applies an MCP-aware [`ScopePolicy`] to the
//!   JSON-RPC body, answers with exact RFC 6750 / RFC 9728 challenges, and puts the verified
//!   [`Principal`] into the request extensions.
//! - Verifiers: [`JwtVerifier`] (RFC 9068 JWTs, JWKS discovered and cached),
//!   [`IntrospectionVerifier`] (RFC 7662), [`CachedVerifier`], [`MultiIssuerVerifier`].
//! - [`PrmService`]: the RFC 9728 protected resource metadata at its well-known paths.
//! - [`OriginGuardLayer`]: the transport's `Origin` check against DNS rebinding.
//! - [`SessionLimitLayer`]: at most N live MCP sessions per client address.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mcp_oauth_resource::{prm, CachedVerifier, JwtVerifier, OriginGuardLayer, PrmService,
//!     RequireBearerLayer, ScopePolicy};
//! let resource = "https://mcp.example.com/mcp";
//! let verifier = CachedVerifier::new(JwtVerifier::builder("https://auth.example.com", resource).build()?);
//! let policy = ScopePolicy::new().default_scopes("mcp").tool("delete_file", "files:write");
//! let mut meta = prm::metadata(resource, ["https://auth.example.com"]);
//! meta.scopes_supported = Some(policy.scopes_supported());
//! let guard = RequireBearerLayer::builder(resource, verifier).policy(policy).build()?;
//! let mcp = axum::Router::new().route("/mcp", axum::routing::post(|| async { "ok" })).layer(guard);
//! let app = PrmService::new(meta)?.router().merge(mcp).layer(OriginGuardLayer::localhost());
//! # let _ = app; Ok(()) }
//! ```
//!
//! # Responses
//!
//! See [`response`] for the table. The guard answers CORS preflights itself (never handing one
//! on: a preflight carries no token) and adds `Access-Control-Allow-Origin` and
//! `Access-Control-Expose-Headers: WWW-Authenticate, Mcp-Session-Id` to every response for an
//! allowed origin (loopback ones by default, more with
//! [`RequireBearerBuilder::cors_allow_origin`]), its refusals included: a browser-based client
//! can then read the challenge and find the metadata. See [`cors`]. The guard never
//! answers `500`: an unreachable issuer gives `503` with a JSON body, anything the client did
//! wrong a `4xx`.

pub mod body;
pub mod content;
pub mod cors;
pub mod dpop;
#[cfg(feature = "redis")]
pub mod dpop_redis;
pub mod error;
pub mod extract;
#[cfg(test)]
mod fuzz;
mod guard;
pub mod layer;
pub mod origin;
pub mod policy;
pub mod principal;
pub mod prm;
mod proof_cache;
#[cfg(feature = "proxy")]
pub mod proxy;
pub mod response;
pub mod session_limit;
pub mod verifier;
mod wrap;

pub use body::{GuardedBody, ResponseBody};
pub use error::{AuthError, ConfigError, VerifyError};
pub use guard::BoxError;
pub use layer::{
    DEFAULT_MAX_BODY_BYTES, RequireBearer, RequireBearerBuilder, RequireBearerLayer, ResponseFuture,
};
pub use origin::{OriginGuard, OriginGuardLayer};
pub use policy::{BodyError, Requirement, ScopePolicy};
pub use principal::{Principal, PrincipalData};
pub use prm::PrmService;
pub use session_limit::{SessionLimitLayer, SessionRegistry};
pub use verifier::{
    Audiences, CachedVerifier, HttpOptions, IntrospectionVerifier, JwtVerifier,
    MultiIssuerVerifier, Profile, SharedVerifier, SplitVerifier, TokenVerifier,
};
