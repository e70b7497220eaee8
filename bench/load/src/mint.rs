//! Codes minted before a redemption run, each with its own PKCE verifier (RFC 7636).
//!
//! Ours: `GET /authorize` with the session cookie of one login whose consent was given once, so
//! the server answers each request with a redirect carrying a fresh code and no page, and no
//! Argon2id (that is the login's, done once). The peer: node-oidc-provider's own models
//! (`Grant`, `AuthorizationCode`) through the bench route of `bench/peer/server.mjs`, 500 codes a
//! request, since its interaction flow would need a login per code.

use crate::conn::{Answer, Target, build, form};
use crate::drive::Work;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// How many codes are wanted and the `code verifier` lines made so far.
pub struct Minted {
    want: usize,
    taken: AtomicUsize,
    pub lines: Mutex<Vec<String>>,
}

impl Minted {
    pub fn new(want: usize) -> Arc<Minted> {
        Arc::new(Minted {
            want,
            taken: AtomicUsize::new(0),
            lines: Mutex::new(Vec::with_capacity(want)),
        })
    }

    /// Claims up to `n` of the codes still wanted.
    fn take(&self, n: usize) -> usize {
        let before = self.taken.fetch_add(n, Ordering::Relaxed);
        self.want.saturating_sub(before).min(n)
    }

    fn push(&self, code: &str, verifier: &str) {
        if let Ok(mut l) = self.lines.lock() {
            l.push(format!("{code} {verifier}"));
        }
    }
}

/// The `/authorize` parameters but the PKCE challenge and the state.
pub struct AuthorizeParams {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub resource: String,
    pub cookie: String,
}

pub struct MintOurs {
    pub target: Target,
    pub params: Arc<AuthorizeParams>,
    pub minted: Arc<Minted>,
    verifier: String,
}

impl MintOurs {
    pub fn new(target: &Target, params: &Arc<AuthorizeParams>, minted: &Arc<Minted>) -> MintOurs {
        MintOurs {
            target: target.clone(),
            params: params.clone(),
            minted: minted.clone(),
            verifier: String::new(),
        }
    }
}

impl Work for MintOurs {
    fn request(&mut self) -> Option<Result<Request<Full<Bytes>>, String>> {
        if self.minted.take(1) == 0 {
            return None;
        }
        let (verifier, challenge) = mcp_oauth_core::pkce::generate();
        self.verifier = verifier;
        let state = mcp_oauth_core::secret::random_token(8);
        let p = &self.params;
        let query = form(&[
            ("response_type", "code"),
            ("client_id", &p.client_id),
            ("redirect_uri", &p.redirect_uri),
            ("scope", &p.scope),
            ("resource", &p.resource),
            ("state", &state),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]);
        Some(build(
            &self.target,
            "GET",
            &format!("/authorize?{query}"),
            &[("cookie", &p.cookie)],
            Bytes::new(),
        ))
    }

    fn response(&mut self, answer: &Answer) -> bool {
        let code = answer
            .headers
            .get(hyper::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| l.split_once('?'))
            .and_then(|(_, q)| {
                q.split('&')
                    .find_map(|kv| kv.strip_prefix("code="))
                    .map(str::to_owned)
            });
        match code {
            Some(c) if answer.status.is_redirection() => {
                self.minted.push(&c, &self.verifier);
                true
            }
            _ => {
                eprintln!(
                    "mint: /authorize answered {} without a code: {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                        .chars()
                        .take(200)
                        .collect::<String>()
                );
                false
            }
        }
    }
}

pub struct MintPeer {
    pub target: Target,
    pub path: String,
    pub minted: Arc<Minted>,
    verifiers: Vec<String>,
}

impl MintPeer {
    pub fn new(target: &Target, path: &str, minted: &Arc<Minted>) -> MintPeer {
        MintPeer {
            target: target.clone(),
            path: path.to_owned(),
            minted: minted.clone(),
            verifiers: Vec::new(),
        }
    }
}

impl Work for MintPeer {
    fn request(&mut self) -> Option<Result<Request<Full<Bytes>>, String>> {
        let n = self.minted.take(500);
        if n == 0 {
            return None;
        }
        let (verifiers, challenges): (Vec<_>, Vec<_>) =
            (0..n).map(|_| mcp_oauth_core::pkce::generate()).unzip();
        self.verifiers = verifiers;
        Some(build(
            &self.target,
            "POST",
            &self.path,
            &[("content-type", "text/plain")],
            challenges.join("\n"),
        ))
    }

    fn response(&mut self, answer: &Answer) -> bool {
        let body = String::from_utf8_lossy(&answer.body);
        let codes: Vec<&str> = body.lines().filter(|l| !l.is_empty()).collect();
        if answer.status != 200 || codes.len() != self.verifiers.len() {
            eprintln!(
                "mint: the peer answered {}: {}",
                answer.status,
                body.chars().take(200).collect::<String>()
            );
            return false;
        }
        for (c, v) in codes.iter().zip(&self.verifiers) {
            self.minted.push(c, v);
        }
        true
    }
}
