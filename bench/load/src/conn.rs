//! One keep-alive HTTP/1.1 connection to the server under test, `TCP_NODELAY` as a client would
//! set it (without it small requests wait for delayed ACKs and the figure measures the kernel's timer).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper::{HeaderMap, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use tokio::net::TcpStream;

/// Where the server is: the socket address and the `Host` header value.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
    /// The base URL as given (`http://127.0.0.1:PORT`, no trailing slash).
    pub base: String,
}

impl Target {
    /// Parses `http://HOST:PORT` (loopback servers of the harness: plain HTTP only).
    pub fn parse(base: &str) -> Result<Target, String> {
        let base = base.trim_end_matches('/');
        let rest = base
            .strip_prefix("http://")
            .ok_or_else(|| format!("not an http:// URL: {base}"))?;
        if rest.contains('/') {
            return Err(format!("the URL must have no path: {base}"));
        }
        let addr = rest
            .parse::<SocketAddr>()
            .map_err(|e| format!("{rest} is not IP:PORT: {e}"))?;
        Ok(Target {
            addr,
            host: rest.to_owned(),
            base: base.to_owned(),
        })
    }
}

/// Why a request got no answer.
#[derive(Debug)]
pub enum Lost {
    Connect,
    Io,
}

/// An answer, read whole.
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    pub async fn open(target: &Target) -> Result<Conn, Lost> {
        let stream = TcpStream::connect(target.addr)
            .await
            .map_err(|_| Lost::Connect)?;
        stream.set_nodelay(true).map_err(|_| Lost::Connect)?;
        let (sender, conn) = handshake(TokioIo::new(stream))
            .await
            .map_err(|_| Lost::Connect)?;
        tokio::spawn(async move {
            // The connection ends when the sender is dropped or the server closes it; an error
            // here shows as the next request's error.
            let _ = conn.await;
        });
        Ok(Conn { sender })
    }

    pub async fn send(&mut self, req: Request<Full<Bytes>>) -> Result<Answer, Lost> {
        self.sender.ready().await.map_err(|_| Lost::Io)?;
        let resp = self.sender.send_request(req).await.map_err(|_| Lost::Io)?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(|_| Lost::Io)?.to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// A request with the `Host` header and the given headers. Header values come from the harness
/// (tokens, ids), never from the server; one that is not a valid header value is a harness bug.
pub fn build(
    target: &Target,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Result<Request<Full<Bytes>>, String> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, &target.host);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Full::new(body.into()))
        .map_err(|e| format!("cannot build {method} {path}: {e}"))
}

pub const FORM: &str = "application/x-www-form-urlencoded";
pub const JSON: &str = "application/json";

/// `application/x-www-form-urlencoded` value encoding (RFC 3986 unreserved kept).
pub fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Builds a form body from pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}
