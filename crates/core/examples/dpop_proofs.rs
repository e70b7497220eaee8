//! Prints COUNT DPoP proofs (RFC 9449) for `POST URL`, one per line, all of one fresh ES256 key
//! and with distinct `jti`s, `iat` now: the load harness's DPoP issuance scenario
//! (`bench/lua/form_dpop.lua`) sends one per request, since a proof is single use.
//!
//! `cargo run --release -p mcp-oauth-core --example dpop_proofs -- URL COUNT > FILE`

use mcp_oauth_core::dpop::{self, NewProof};
use mcp_oauth_core::jose::{Algorithm, SigningKey};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(count)) = (args.next(), args.next()) else {
        return Err("usage: dpop_proofs URL COUNT".into());
    };
    let count: u64 = count.parse()?;
    let key = SigningKey::generate(Algorithm::ES256)?;
    let iat = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() as i64;
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    for i in 0..count {
        let jti = format!("bench-{i}");
        let proof = dpop::sign(
            &key,
            &NewProof {
                method: "POST",
                url: &url,
                iat,
                jti: &jti,
                access_token: None,
                nonce: None,
            },
        )?;
        writeln!(out, "{proof}")?;
    }
    Ok(())
}
