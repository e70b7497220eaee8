//! End-to-end tests of the guard over real HTTP on 127.0.0.1: `serve --demo` with a real rmcp
//! client, and `guard` (the reverse proxy) in front of a small upstream. Every process and
//! server started here is stopped when its handle drops.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_keys;
#[path = "../common/bin.rs"]
mod bin;
mod demo;
mod federation;
mod hostile;
#[path = "../../../server/tests/e2e/idp.rs"]
mod idp;
mod live_idp;
mod profiles;
mod proxy;
mod sessions;
mod standin;
mod startup;
mod support;
