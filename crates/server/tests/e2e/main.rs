#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! End-to-end tests of the authorization server over real HTTP on loopback, on SQLite.
//! One test binary (modules below) so the workspace links once.

mod common;
mod idp;

mod audit;
mod authorize;
mod browser;
mod cimd;
mod concurrency;
mod cors;
mod device;
mod device_upstream;
mod dpop;
mod forged_id_tokens;
mod github;
mod metadata;
mod par;
mod private_key_jwt;
mod rate_limits;
mod redis_outage;
mod redis_support;
mod redis_tls;
mod refresh;
mod registration;
mod rejections;
mod revocation;
mod secret_overlap;
mod shared_redis;
mod tls_redis;
mod token;
mod upstream;
mod upstream_browser;
mod upstream_disabled;
mod upstream_instances;
mod upstream_presets;
mod upstream_revocation;
mod webdriver;
