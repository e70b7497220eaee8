//! MCP `tools/call` (the `echo` tool) on initialized sessions, as `bench/lua/mcp.lua`, with the
//! access token sent as a bearer token or as a DPoP-bound token with a fresh proof per request
//! (RFC 9449 §7: `htm`, `htu`, `ath`, a `jti` of its own). The proofs are made before the timed
//! run (the guard's cost is measured, not the load generator's signing) and never repeat within
//! a run: after the last one the run would be refused as replays, and the errors would show it.

use crate::conn::{Answer, JSON, Target, build};
use crate::drive::Work;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub enum Auth {
    None,
    Bearer(String),
    Dpop {
        authorization: String,
        proofs: Arc<Proofs>,
    },
}

pub struct Proofs {
    list: Vec<String>,
    next: AtomicUsize,
}

impl Proofs {
    pub fn new(list: Vec<String>) -> Proofs {
        Proofs {
            list,
            next: AtomicUsize::new(0),
        }
    }

    fn next(&self) -> Option<&str> {
        self.list
            .get(self.next.fetch_add(1, Ordering::Relaxed))
            .map(String::as_str)
    }
}

pub struct Call {
    pub target: Target,
    pub path: String,
    pub sessions: Arc<Vec<String>>,
    pub auth: Arc<Auth>,
    pub version: String,
    /// This connection's position in the sessions and its JSON-RPC ids (distinct per session:
    /// rmcp routes answers by id).
    pub conn: usize,
    pub n: u64,
}

impl Work for Call {
    fn request(&mut self) -> Option<Result<Request<Full<Bytes>>, String>> {
        self.n += 1;
        let mut headers = vec![
            ("content-type", JSON),
            ("accept", "application/json, text/event-stream"),
            ("mcp-protocol-version", self.version.as_str()),
        ];
        let session = if self.sessions.is_empty() {
            None
        } else {
            let i = (self.conn + self.n as usize) % self.sessions.len();
            Some(self.sessions[i].as_str())
        };
        if let Some(s) = session {
            headers.push(("mcp-session-id", s));
        }
        match &*self.auth {
            Auth::None => {}
            Auth::Bearer(h) => headers.push(("authorization", h)),
            Auth::Dpop {
                authorization,
                proofs,
            } => {
                // Out of proofs: this connection stops (the summary's request count shows it).
                let proof = proofs.next()?;
                headers.push(("authorization", authorization));
                headers.push(("dpop", proof));
            }
        }
        let id = self.conn as u64 * 1_000_000_000 + self.n;
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"hello"}}}}}}"#
        );
        Some(build(&self.target, "POST", &self.path, &headers, body))
    }

    fn response(&mut self, answer: &Answer) -> bool {
        let ok = answer.status == 200 && answer.body.windows(5).any(|w| w == b"hello");
        if !ok && std::env::var_os("BENCH_LOAD_DEBUG").is_some() {
            eprintln!(
                "mcp: {} {:?} {}",
                answer.status,
                answer.headers.get("www-authenticate"),
                String::from_utf8_lossy(&answer.body)
            );
        }
        ok
    }
}
