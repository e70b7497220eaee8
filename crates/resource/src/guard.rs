//! The decision for one request: token extraction, reading the JSON-RPC body when the policy
//! needs it, verification, and the scope check. Framework-free: it takes an `http::Request`
//! and returns either the request to pass on (with the [`Principal`] in its extensions) or the
//! refusal to send.

use crate::body::GuardedBody;
use crate::error::{AuthError, VerifyError};
use crate::extract;
use crate::policy::{Need, ScopePolicy};
use crate::principal::Principal;
use crate::response;
use crate::verifier::SharedVerifier;
use bytes::{Bytes, BytesMut};
use http::header::{ACCESS_CONTROL_REQUEST_METHOD, CONTENT_LENGTH, ORIGIN};
use http::{HeaderMap, Method, Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use std::sync::Arc;

/// Errors of request bodies, boxed.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The settings of one guard, shared by all its service clones.
pub(crate) struct GuardConfig {
    pub(crate) resource: String,
    pub(crate) resource_metadata: String,
    pub(crate) verifier: SharedVerifier,
    pub(crate) policy: ScopePolicy,
    pub(crate) max_body_bytes: usize,
}

impl std::fmt::Debug for GuardConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardConfig")
            .field("resource", &self.resource)
            .field("resource_metadata", &self.resource_metadata)
            .field("policy", &self.policy)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// Either the request to hand on, or the response that refuses it.
pub(crate) type Decision<B> = Result<Request<GuardedBody<B>>, Response<Full<Bytes>>>;

/// Decides one request.
pub(crate) async fn authorize<B>(cfg: Arc<GuardConfig>, req: Request<B>) -> Decision<B>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    match decide(&cfg, req).await {
        Ok(req) => Ok(req),
        Err(err) => {
            tracing::debug!(target: "mcp_oauth::resource", error = %err, "request refused");
            Err(response::refusal(&err, &cfg.resource_metadata))
        }
    }
}

async fn decide<B>(cfg: &GuardConfig, req: Request<B>) -> Result<Request<GuardedBody<B>>, AuthError>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    if is_cors_preflight(&req) {
        // A browser's preflight never carries credentials; refusing it would break CORS for
        // every browser-based client. It has no body and runs no MCP method.
        let (parts, body) = req.into_parts();
        return Ok(Request::from_parts(parts, GuardedBody::streaming(body)));
    }
    let invalid_request = |e: extract::ExtractError| AuthError::InvalidRequest(e.to_string());
    let (parts, body) = req.into_parts();
    extract::check_query(parts.uri.query()).map_err(invalid_request)?;
    // Borrowed from the headers, which stay in `parts` until the request is rebuilt.
    let token = extract::bearer_token(&parts.headers).map_err(invalid_request)?;

    let is_form = extract::is_form(&parts.headers);
    let inspect_jsonrpc = parts.method == Method::POST && cfg.policy.inspects_body();
    let (body, requirement) = if is_form || inspect_jsonrpc {
        let bytes = read_body(body, &parts.headers, cfg.max_body_bytes).await?;
        if is_form {
            extract::check_form_body(&bytes).map_err(invalid_request)?;
        }
        let requirement = if inspect_jsonrpc && !is_form {
            cfg.policy.need_for_body(&bytes)
        } else {
            cfg.policy.need_without_body()
        };
        (GuardedBody::buffered(bytes), requirement)
    } else {
        (GuardedBody::streaming(body), cfg.policy.need_without_body())
    };

    let principal = authenticate(cfg, token, &requirement).await?;
    let mut req = Request::from_parts(parts, body);
    if let Some(p) = principal {
        req.extensions_mut().insert(p);
    }
    Ok(req)
}

/// `OPTIONS` with `Origin` and `Access-Control-Request-Method`: a CORS preflight.
fn is_cors_preflight<B>(req: &Request<B>) -> bool {
    req.method() == Method::OPTIONS
        && req.headers().contains_key(ORIGIN)
        && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

/// Verifies the token (if any) and checks it against the requirement. A public request without
/// a token passes with no principal; with a token, the token must still be valid. The
/// requirement's scopes are copied only into a refusal.
async fn authenticate(
    cfg: &GuardConfig,
    token: Option<&str>,
    requirement: &Need<'_>,
) -> Result<Option<Principal>, AuthError> {
    let Some(token) = token else {
        return if requirement.public {
            Ok(None)
        } else {
            Err(AuthError::MissingToken {
                needed: (*requirement.scopes).clone(),
            })
        };
    };
    // A cache hit answers at once, without the boxed future of `verify`.
    let verified = match cfg.verifier.cached(token) {
        Some(verified) => verified,
        None => cfg.verifier.verify(token).await,
    };
    let principal = match verified {
        Ok(p) => p,
        Err(VerifyError::InvalidToken(description)) => {
            return Err(AuthError::InvalidToken {
                description,
                needed: (*requirement.scopes).clone(),
            });
        }
        Err(VerifyError::Unavailable(detail)) => {
            tracing::warn!(target: "mcp_oauth::resource", detail = %detail, "token could not be verified: issuer unavailable");
            return Err(AuthError::Unavailable);
        }
    };
    if !requirement.public && !principal.scopes.is_superset(&requirement.scopes) {
        let scope = cfg.policy.step_up(&requirement.scopes, &principal.scopes);
        tracing::info!(
            target: "mcp_oauth::resource",
            subject = principal.subject.as_deref().unwrap_or(""),
            client_id = principal.client_id.as_deref().unwrap_or(""),
            needed = %*requirement.scopes,
            "insufficient scope; step-up requested"
        );
        return Err(AuthError::InsufficientScope { scope });
    }
    Ok(Some(principal))
}

/// Reads a body of at most `limit` bytes (refusing early on a larger `Content-Length`).
async fn read_body<B>(body: B, headers: &HeaderMap, limit: usize) -> Result<Bytes, AuthError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(AuthError::BodyTooLarge { limit });
    }
    let map_err = |e: BoxError| {
        if e.downcast_ref::<LengthLimitError>().is_some() {
            AuthError::BodyTooLarge { limit }
        } else {
            AuthError::BodyUnreadable
        }
    };
    // A body in one chunk (the usual case) is handed on as it came, without copying it or
    // allocating a list of chunks; trailers are dropped, as `collect().to_bytes()` drops them.
    let mut body = std::pin::pin!(Limited::new(body, limit));
    let mut first: Option<Bytes> = None;
    let mut more: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(map_err)?.into_data() else {
            continue;
        };
        match (&mut first, &mut more) {
            (_, Some(buf)) => buf.extend_from_slice(&data),
            (Some(head), None) => {
                let mut buf = BytesMut::with_capacity(head.len() + data.len());
                buf.extend_from_slice(head);
                buf.extend_from_slice(&data);
                more = Some(buf);
            }
            (None, None) => first = Some(data),
        }
    }
    Ok(match (first, more) {
        (_, Some(buf)) => buf.freeze(),
        (Some(head), None) => head,
        (None, None) => Bytes::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Frame;
    use http_body_util::StreamBody;

    type Chunk = Result<Frame<Bytes>, BoxError>;
    type Chunks = futures::stream::Iter<std::vec::IntoIter<Chunk>>;

    fn chunked(chunks: Vec<Chunk>) -> StreamBody<Chunks> {
        StreamBody::new(futures::stream::iter(chunks))
    }

    #[tokio::test]
    async fn reads_bodies_in_any_number_of_chunks() {
        let h = HeaderMap::new();
        let data = |s: &'static str| Ok(Frame::data(Bytes::from_static(s.as_bytes())));
        let read = |c| read_body(chunked(c), &h, 10);
        assert_eq!(read(vec![]).await.unwrap(), Bytes::new());
        assert_eq!(read(vec![data("abc")]).await.unwrap(), "abc");
        let trailers = Ok(Frame::trailers(HeaderMap::new()));
        assert_eq!(
            read(vec![data("ab"), data(""), data("cd"), trailers, data("e")])
                .await
                .unwrap(),
            "abcde"
        );
        assert!(matches!(
            read(vec![data("abcdef"), data("ghijk")]).await,
            Err(AuthError::BodyTooLarge { limit: 10 })
        ));
        assert!(matches!(
            read(vec![data("ab"), Err("boom".into())]).await,
            Err(AuthError::BodyUnreadable)
        ));
    }
}
