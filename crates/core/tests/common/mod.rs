//! What the fuzz targets of this directory share: their proptest settings.

use proptest::test_runner::{Config, RngSeed};

/// `MCP_OAUTH_FUZZ_CASES` cases (else `default_cases`), from a fixed `seed`, so a failure found in
/// CI is found again by the same command; nothing is persisted between runs.
pub fn config(default_cases: u32, seed: u64) -> Config {
    let cases = std::env::var("MCP_OAUTH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    Config {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        ..Config::default()
    }
}
