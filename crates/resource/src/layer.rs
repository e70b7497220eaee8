//! The tower layer: [`RequireBearerLayer`] → [`RequireBearer`] → [`ResponseFuture`], in the
//! tower-http style.
//!
//! It fits in front of any `tower::Service<http::Request<GuardedBody<B>>>`: an axum `Router`,
//! rmcp's `StreamableHttpService`, the legacy SSE endpoints, or a plain hyper service. The
//! inner service receives the request body unchanged (as [`GuardedBody`]) and the verified
//! [`crate::Principal`] in the request extensions.

use crate::body::{GuardedBody, ResponseBody};
use crate::cors::{self, Cors};
use crate::error::ConfigError;
use crate::guard::{BoxError, GuardConfig, authorize};
use crate::policy::ScopePolicy;
use crate::verifier::{SharedVerifier, TokenVerifier};
use crate::wrap::layer_service;
use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use http_body::Body;
use http_body_util::Full;
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tower::Service;

/// The default limit on a JSON-RPC body the guard reads: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// Makes the wrapped service an OAuth 2.1 resource server: every request needs a valid bearer
/// token for this resource, with the scopes the [`ScopePolicy`] asks for.
#[derive(Debug, Clone)]
pub struct RequireBearerLayer {
    cfg: Arc<GuardConfig>,
}

/// Builds a [`RequireBearerLayer`]. Every setting names its default.
pub struct RequireBearerBuilder {
    resource: String,
    verifier: SharedVerifier,
    policy: ScopePolicy,
    max_body_bytes: usize,
    resource_metadata: Option<String>,
    cors: Cors,
    api_key_header: Option<String>,
    dpop: crate::dpop::DpopSettings,
}

impl std::fmt::Debug for RequireBearerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireBearerBuilder")
            .field("resource", &self.resource)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl RequireBearerLayer {
    /// Starts a builder for the resource `resource` (the canonical URI of this MCP server,
    /// which is also the PRM `resource` and the audience tokens must carry), accepting tokens
    /// that `verifier` accepts.
    pub fn builder(
        resource: impl Into<String>,
        verifier: impl TokenVerifier,
    ) -> RequireBearerBuilder {
        RequireBearerBuilder {
            resource: resource.into(),
            verifier: Arc::new(verifier),
            policy: ScopePolicy::default(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            resource_metadata: None,
            cors: Cors::default(),
            api_key_header: None,
            dpop: crate::dpop::DpopSettings::default(),
        }
    }

    /// A guard with the default policy (any valid token) and settings.
    pub fn new(
        resource: impl Into<String>,
        verifier: impl TokenVerifier,
    ) -> Result<Self, ConfigError> {
        Self::builder(resource, verifier).build()
    }

    /// The canonical resource URI.
    pub fn resource(&self) -> &str {
        &self.cfg.resource
    }

    /// The PRM URL sent in every challenge.
    pub fn resource_metadata_url(&self) -> &str {
        &self.cfg.resource_metadata
    }

    /// The scope policy.
    pub fn policy(&self) -> &ScopePolicy {
        &self.cfg.policy
    }
}

impl RequireBearerBuilder {
    /// Which scopes each request needs. Default: none beyond a valid token.
    pub fn policy(mut self, policy: ScopePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The largest `POST` body the guard reads to apply the policy; larger ones get `413`.
    /// Default [`DEFAULT_MAX_BODY_BYTES`]. Bodies are only read when the policy looks at
    /// JSON-RPC (or the body is form-encoded), so a default-only policy streams everything.
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// The `resource_metadata` URL of the challenges. Default: the RFC 9728 §3.1 path-inserted
    /// well-known URL of the resource, where [`crate::prm`] serves the document.
    pub fn resource_metadata_url(mut self, url: impl Into<String>) -> Self {
        self.resource_metadata = Some(url.into());
        self
    }

    /// Also answers CORS for `origin` (`https://app.example`), besides loopback origins. See
    /// [`crate::cors`]: the guard answers preflights itself, and adds
    /// `Access-Control-Allow-Origin` and the exposed headers to every response for an allowed
    /// origin, its refusals included. An unparsable origin is ignored (and logged).
    pub fn cors_allow_origin(mut self, origin: &str) -> Self {
        if let Cors::On(policy) = &mut self.cors {
            policy.add(origin);
        }
        self
    }

    /// Whether loopback origins (any port) get CORS answers. Default: yes (local tools such as
    /// the MCP Inspector run there).
    pub fn cors_allow_loopback(mut self, allow: bool) -> Self {
        if let Cors::On(policy) = &mut self.cors {
            policy.set_loopback(allow);
        }
        self
    }

    /// Turns the guard's CORS handling off, for an app that has its own CORS layer outside the
    /// guard. A preflight that reaches the guard is then an ordinary request: without a token it
    /// is refused with `401`, never handed on. Default: on.
    pub fn cors(mut self, enabled: bool) -> Self {
        self.cors = match (enabled, self.cors) {
            (false, _) => Cors::Off,
            (true, Cors::Off) => Cors::default(),
            (true, on) => on,
        };
        self
    }

    /// Also takes the credential from the header `name` (`X-API-Key`, say), for clients of API
    /// keys that cannot set `Authorization`. The value is verified exactly as a bearer token
    /// (the verifier decides what it is) and the scope policy applies alike; a request with both
    /// headers is refused. Default: none, only `Authorization: Bearer`.
    pub fn api_key_header(mut self, name: impl Into<String>) -> Self {
        self.api_key_header = Some(name.into());
        self
    }

    /// How DPoP proofs are judged (proof lifetime, replay cache size, clock). Default:
    /// [`crate::dpop::DpopSettings::default`].
    pub fn dpop(mut self, settings: crate::dpop::DpopSettings) -> Self {
        self.dpop = settings;
        self
    }

    /// Checks the settings and builds the layer.
    pub fn build(self) -> Result<RequireBearerLayer, ConfigError> {
        mcp_oauth_core::resource::validate(&self.resource)
            .map_err(|_| ConfigError::InvalidResource(self.resource.clone()))?;
        self.policy.validate()?;
        let resource_metadata = match self.resource_metadata {
            Some(url) => {
                url::Url::parse(&url).map_err(|_| ConfigError::InvalidUrl(url.clone()))?;
                url
            }
            None => mcp_oauth_core::wellknown::protected_resource_metadata_url(&self.resource)
                .ok_or_else(|| ConfigError::InvalidResource(self.resource.clone()))?,
        };
        let api_key_header = match self.api_key_header {
            Some(name) => Some(
                http::HeaderName::try_from(name.as_str())
                    .ok()
                    .filter(|h| *h != http::header::AUTHORIZATION)
                    .ok_or(ConfigError::InvalidHeaderName(name))?,
            ),
            None => None,
        };
        Ok(RequireBearerLayer {
            cfg: Arc::new(GuardConfig {
                resource: self.resource,
                resource_metadata,
                verifier: self.verifier,
                policy: self.policy,
                max_body_bytes: self.max_body_bytes,
                cors: self.cors,
                api_key_header,
                dpop: crate::dpop::DpopGuard::new(self.dpop),
            }),
        })
    }
}

layer_service! {
    /// The guarded service made by [`RequireBearerLayer`].
    RequireBearerLayer => RequireBearer { cfg: GuardConfig }
}

impl<S> RequireBearer<S> {
    /// The protected service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, B, ResBody> Service<Request<B>> for RequireBearer<S>
where
    S: Service<Request<GuardedBody<B>>, Response = Response<ResBody>> + Clone + Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The service that was driven to readiness is the one that must be called; a fresh
        // clone stays behind for the next request (tower's documented pattern).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let cors_origin = self.cfg.cors.allowed_origin(req.headers());
        ResponseFuture {
            state: State::Authorizing {
                auth: Box::pin(authorize(self.cfg.clone(), req)),
                inner: Some(inner),
            },
            cors_origin,
        }
    }
}

type AuthFuture<B> =
    Pin<Box<dyn Future<Output = Result<Request<GuardedBody<B>>, Response<Full<Bytes>>>> + Send>>;

pin_project! {
    /// The response future of [`RequireBearer`]: first the guard's decision, then (if the
    /// request passes) the inner service's future.
    pub struct ResponseFuture<F, S, B> {
        #[pin]
        state: State<F, S, B>,
        // The request's `Origin` when CORS allows it: every response then gets the CORS headers.
        cors_origin: Option<HeaderValue>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, S, B> {
        Authorizing { auth: AuthFuture<B>, inner: Option<S> },
        Calling { #[pin] fut: F },
        Done,
    }
}

impl<F, S, B> std::fmt::Debug for ResponseFuture<F, S, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, S, B, ResBody, E> Future for ResponseFuture<F, S, B>
where
    S: Service<Request<GuardedBody<B>>, Response = Response<ResBody>, Error = E, Future = F>,
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Authorizing { auth, inner } => {
                    let decision = ready!(auth.as_mut().poll(cx));
                    match decision {
                        Ok(req) => {
                            // Always `Some` here: it is taken exactly once, on this transition.
                            let Some(mut svc) = inner.take() else {
                                return Poll::Pending;
                            };
                            let fut = svc.call(req);
                            this.state.set(State::Calling { fut });
                        }
                        Err(mut refusal) => {
                            this.state.set(State::Done);
                            if let Some(origin) = this.cors_origin.take() {
                                cors::decorate(refusal.headers_mut(), origin);
                            }
                            return Poll::Ready(Ok(refusal.map(ResponseBody::refusal)));
                        }
                    }
                }
                StateProj::Calling { fut } => {
                    let mut resp = ready!(fut.poll(cx))?;
                    if let Some(origin) = this.cors_origin.take() {
                        cors::decorate(resp.headers_mut(), origin);
                    }
                    return Poll::Ready(Ok(resp.map(ResponseBody::inner)));
                }
                // Polled after completion: never resolves again (and never panics).
                StateProj::Done => return Poll::Pending,
            }
        }
    }
}
