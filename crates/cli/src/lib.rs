//! Nothing: the `mcp-oauth` command is the binary (`src/main.rs`).
//!
//! This empty library exists so that the package can list itself as a dev-dependency with the
//! `conformance` feature (Cargo.toml): testing the package then builds the binary with the
//! harness's fixtures, while `cargo build --release -p mcp-oauth` leaves them out. Cargo ignores
//! (with a warning) a dependency on a package without a library.
