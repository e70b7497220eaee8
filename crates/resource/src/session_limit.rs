//! A bound on the live MCP sessions of each client address (issue 12 item 7).
//!
//! A stateful MCP server keeps every session in memory until it is closed (`DELETE` with
//! `Mcp-Session-Id`) or idles out (rmcp: 5 minutes). Without a bound, one client can open
//! sessions until the server runs out of memory. [`SessionLimitLayer`] counts the session ids
//! the inner service hands out (the `Mcp-Session-Id` of a response to a request that had none)
//! per client address (IPv4 address, or IPv6 /64, since one host holds a whole /64), and
//! refuses a request that could open one more once the address has `max_per_client`:
//! `429 Too Many Requests` with `Retry-After` and a JSON-RPC error body without `id`.
//!
//! A slot is freed when the session ends: a `DELETE` of it answered `2xx` or `404`, any request
//! for it answered `404` (the server forgot it), [`SessionRegistry::forget`] (called by a
//! session manager that knows when a session closes, as the demo's does), or, when an idle
//! timeout is set, after that long without a request and with no response stream open.
//! A session request being opened counts from the moment it is sent, so parallel `initialize`
//! calls cannot overshoot.
//!
//! The client address comes from axum's `ConnectInfo<SocketAddr>` or a `SocketAddr` in the
//! request extensions; requests without one share a single bucket (fail closed: still bounded).
//! Put the layer inside the bearer guard, so that only authorized requests open sessions.

use crate::body::ResponseBody;
use crate::response::jsonrpc_error;
use crate::wrap::layer_service;
use http::header::{HeaderValue, RETRY_AFTER};
use http::{Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tower::Service;

/// The session header of the MCP Streamable HTTP transport.
pub const MCP_SESSION_ID: &str = "mcp-session-id";

/// `Retry-After` when no session of the client can be expected to idle out sooner.
pub const DEFAULT_RETRY_AFTER_SECONDS: u64 = 60;

/// Who a client is, for counting: its IPv4 address or its IPv6 /64; `None` when unknown.
type ClientKey = Option<IpAddr>;

fn client_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The live sessions of every client, shared by the layer and whoever learns that a session
/// ended.
#[derive(Debug)]
pub struct SessionRegistry {
    max_per_client: usize,
    idle_timeout: Option<Duration>,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    clients: HashMap<ClientKey, Client>,
    owner: HashMap<String, ClientKey>,
}

#[derive(Debug, Default)]
struct Client {
    live: HashMap<String, Entry>,
    /// Requests that may open a session, sent and not yet answered.
    pending: usize,
}

#[derive(Debug)]
struct Entry {
    last_seen: Instant,
    /// Requests (and response streams) of this session still open.
    open: usize,
}

impl SessionRegistry {
    /// At most `max_per_client` live sessions per client address; with `idle_timeout`, a
    /// session without a request for that long (and no open stream) no longer counts.
    pub fn new(max_per_client: usize, idle_timeout: Option<Duration>) -> Arc<Self> {
        Arc::new(Self {
            max_per_client,
            idle_timeout,
            inner: Mutex::new(Inner::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means another request panicked mid-update; the counts stay
        // usable (at worst a slot is held until it idles out).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets a session that ended (closed, expired), freeing its client's slot.
    pub fn forget(&self, session_id: &str) {
        let mut inner = self.lock();
        if let Some(key) = inner.owner.remove(session_id)
            && let Some(c) = inner.clients.get_mut(&key)
        {
            c.live.remove(session_id);
            if c.live.is_empty() && c.pending == 0 {
                inner.clients.remove(&key);
            }
        }
    }

    /// How many sessions `addr` holds (live and being opened).
    pub fn count(&self, addr: Option<IpAddr>) -> usize {
        let key = addr.map(client_key);
        let inner = self.lock();
        inner
            .clients
            .get(&key)
            .map_or(0, |c| c.live.len() + c.pending)
    }

    /// Reserves a slot for a request that may open a session, or says how long to wait.
    fn reserve(&self, key: ClientKey, now: Instant) -> Result<(), u64> {
        let mut inner = self.lock();
        let Inner { clients, owner } = &mut *inner;
        let c = clients.entry(key).or_default();
        if let Some(idle) = self.idle_timeout {
            c.live.retain(|id, e| {
                let keep = e.open > 0 || now.duration_since(e.last_seen) < idle;
                if !keep {
                    owner.remove(id);
                }
                keep
            });
        }
        if c.live.len() + c.pending < self.max_per_client {
            c.pending += 1;
            return Ok(());
        }
        let retry = self
            .idle_timeout
            .and_then(|idle| {
                c.live
                    .values()
                    .filter(|e| e.open == 0)
                    .map(|e| idle.saturating_sub(now.duration_since(e.last_seen)))
                    .min()
            })
            .map_or(DEFAULT_RETRY_AFTER_SECONDS, |d| d.as_secs().max(1));
        Err(retry)
    }

    /// The answer to a reserved request: records the session it opened, if any.
    fn settle(&self, key: ClientKey, opened: Option<&str>, now: Instant) {
        let mut inner = self.lock();
        let Inner { clients, owner } = &mut *inner;
        let c = clients.entry(key).or_default();
        c.pending = c.pending.saturating_sub(1);
        if let Some(id) = opened
            && !owner.contains_key(id)
        {
            owner.insert(id.to_owned(), key);
            c.live.insert(
                id.to_owned(),
                Entry {
                    last_seen: now,
                    open: 0,
                },
            );
        }
        if c.live.is_empty() && c.pending == 0 {
            clients.remove(&key);
        }
    }

    /// A request for a known session starts: it counts as open until its response ends.
    fn begin(&self, session_id: &str, now: Instant) -> bool {
        let mut inner = self.lock();
        let Inner { clients, owner } = &mut *inner;
        let Some(key) = owner.get(session_id) else {
            return false;
        };
        match clients
            .get_mut(key)
            .and_then(|c| c.live.get_mut(session_id))
        {
            Some(e) => {
                e.open += 1;
                e.last_seen = now;
                true
            }
            None => false,
        }
    }

    fn end(&self, session_id: &str, now: Instant) {
        let mut inner = self.lock();
        let Inner { clients, owner } = &mut *inner;
        if let Some(key) = owner.get(session_id)
            && let Some(e) = clients
                .get_mut(key)
                .and_then(|c| c.live.get_mut(session_id))
        {
            e.open = e.open.saturating_sub(1);
            e.last_seen = now;
        }
    }
}

/// Bounds the live MCP sessions per client address. See the module documentation.
#[derive(Debug, Clone)]
pub struct SessionLimitLayer {
    registry: Arc<SessionRegistry>,
}

impl SessionLimitLayer {
    /// A layer counting into `registry`.
    pub fn new(registry: Arc<SessionRegistry>) -> Self {
        Self { registry }
    }

    /// The registry, to [`SessionRegistry::forget`] sessions that end elsewhere.
    pub fn registry(&self) -> &Arc<SessionRegistry> {
        &self.registry
    }
}

layer_service! {
    /// The service made by [`SessionLimitLayer`].
    SessionLimitLayer => SessionLimit { registry: SessionRegistry }
}

fn peer<B>(req: &Request<B>) -> ClientKey {
    #[cfg(feature = "axum")]
    if let Some(info) = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(client_key(info.0.ip()));
    }
    req.extensions()
        .get::<SocketAddr>()
        .map(|a| client_key(a.ip()))
}

/// Releases a session's open count when the response body ends (or is dropped).
struct OpenGuard {
    registry: Arc<SessionRegistry>,
    session_id: String,
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.registry.end(&self.session_id, Instant::now());
    }
}

pin_project! {
    /// A response body that keeps its session counted as open until it ends.
    pub struct TrackedBody<B> {
        #[pin]
        inner: B,
        guard: Option<OpenGuardBox>,
    }
}

/// Boxed so that [`TrackedBody`] does not expose the guard's type.
pub struct OpenGuardBox(#[allow(dead_code)] OpenGuard);

impl std::fmt::Debug for OpenGuardBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenGuard").finish_non_exhaustive()
    }
}

impl<B: Body> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = this.inner.poll_frame(cx);
        if let Poll::Ready(None) = frame {
            this.guard.take();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S, B, ResBody> Service<Request<B>> for SessionLimit<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResponseBody<TrackedBody<ResBody>>>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let registry = self.registry.clone();
        let now = Instant::now();
        let session_id = req
            .headers()
            .get(MCP_SESSION_ID)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let key = peer(&req);
        let is_delete = req.method() == Method::DELETE;
        match session_id {
            Some(id) => {
                let known = registry.begin(&id, now);
                let fut = self.inner.call(req);
                Box::pin(async move {
                    let guard = known.then(|| {
                        OpenGuardBox(OpenGuard {
                            registry: registry.clone(),
                            session_id: id.clone(),
                        })
                    });
                    let resp = fut.await?;
                    let status = resp.status();
                    if status == StatusCode::NOT_FOUND || (is_delete && status.is_success()) {
                        drop(guard);
                        registry.forget(&id);
                        return Ok(resp.map(|b| ResponseBody::inner(tracked(b, None))));
                    }
                    Ok(resp.map(|b| ResponseBody::inner(tracked(b, guard))))
                })
            }
            None if req.method() == Method::POST => {
                if let Err(retry) = registry.reserve(key, now) {
                    tracing::info!(target: "mcp_oauth::resource", client = ?key, "MCP session refused: too many live sessions from this address");
                    return Box::pin(std::future::ready(Ok(too_many(
                        registry.max_per_client,
                        retry,
                    ))));
                }
                // Released (or turned into a live session) whatever happens to the request.
                let reservation = Reservation {
                    registry: registry.clone(),
                    key,
                    settled: false,
                };
                let fut = self.inner.call(req);
                Box::pin(async move {
                    let mut reservation = reservation;
                    let resp = fut.await?;
                    let opened = resp
                        .headers()
                        .get(MCP_SESSION_ID)
                        .and_then(|v| v.to_str().ok());
                    registry.settle(key, opened, Instant::now());
                    reservation.settled = true;
                    Ok(resp.map(|b| ResponseBody::inner(tracked(b, None))))
                })
            }
            None => {
                let fut = self.inner.call(req);
                Box::pin(async move {
                    let resp = fut.await?;
                    Ok(resp.map(|b| ResponseBody::inner(tracked(b, None))))
                })
            }
        }
    }
}

fn tracked<B>(inner: B, guard: Option<OpenGuardBox>) -> TrackedBody<B> {
    TrackedBody { inner, guard }
}

/// A slot reserved for a request that may open a session; released if the request never
/// completes (the client went away, the future was dropped).
struct Reservation {
    registry: Arc<SessionRegistry>,
    key: ClientKey,
    settled: bool,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            self.registry.settle(self.key, None, Instant::now());
        }
    }
}

fn too_many<B>(limit: usize, retry_after: u64) -> Response<ResponseBody<B>> {
    let mut resp = jsonrpc_error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "too many live MCP sessions from this address (at most {limit}): end one with DELETE, or retry later"
        ),
    );
    resp.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(retry_after));
    resp.map(ResponseBody::refusal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn counts_reserves_and_frees() {
        let r = SessionRegistry::new(2, Some(Duration::from_secs(10)));
        let a: ClientKey = Some("127.0.0.1".parse().unwrap());
        let b: ClientKey = Some("127.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        assert!(r.reserve(a, t0).is_ok());
        assert!(r.reserve(a, t0).is_ok());
        // Two in flight: a third waits.
        assert!(r.reserve(a, t0).is_err());
        r.settle(a, Some("s1"), t0);
        r.settle(a, None, t0);
        assert_eq!(r.count(a), 1);
        assert!(r.reserve(a, t0).is_ok());
        r.settle(a, Some("s2"), t0);
        assert_eq!(r.reserve(a, t0), Err(10));
        assert!(r.reserve(b, t0).is_ok());
        r.forget("s1");
        assert!(r.reserve(a, t0).is_ok());
        r.settle(a, Some("s3"), t0 + Duration::from_secs(5));
        // An open stream keeps a session alive past the idle timeout; then it idles out.
        assert!(r.begin("s2", t0));
        let later = t0 + Duration::from_secs(11);
        assert_eq!(r.reserve(a, later), Err(4), "s3 idles out first");
        r.end("s2", later);
        assert!(r.reserve(a, later).is_err(), "s2 was just used");
        assert!(r.reserve(a, later + Duration::from_secs(10)).is_ok());
        assert_eq!(r.count(a), 1);
    }

    #[test]
    fn ipv6_by_64() {
        let x: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let y: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(client_key(x), client_key(y));
        let m: IpAddr = IpAddr::V6(Ipv6Addr::from(0xffff_7f00_0001u128));
        assert_eq!(client_key(m), "127.0.0.1".parse::<IpAddr>().unwrap());
    }
}
