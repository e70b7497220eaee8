//! The body types the guard passes on and answers with.
//!
//! The guard sometimes has to read a request body (to see which JSON-RPC methods it carries)
//! and then hand it on unchanged; the body type it hands on is therefore either the bytes it read
//! or the original stream. Likewise its responses are either the inner service's or its own small
//! JSON refusals. Both are plain enums over `http_body::Body`, so the guard works in front of
//! axum, hyper, rmcp's `StreamableHttpService` or any other tower service.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use pin_project_lite::pin_project;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

pin_project! {
    /// The request body the guarded service receives: the bytes the guard read (unchanged), or
    /// the original body when the guard did not need to look at it.
    #[project = GuardedBodyProj]
    pub enum GuardedBody<B> {
        /// The body was read by the guard; these are its exact bytes.
        Buffered { #[pin] body: Full<Bytes> },
        /// The body was not touched.
        Streaming { #[pin] body: B },
    }
}

impl<B> GuardedBody<B> {
    /// A body of bytes already read.
    pub fn buffered(bytes: Bytes) -> Self {
        Self::Buffered {
            body: Full::new(bytes),
        }
    }

    /// The original body, untouched.
    pub fn streaming(body: B) -> Self {
        Self::Streaming { body }
    }
}

impl<B> Body for GuardedBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.project() {
            GuardedBodyProj::Buffered { body } => {
                let frame = ready!(body.poll_frame(cx));
                Poll::Ready(frame.map(|r| r.map_err(|e: Infallible| match e {})))
            }
            GuardedBodyProj::Streaming { body } => body.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Buffered { body } => body.is_end_stream(),
            Self::Streaming { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Buffered { body } => body.size_hint(),
            Self::Streaming { body } => body.size_hint(),
        }
    }
}

pin_project! {
    /// A response body of a guard layer: the inner service's, or the guard's own refusal.
    #[project = ResponseBodyProj]
    pub enum ResponseBody<B> {
        /// The protected service answered.
        Inner { #[pin] body: B },
        /// The guard answered (401, 403, 400, 405, 413, 415, 429, 503, a preflight) with a small
        /// JSON body.
        Refusal { #[pin] body: Full<Bytes> },
    }
}

impl<B> ResponseBody<B> {
    /// Wraps the inner service's body.
    pub fn inner(body: B) -> Self {
        Self::Inner { body }
    }

    /// Wraps a refusal body.
    pub fn refusal(body: Full<Bytes>) -> Self {
        Self::Refusal { body }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.project() {
            ResponseBodyProj::Inner { body } => body.poll_frame(cx),
            ResponseBodyProj::Refusal { body } => {
                let frame = ready!(body.poll_frame(cx));
                Poll::Ready(frame.map(|r| r.map_err(|e: Infallible| match e {})))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Inner { body } => body.is_end_stream(),
            Self::Refusal { body } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Inner { body } => body.size_hint(),
            Self::Refusal { body } => body.size_hint(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn buffered_body_yields_its_bytes() {
        let b: GuardedBody<Full<Bytes>> = GuardedBody::buffered(Bytes::from_static(b"{\"a\":1}"));
        assert_eq!(b.size_hint().exact(), Some(7));
        let out = b.collect().await.unwrap().to_bytes();
        assert_eq!(&out[..], b"{\"a\":1}");
    }

    #[tokio::test]
    async fn streaming_and_refusal_bodies() {
        let b = GuardedBody::streaming(Full::new(Bytes::from_static(b"x")));
        assert_eq!(&b.collect().await.unwrap().to_bytes()[..], b"x");
        let r: ResponseBody<Full<Bytes>> =
            ResponseBody::refusal(Full::new(Bytes::from_static(b"no")));
        assert_eq!(&r.collect().await.unwrap().to_bytes()[..], b"no");
    }
}
