//! Refresh-token rotation: each connection owns one chain and always sends the refresh token of
//! its previous answer, so every request is a rotation (a write: the old token spent, a new one
//! stored) and no two connections touch the same family.

use crate::conn::{Answer, FORM, Target, build, form};
use crate::drive::Work;
use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

pub struct Chain {
    target: Target,
    path: String,
    client_id: String,
    basic: Option<String>,
    /// The refresh token to send next.
    pub token: String,
    /// A request without an answer, or a refused one: the chain's state is unknown or spent.
    pub broken: bool,
}

impl Chain {
    pub fn new(
        target: &Target,
        path: &str,
        client_id: &str,
        basic: Option<&str>,
        token: String,
    ) -> Chain {
        Chain {
            target: target.clone(),
            path: path.to_owned(),
            client_id: client_id.to_owned(),
            basic: basic.map(|b| format!("Basic {b}")),
            token,
            broken: false,
        }
    }
}

impl Work for Chain {
    fn request(&mut self) -> Option<Result<Request<Full<Bytes>>, String>> {
        if self.broken {
            return None;
        }
        let mut pairs = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", &*self.token),
        ];
        // A public client names itself in the body (RFC 6749 §3.2.1); a confidential one
        // authenticates with Basic instead.
        if self.basic.is_none() {
            pairs.push(("client_id", &self.client_id));
        }
        let body = form(&pairs);
        let mut headers = vec![("content-type", FORM)];
        if let Some(b) = &self.basic {
            headers.push(("authorization", b));
        }
        Some(build(&self.target, "POST", &self.path, &headers, body))
    }

    fn response(&mut self, answer: &Answer) -> bool {
        let next = (answer.status == 200)
            .then(|| serde_json::from_slice::<serde_json::Value>(&answer.body).ok())
            .flatten()
            .and_then(|v| v.get("refresh_token")?.as_str().map(str::to_owned));
        match next {
            Some(t) => {
                self.token = t;
                true
            }
            None => {
                if std::env::var_os("BENCH_LOAD_DEBUG").is_some() {
                    eprintln!(
                        "rotate: {} {}",
                        answer.status,
                        String::from_utf8_lossy(&answer.body)
                    );
                }
                self.broken = true;
                false
            }
        }
    }

    fn lost(&mut self) {
        self.broken = true;
    }
}
