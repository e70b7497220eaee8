//! Dynamic client registration (RFC 7591): a fresh metadata document per request (its own name
//! and redirect URI), a public client of the kind an MCP client registers.

use crate::conn::{Answer, JSON, Target, build};
use crate::drive::Work;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

pub struct Register {
    pub target: Target,
    pub path: String,
    pub conn: usize,
    pub n: u64,
}

impl Work for Register {
    fn request(&mut self) -> Option<Result<Request<Full<Bytes>>, String>> {
        self.n += 1;
        let body = serde_json::json!({
            "client_name": format!("bench {}-{}", self.conn, self.n),
            "redirect_uris": [format!("http://127.0.0.1:9999/callback/{}/{}", self.conn, self.n)],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        })
        .to_string();
        Some(build(
            &self.target,
            "POST",
            &self.path,
            &[("content-type", JSON)],
            body,
        ))
    }

    fn response(&mut self, answer: &Answer) -> bool {
        let ok = answer.status == 201;
        if !ok && std::env::var_os("BENCH_LOAD_DEBUG").is_some() {
            eprintln!(
                "register: {} {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            );
        }
        ok
    }
}
