//! The demo's MCP sessions: rmcp's in-memory [`LocalSessionManager`], telling the per-address
//! [`SessionRegistry`] when a session ends (closed by `DELETE`, or idle for rmcp's keep-alive),
//! so that the [`mcp_oauth_resource::SessionLimitLayer`] in front of the service frees the
//! client's slot at once.

use futures::Stream;
use mcp_oauth_resource::SessionRegistry;
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::session::{
    EventStore, RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};
use std::sync::Arc;

/// At most this many live MCP sessions per client address (IPv4, or IPv6 /64) in the demo.
pub const MAX_SESSIONS_PER_CLIENT: usize = 64;

/// [`LocalSessionManager`] that reports closed sessions to a [`SessionRegistry`].
#[derive(Debug)]
pub struct CountedSessions {
    inner: LocalSessionManager,
    registry: Arc<SessionRegistry>,
}

impl CountedSessions {
    pub fn new(registry: Arc<SessionRegistry>) -> Self {
        Self {
            inner: LocalSessionManager::default(),
            registry,
        }
    }
}

impl SessionManager for CountedSessions {
    type Error = <LocalSessionManager as SessionManager>::Error;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.inner.create_session().await
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        self.inner.initialize_session(id, message).await
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.inner.has_session(id).await
    }

    /// Called by rmcp for a `DELETE` and when a session's worker ends (idle timeout).
    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.registry.forget(id);
        self.inner.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_stream(id, message).await
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        self.inner.accept_message(id, message).await
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.create_standalone_stream(id).await
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        self.inner.resume(id, last_event_id).await
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        self.inner.restore_session(id).await
    }

    fn event_store(&self) -> Option<Arc<dyn EventStore>> {
        self.inner.event_store()
    }
}
