//! An adapter for rmcp's streamable-HTTP client transport (feature `rmcp`).
//!
//! [`OAuthHttpClient`] implements rmcp's [`StreamableHttpClient`] on top of a `reqwest::Client`
//! and a [`TokenManager`]: every request (POST, GET stream, DELETE) carries the manager's current
//! bearer token; a 401 is answered by refreshing or authorizing and retrying once, a 403
//! `insufficient_scope` by stepping up and retrying (at most `max_attempts` tries in all).
//! Without a stored token the first request goes out without one, so that the server's
//! challenge (its `resource_metadata` and `scope`) drives discovery and scope selection.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mcp_oauth_client::{ClientConfig, TokenManager, transport::OAuthHttpClient};
//! use rmcp::ServiceExt;
//! use std::sync::Arc;
//!
//! let manager = Arc::new(TokenManager::builder(ClientConfig::new()).build()?);
//! let transport = OAuthHttpClient::new(manager, "https://mcp.example.com/mcp")?.into_transport();
//! let client = ().serve(transport).await?;
//! let tools = client.list_all_tools().await?;
//! # let _ = tools; Ok(()) }
//! ```

use crate::error::{Error, Result};
use crate::manager::TokenManager;
use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use mcp_oauth_core::challenge::find_bearer;
use rmcp::model::{ClientJsonRpcMessage, ClientRequest};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpClientTransportConfig, StreamableHttpError,
    StreamableHttpPostResponse, StreamableHttpResponseLimits,
};
use sse_stream::Sse;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// Why a request through [`OAuthHttpClient`] failed below the MCP layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The HTTP client failed (connection refused, TLS, reset…).
    #[error("HTTP: {0}")]
    Http(#[source] reqwest::Error),
    /// Getting, refreshing or stepping up a token failed.
    #[error("authorization: {0}")]
    OAuth(#[source] Error),
}

type HttpError = StreamableHttpError<TransportError>;

/// A [`StreamableHttpClient`] that authorizes every request with tokens from a
/// [`TokenManager`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OAuthHttpClient {
    http: reqwest::Client,
    manager: Arc<TokenManager>,
    server_url: Arc<str>,
}

impl OAuthHttpClient {
    /// A client for the MCP server at `server_url` with a default HTTP client (redirects off:
    /// a bearer token never follows a redirect).
    pub fn new(manager: Arc<TokenManager>, server_url: impl Into<String>) -> Result<Self> {
        let http = crate::http::bearer_http_client(&manager)?;
        Ok(Self::with_http_client(manager, server_url, http))
    }

    /// A client using an HTTP client of the caller's.
    pub fn with_http_client(
        manager: Arc<TokenManager>,
        server_url: impl Into<String>,
        http: reqwest::Client,
    ) -> Self {
        Self {
            http,
            manager,
            server_url: Arc::from(server_url.into()),
        }
    }

    /// The MCP server URL.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// The token manager.
    pub fn manager(&self) -> &Arc<TokenManager> {
        &self.manager
    }

    /// An rmcp transport for the server with rmcp's default settings.
    pub fn into_transport(self) -> StreamableHttpClientTransport<Self> {
        let config = StreamableHttpClientTransportConfig::with_uri(self.server_url.to_string());
        StreamableHttpClientTransport::with_client(self, config)
    }

    /// An rmcp transport with the caller's settings (its `auth_header` is ignored).
    pub fn into_transport_with(
        self,
        config: StreamableHttpClientTransportConfig,
    ) -> StreamableHttpClientTransport<Self> {
        StreamableHttpClientTransport::with_client(self, config)
    }

    /// The custom headers of one attempt: the caller's, and the token's `Authorization` (with
    /// a DPoP proof for `method uri` when the token is bound to a key).
    async fn headers_with(
        &self,
        custom: &HashMap<HeaderName, HeaderValue>,
        token: Option<&str>,
        method: &str,
        uri: &str,
    ) -> Result<HashMap<HeaderName, HeaderValue>, HttpError> {
        let mut headers = custom.clone();
        if let Some(t) = token {
            let auth = self
                .manager
                .authorization_headers(&self.server_url, t, method, uri)
                .await
                .map_err(oauth)?;
            headers.extend(auth);
        }
        Ok(headers)
    }

    /// RFC 9449 §9: the resource server wants a nonce (`use_dpop_nonce`), but rmcp's error
    /// keeps only `WWW-Authenticate`, so the nonce is read from the answer to the same request
    /// made once more with a fresh proof (refused again, for want of the nonce, before it is
    /// acted on). Whether a nonce was learnt.
    async fn learn_nonce(
        &self,
        headers: HashMap<HeaderName, HeaderValue>,
        method: &str,
        uri: &str,
        body: Option<&[u8]>,
    ) -> bool {
        let Ok(m) = reqwest::Method::from_bytes(method.as_bytes()) else {
            return false;
        };
        let mut req = self.http.request(m, uri);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(
                    reqwest::header::ACCEPT,
                    "application/json, text/event-stream",
                )
                .body(b.to_vec());
        }
        match req.send().await {
            Ok(resp) => self.manager.note_dpop_nonce(uri, resp.headers()),
            Err(_) => false,
        }
    }

    /// Runs `op` with the current token's headers and reacts to 401 (a DPoP nonce, else a
    /// refresh or authorization) and 403 `insufficient_scope`.
    async fn authorized<T, F, Fut>(
        &self,
        method: &str,
        uri: &str,
        body: Option<&[u8]>,
        custom: &HashMap<HeaderName, HeaderValue>,
        op: F,
    ) -> Result<T, HttpError>
    where
        F: Fn(HashMap<HeaderName, HeaderValue>) -> Fut + Send + Sync,
        Fut: Future<Output = Result<T, StreamableHttpError<reqwest::Error>>> + Send,
    {
        let url: &str = &self.server_url;
        let max = self.manager.config().max_attempts;
        let mut token = self.manager.cached_token(url).await.map_err(oauth)?;
        let mut retried_401 = false;
        let mut retried_nonce = false;
        let mut scope_attempts = 0u32;
        loop {
            let headers = self
                .headers_with(custom, token.as_deref(), method, uri)
                .await?;
            match op(headers).await {
                Ok(v) => return Ok(v),
                Err(StreamableHttpError::AuthRequired(e))
                    if !retried_nonce && wants_dpop_nonce(&e.www_authenticate_header) =>
                {
                    retried_nonce = true;
                    let probe = self
                        .headers_with(custom, token.as_deref(), method, uri)
                        .await?;
                    if !self.learn_nonce(probe, method, uri, body).await {
                        return Err(StreamableHttpError::AuthRequired(e));
                    }
                }
                Err(StreamableHttpError::AuthRequired(e)) if !retried_401 => {
                    retried_401 = true;
                    let c = find_bearer([e.www_authenticate_header.as_str()]);
                    let t = self
                        .manager
                        .handle_unauthorized(url, c.as_ref(), token.as_deref())
                        .await
                        .map_err(oauth)?;
                    token = Some(t);
                }
                Err(StreamableHttpError::InsufficientScope(e)) => {
                    let Some(c) = find_bearer([e.www_authenticate_header.as_str()])
                        .filter(|c| c.error.as_deref() == Some("insufficient_scope"))
                    else {
                        return Err(StreamableHttpError::InsufficientScope(e));
                    };
                    scope_attempts += 1;
                    if scope_attempts >= max {
                        return Err(oauth(Error::StepUpExhausted {
                            attempts: scope_attempts,
                            scope: c.scope,
                        }));
                    }
                    token = Some(self.manager.step_up(url, &c).await.map_err(oauth)?);
                }
                Err(e) => return Err(convert(e)),
            }
        }
    }
}

/// Whether a `WWW-Authenticate` value holds a `DPoP` challenge with `error="use_dpop_nonce"`.
fn wants_dpop_nonce(header: &str) -> bool {
    mcp_oauth_core::challenge::parse(header).is_ok_and(|cs| {
        cs.iter().any(|c| {
            c.scheme.eq_ignore_ascii_case(mcp_oauth_core::dpop::SCHEME)
                && c.param("error") == Some("use_dpop_nonce")
        })
    })
}

fn oauth(e: Error) -> HttpError {
    StreamableHttpError::Client(TransportError::OAuth(e))
}

/// Maps the reqwest client's error type to ours, variant by variant.
fn convert(e: StreamableHttpError<reqwest::Error>) -> HttpError {
    use StreamableHttpError as E;
    match e {
        E::Sse(e) => E::Sse(e),
        E::Io(e) => E::Io(e),
        E::Client(e) => E::Client(TransportError::Http(e.without_url())),
        E::HttpStatus(e) => E::HttpStatus(e),
        E::UnexpectedEndOfStream => E::UnexpectedEndOfStream,
        E::UnexpectedServerResponse(m) => E::UnexpectedServerResponse(m),
        E::ResponseBodyTooLarge { max_size } => E::ResponseBodyTooLarge { max_size },
        E::UnexpectedContentType(c) => E::UnexpectedContentType(c),
        E::ServerDoesNotSupportSse => E::ServerDoesNotSupportSse,
        E::ServerDoesNotSupportDeleteSession => E::ServerDoesNotSupportDeleteSession,
        E::TokioJoinError(e) => E::TokioJoinError(e),
        E::Deserialize(e) => E::Deserialize(e),
        E::TransportChannelClosed => E::TransportChannelClosed,
        E::MissingSessionIdInResponse => E::MissingSessionIdInResponse,
        E::AuthRequired(e) => E::AuthRequired(e),
        E::InsufficientScope(e) => E::InsufficientScope(e),
        E::ReservedHeaderConflict(h) => E::ReservedHeaderConflict(h),
        E::SessionExpired => E::SessionExpired,
        E::SessionRecoveryTimeout => E::SessionRecoveryTimeout,
        E::ReinitializationFailed(e) => E::ReinitializationFailed(e),
        E::ControlRequestTimeout => E::ControlRequestTimeout,
        other => E::UnexpectedServerResponse(other.to_string().into()),
    }
}

impl StreamableHttpClient for OAuthHttpClient {
    type Error = TransportError;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            None,
            custom_headers,
            StreamableHttpResponseLimits::default(),
        )
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        let mut limits = StreamableHttpResponseLimits::default();
        limits.max_sse_event_size = max_sse_event_size;
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            None,
            custom_headers,
            limits,
        )
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        let mut custom_headers = custom_headers;
        // rmcp adds MCP-Protocol-Version only after initialization; 2026-07-28 servers want it
        // on every request, initialize included.
        if let ClientJsonRpcMessage::Request(r) = &message
            && let ClientRequest::InitializeRequest(init) = &r.request
            && let Ok(v) = HeaderValue::from_str(init.params.protocol_version.as_str())
        {
            custom_headers
                .entry(HeaderName::from_static("mcp-protocol-version"))
                .or_insert(v);
        }
        let body = serde_json::to_vec(&message).ok();
        self.authorized("POST", &uri, body.as_deref(), &custom_headers, |headers| {
            self.http.post_message_with_response_limits(
                uri.clone(),
                message.clone(),
                session_id.clone(),
                None,
                headers,
                limits,
            )
        })
        .await
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), HttpError> {
        self.authorized("DELETE", &uri, None, &custom_headers, |headers| {
            self.http
                .delete_session(uri.clone(), session_id.clone(), None, headers)
        })
        .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, HttpError> {
        self.get_stream_with_max_sse_event_size(
            uri,
            session_id,
            last_event_id,
            None,
            custom_headers,
            StreamableHttpResponseLimits::default().max_sse_event_size,
        )
        .await
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        _auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, HttpError> {
        self.authorized("GET", &uri, None, &custom_headers, |headers| {
            self.http.get_stream_with_max_sse_event_size(
                uri.clone(),
                session_id.clone(),
                last_event_id.clone(),
                None,
                headers,
                max_sse_event_size,
            )
        })
        .await
    }
}
