//! Authorization-code redemption: codes minted beforehand (`mint`), each redeemed once with its
//! PKCE verifier. The connections share one list; a connection stops when the list is used up.
//! With `save`, the refresh tokens of the answers are kept: that is how rotation chains are made
//! (one code flow per chain, through the server's own endpoints).

use crate::conn::{Answer, FORM, Target, build, form};
use crate::drive::Work;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// `code verifier` pairs and the next one to take.
pub struct Codes {
    pub items: Vec<(String, String)>,
    next: AtomicUsize,
}

impl Codes {
    pub fn read(path: &str) -> Result<Codes, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let items = text
            .lines()
            .filter_map(|l| {
                let (c, v) = l.split_once(' ')?;
                Some((c.to_owned(), v.to_owned()))
            })
            .collect();
        Ok(Codes {
            items,
            next: AtomicUsize::new(0),
        })
    }

    pub fn used(&self) -> usize {
        self.next.load(Ordering::Relaxed).min(self.items.len())
    }
}

pub struct Redeem {
    pub target: Target,
    pub path: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub resource: Option<String>,
    pub codes: Arc<Codes>,
    pub save: Option<Arc<Mutex<Vec<String>>>>,
}

impl Work for Redeem {
    fn request(&mut self) -> Option<Result<Request<Full<Bytes>>, String>> {
        let i = self.codes.next.fetch_add(1, Ordering::Relaxed);
        let (code, verifier) = self.codes.items.get(i)?;
        let mut pairs = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("code_verifier", verifier.as_str()),
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", self.redirect_uri.as_str()),
        ];
        if let Some(r) = &self.resource {
            pairs.push(("resource", r));
        }
        Some(build(
            &self.target,
            "POST",
            &self.path,
            &[("content-type", FORM)],
            form(&pairs),
        ))
    }

    fn response(&mut self, answer: &Answer) -> bool {
        if answer.status != 200 {
            if std::env::var_os("BENCH_LOAD_DEBUG").is_some() {
                eprintln!(
                    "redeem: {} {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                );
            }
            return false;
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&answer.body) else {
            return false;
        };
        if v.get("access_token").and_then(|t| t.as_str()).is_none() {
            return false;
        }
        if let Some(save) = &self.save {
            let Some(rt) = v.get("refresh_token").and_then(|t| t.as_str()) else {
                return false;
            };
            if let Ok(mut s) = save.lock() {
                s.push(rt.to_owned());
            }
        }
        true
    }
}
