//! End-to-end tests of the guard over real HTTP on 127.0.0.1 (one test binary).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dpop;
mod introspection;
mod jwt;
mod origin;
mod policy;
mod prm;
mod rmcp_service;
mod support;
#[path = "../../../server/tests/e2e/tls_redis.rs"]
mod tls_redis;
