//! `bench-load`: the load generator of `bench/run.sh` for what wrk cannot do well — a refresh
//! chain per connection (wrk's Lua state is per thread), single-use codes, a fresh registration
//! per request, DPoP proofs per request — and the minting done before those runs. Every timed
//! command prints one `BENCH …` line with the keys of `bench/lua/report.lua`.
//!
//! Loopback only: the harness starts the servers on 127.0.0.1 and passes their URLs. One thread
//! (the harness pins it to the load core); one task and one keep-alive connection per `--conns`.

mod conn;
mod drive;
mod mcp;
mod mint;
mod redeem;
mod register;
mod rotate;

use clap::{Parser, Subcommand};
use conn::Target;
use std::sync::{Arc, Mutex};

#[derive(Parser)]
#[command(about = "Load generator of bench/run.sh")]
struct Args {
    /// The server's base URL, `http://127.0.0.1:PORT`.
    #[arg(long)]
    url: String,
    /// Connections (one task each).
    #[arg(long, default_value_t = 64)]
    conns: usize,
    /// Seconds of load (minting commands stop when done, at the latest after this).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Refresh-token rotation: connection i rotates the chain of line i of CHAINS; the chains'
    /// last tokens are written back, so the next run goes on with them.
    Rotate {
        #[arg(long)]
        chains: String,
        #[arg(long)]
        client_id: String,
        /// Basic credentials (base64) of a confidential client; without them `client_id` goes in the body.
        #[arg(long)]
        basic: Option<String>,
        #[arg(long, default_value = "/token")]
        path: String,
    },
    /// Redeems the `code verifier` lines of CODES, each once.
    Redeem {
        #[arg(long)]
        codes: String,
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        redirect_uri: String,
        #[arg(long)]
        resource: Option<String>,
        #[arg(long, default_value = "/token")]
        path: String,
        /// Keep the refresh tokens of the answers in this file (one line each): chains for `rotate`.
        #[arg(long)]
        save_refresh: Option<String>,
    },
    /// `POST /register` with a fresh client metadata document per request.
    Register {
        #[arg(long, default_value = "/register")]
        path: String,
    },
    /// Mints COUNT codes into OUT (`code verifier` a line) through our `/authorize` with a
    /// signed-in session whose consent covers the request.
    MintCodes {
        #[arg(long)]
        count: usize,
        #[arg(long)]
        out: String,
        #[arg(long)]
        cookie: String,
        #[arg(long)]
        client_id: String,
        #[arg(long)]
        redirect_uri: String,
        #[arg(long)]
        scope: String,
        #[arg(long)]
        resource: String,
    },
    /// Mints COUNT codes into OUT through the bench route of bench/peer/server.mjs.
    MintPeerCodes {
        #[arg(long)]
        count: usize,
        #[arg(long)]
        out: String,
        #[arg(long, default_value = "/bench/mint-codes")]
        path: String,
    },
    /// MCP `tools/call` on the sessions of SESSIONS (one id a line), unguarded, with a bearer
    /// token, or with a DPoP-bound token minted here (client_credentials with a proof) and a
    /// pre-made proof per request.
    Mcp {
        #[arg(long, default_value = "/mcp")]
        path: String,
        #[arg(long)]
        sessions: String,
        #[arg(long, default_value = "2025-06-18")]
        protocol_version: String,
        #[arg(long)]
        bearer: Option<String>,
        /// Basic credentials (base64) of the client_credentials client that gets the DPoP-bound token.
        #[arg(long)]
        dpop_basic: Option<String>,
        /// The token request's body (grant_type=client_credentials&resource=…&scope=…).
        #[arg(long)]
        dpop_body: Option<String>,
        /// How many proofs to make before the run (more than the run sends).
        #[arg(long, default_value_t = 200_000)]
        proofs: usize,
    },
}

fn main() {
    let args = Args::parse();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bench-load: no runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(args)) {
        eprintln!("bench-load: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let target = Target::parse(&args.url)?;
    let plan = drive::Plan::new(target.clone(), args.duration);
    match args.command {
        Command::Rotate {
            chains,
            client_id,
            basic,
            path,
        } => {
            let text = std::fs::read_to_string(&chains).map_err(|e| format!("{chains}: {e}"))?;
            let tokens: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
            if tokens.len() < args.conns {
                return Err(format!(
                    "{chains} has {} chains for {} connections",
                    tokens.len(),
                    args.conns
                ));
            }
            let works = tokens[..args.conns]
                .iter()
                .map(|t| {
                    rotate::Chain::new(
                        &target,
                        &path,
                        &client_id,
                        basic.as_deref(),
                        (*t).to_owned(),
                    )
                })
                .collect();
            let (summary, works) = drive::drive(&plan, works).await?;
            let mut out: Vec<String> = works.iter().map(|w| w.token.clone()).collect();
            out.extend(tokens[args.conns..].iter().map(|t| (*t).to_owned()));
            out.push(String::new());
            std::fs::write(&chains, out.join("\n")).map_err(|e| format!("{chains}: {e}"))?;
            let broken = works.iter().filter(|w| w.broken).count();
            if broken > 0 {
                eprintln!("rotate: {broken} chains broken (refused or unanswered)");
            }
            println!("{}", summary.line());
        }
        Command::Redeem {
            codes,
            client_id,
            redirect_uri,
            resource,
            path,
            save_refresh,
        } => {
            let file = codes;
            let codes = Arc::new(redeem::Codes::read(&file)?);
            let save = save_refresh
                .as_ref()
                .map(|_| Arc::new(Mutex::new(Vec::new())));
            let works = (0..args.conns)
                .map(|_| redeem::Redeem {
                    target: target.clone(),
                    path: path.clone(),
                    client_id: client_id.clone(),
                    redirect_uri: redirect_uri.clone(),
                    resource: resource.clone(),
                    codes: codes.clone(),
                    save: save.clone(),
                })
                .collect();
            let (summary, _) = drive::drive(&plan, works).await?;
            if let (Some(file), Some(save)) = (save_refresh, save) {
                let mut lines = save.lock().map_err(|_| "poisoned")?.clone();
                lines.push(String::new());
                std::fs::write(&file, lines.join("\n")).map_err(|e| format!("{file}: {e}"))?;
            }
            // The codes not sent stay for the next run (a calibration run and its paced run).
            let mut rest: Vec<String> = codes.items[codes.used()..]
                .iter()
                .map(|(c, v)| format!("{c} {v}"))
                .collect();
            rest.push(String::new());
            std::fs::write(&file, rest.join("\n")).map_err(|e| format!("{file}: {e}"))?;
            if codes.used() == codes.items.len() {
                eprintln!(
                    "redeem: all {} codes used: the run ended early",
                    codes.items.len()
                );
            }
            println!("{}", summary.line());
        }
        Command::Register { path } => {
            let works = (0..args.conns)
                .map(|conn| register::Register {
                    target: target.clone(),
                    path: path.clone(),
                    conn,
                    n: 0,
                })
                .collect();
            let (summary, _) = drive::drive(&plan, works).await?;
            println!("{}", summary.line());
        }
        Command::MintCodes {
            count,
            out,
            cookie,
            client_id,
            redirect_uri,
            scope,
            resource,
        } => {
            let minted = mint::Minted::new(count);
            let params = Arc::new(mint::AuthorizeParams {
                client_id,
                redirect_uri,
                scope,
                resource,
                cookie,
            });
            let works = (0..args.conns)
                .map(|_| mint::MintOurs::new(&target, &params, &minted))
                .collect();
            write_minted(&plan, works, &minted, count, &out).await?;
        }
        Command::MintPeerCodes { count, out, path } => {
            let minted = mint::Minted::new(count);
            let works = (0..args.conns)
                .map(|_| mint::MintPeer::new(&target, &path, &minted))
                .collect();
            write_minted(&plan, works, &minted, count, &out).await?;
        }
        Command::Mcp {
            path,
            sessions,
            protocol_version,
            bearer,
            dpop_basic,
            dpop_body,
            proofs,
        } => {
            let text =
                std::fs::read_to_string(&sessions).map_err(|e| format!("{sessions}: {e}"))?;
            let sessions: Arc<Vec<String>> = Arc::new(
                text.lines()
                    .filter(|l| !l.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
            let auth = match (bearer, dpop_basic, dpop_body) {
                (Some(t), None, None) => mcp::Auth::Bearer(format!("Bearer {t}")),
                (None, Some(basic), Some(body)) => {
                    dpop_auth(
                        &target,
                        &basic,
                        &body,
                        &format!("{}{path}", target.base),
                        proofs,
                    )
                    .await?
                }
                (None, None, None) => mcp::Auth::None,
                _ => {
                    return Err(
                        "give --bearer, or --dpop-basic with --dpop-body, or neither".into(),
                    );
                }
            };
            let auth = Arc::new(auth);
            let works = (0..args.conns)
                .map(|conn| mcp::Call {
                    target: target.clone(),
                    path: path.clone(),
                    sessions: sessions.clone(),
                    auth: auth.clone(),
                    version: protocol_version.clone(),
                    conn,
                    n: 0,
                })
                .collect();
            let (summary, _) = drive::drive(&plan, works).await?;
            println!("{}", summary.line());
        }
    }
    Ok(())
}

async fn write_minted<W: drive::Work>(
    plan: &drive::Plan,
    works: Vec<W>,
    minted: &Arc<mint::Minted>,
    count: usize,
    out: &str,
) -> Result<(), String> {
    let (summary, _) = drive::drive(plan, works).await?;
    let mut lines = minted.lines.lock().map_err(|_| "poisoned")?.clone();
    if lines.len() < count {
        return Err(format!(
            "minted {} of {count} codes ({} refused)",
            lines.len(),
            summary.status_errors
        ));
    }
    lines.push(String::new());
    std::fs::write(out, lines.join("\n")).map_err(|e| format!("{out}: {e}"))?;
    eprintln!(
        "minted {count} codes in {:.1} s",
        summary.duration.as_secs_f64()
    );
    Ok(())
}

/// A DPoP-bound access token (client_credentials with a proof, RFC 9449 §5) and `count` proofs
/// for `POST url` carrying its `ath`, all of one fresh ES256 key, `iat` now.
async fn dpop_auth(
    target: &Target,
    basic: &str,
    body: &str,
    url: &str,
    count: usize,
) -> Result<mcp::Auth, String> {
    use mcp_oauth_core::dpop::{NewProof, sign};
    use mcp_oauth_core::jose::{Algorithm, SigningKey};
    let key = SigningKey::generate(Algorithm::ES256).map_err(|e| e.to_string())?;
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    };
    let token_url = format!("{}/token", target.base);
    let proof = sign(
        &key,
        &NewProof {
            method: "POST",
            url: &token_url,
            iat: now(),
            jti: &mcp_oauth_core::secret::random_token(16),
            access_token: None,
            nonce: None,
        },
    )
    .map_err(|e| e.to_string())?;
    let basic = format!("Basic {basic}");
    let req = conn::build(
        target,
        "POST",
        "/token",
        &[
            ("content-type", conn::FORM),
            ("authorization", &basic),
            ("dpop", &proof),
        ],
        body.to_owned(),
    )?;
    let mut c = conn::Conn::open(target)
        .await
        .map_err(|e| format!("token endpoint: {e:?}"))?;
    let answer = c
        .send(req)
        .await
        .map_err(|e| format!("token endpoint: {e:?}"))?;
    let v: serde_json::Value = serde_json::from_slice(&answer.body)
        .map_err(|e| format!("token endpoint answered {}: {e}", answer.status))?;
    let (Some(token), Some("DPoP")) = (
        v.get("access_token").and_then(|t| t.as_str()),
        v.get("token_type").and_then(|t| t.as_str()),
    ) else {
        return Err(format!("no DPoP-bound token: {} {v}", answer.status));
    };
    let iat = now();
    let salt = mcp_oauth_core::secret::random_token(6);
    let mut list = Vec::with_capacity(count);
    for i in 0..count {
        let jti = format!("{salt}-{i}");
        list.push(
            sign(
                &key,
                &NewProof {
                    method: "POST",
                    url,
                    iat,
                    jti: &jti,
                    access_token: Some(token),
                    nonce: None,
                },
            )
            .map_err(|e| e.to_string())?,
        );
    }
    Ok(mcp::Auth::Dpop {
        authorization: format!("DPoP {token}"),
        proofs: Arc::new(mcp::Proofs::new(list)),
    })
}
