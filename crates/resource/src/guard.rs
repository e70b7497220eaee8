//! The decision for one request: token extraction, reading the JSON-RPC body when the policy
//! needs it, verification, and the scope check. Framework-free: it takes an `http::Request`
//! and returns either the request to pass on (with the [`Principal`] in its extensions) or the
//! refusal to send.

use crate::body::GuardedBody;
use crate::content;
use crate::cors::{self, Cors};
use crate::error::{AuthError, VerifyError};
use crate::extract;
use crate::policy::{Need, ScopePolicy};
use crate::principal::Principal;
use crate::response;
use crate::verifier::SharedVerifier;
use bytes::{Bytes, BytesMut};
use http::header::CONTENT_LENGTH;
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
    pub(crate) cors: Cors,
    /// The header an API key may also come in (`X-API-Key`), if any.
    pub(crate) api_key_header: Option<http::HeaderName>,
    pub(crate) dpop: crate::dpop::DpopGuard,
}

impl std::fmt::Debug for GuardConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardConfig")
            .field("resource", &self.resource)
            .field("resource_metadata", &self.resource_metadata)
            .field("policy", &self.policy)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("cors", &self.cors)
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
    if cfg.cors.is_preflight(&req) {
        // Answered here, never handed on: a preflight carries no credentials (and may carry a
        // body), so forwarding it would reach the service without a token. Its body is dropped
        // unread.
        return Err(cors::preflight(cfg.cors.allowed_origin(req.headers())));
    }
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
    let invalid_request = |e: extract::ExtractError| AuthError::InvalidRequest(e.to_string());
    let (parts, body) = req.into_parts();
    extract::check_query(parts.uri.query()).map_err(invalid_request)?;
    // Borrowed from the headers, which stay in `parts` until the request is rebuilt.
    let token = extract::access_token(&parts.headers).map_err(invalid_request)?;
    let token = match &cfg.api_key_header {
        Some(name) => match (token, extract::header_token(&parts.headers, name)) {
            (Some(_), Ok(Some(_))) => return Err(invalid_request(extract::ExtractError::Both)),
            (Some(t), _) => Some(t),
            // A key in its own header is a bearer credential: never DPoP-bound.
            (None, key) => key
                .map_err(invalid_request)?
                .map(|k| (extract::Scheme::Bearer, k)),
        },
        None => token,
    };

    let (body, requirement) = if cfg.policy.inspects_body() {
        read_for_policy(cfg, &parts, body).await?
    } else if extract::is_form(&parts.headers) {
        let bytes = read_body(body, &parts.headers, cfg.max_body_bytes).await?;
        extract::check_form_body(&bytes).map_err(invalid_request)?;
        (GuardedBody::buffered(bytes), cfg.policy.need_without_body())
    } else {
        (GuardedBody::streaming(body), cfg.policy.need_without_body())
    };

    let principal = authenticate(cfg, &parts, token, &requirement).await?;
    let mut req = Request::from_parts(parts, body);
    if let Some(p) = principal {
        req.extensions_mut().insert(p);
    }
    Ok(req)
}

/// Reads what a policy that inspects bodies needs, failing closed ([`crate::content`]): a
/// `POST` must be plain UTF-8 JSON; any other method may carry no body.
async fn read_for_policy<'c, B>(
    cfg: &'c GuardConfig,
    parts: &http::request::Parts,
    body: B,
) -> Result<(GuardedBody<B>, Need<'c>), AuthError>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    if parts.method != Method::POST {
        if body.is_end_stream() {
            return Ok((GuardedBody::streaming(body), cfg.policy.need_without_body()));
        }
        // A chunked body may still turn out empty; anything in it is refused.
        let bytes = read_body(body, &parts.headers, cfg.max_body_bytes).await?;
        if !bytes.is_empty() {
            return Err(content::body_not_allowed(&parts.method));
        }
        return Ok((GuardedBody::buffered(bytes), cfg.policy.need_without_body()));
    }
    content::check_json_post(&parts.headers)?;
    let bytes = read_body(body, &parts.headers, cfg.max_body_bytes).await?;
    content::check_json_bytes(&bytes)?;
    let need = cfg
        .policy
        .need_for_body(&bytes)
        .map_err(|e| AuthError::MalformedBody(e.to_string()))?;
    Ok((GuardedBody::buffered(bytes), need))
}

/// Verifies the token (if any) and checks it against the requirement. A public request without
/// a token passes with no principal; with a token, the token must still be valid. The
/// requirement's scopes are copied only into a refusal.
async fn authenticate(
    cfg: &GuardConfig,
    parts: &http::request::Parts,
    token: Option<(extract::Scheme, &str)>,
    requirement: &Need<'_>,
) -> Result<Option<Principal>, AuthError> {
    let Some((scheme, token)) = token else {
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
    // RFC 9449 §7: the scheme must fit the token's binding, and a bound token needs its proof.
    cfg.dpop
        .check(
            &parts.headers,
            &parts.method,
            &crate::dpop::request_url(&cfg.resource, parts.uri.path()),
            scheme,
            token,
            &principal,
        )
        .await?;
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
