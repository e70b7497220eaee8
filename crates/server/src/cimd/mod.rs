//! The SSRF-safe fetcher for URLs that strangers choose (client `jwks_uri`s now; Client ID
//! Metadata Documents next).
//!
//! - `ip`: which addresses the server may connect to;
//! - `fetch`: the fetcher (resolve, check, connect to what was checked, no redirects, limits).

pub mod fetch;
pub mod ip;
