//! The bodies that stream through the proxy: [`ProxyBody`] on the way down, and the
//! caller's body on the way up, wrapped so the client can take it and so the proxy sees
//! its progress. Neither holds more than the chunk in hand.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use bytes::{Buf as _, Bytes};
use http_body::{Body, Frame, SizeHint};
use sync_wrapper::SyncWrapper;
use tokio::sync::Notify;

/// The error type of the bodies the proxy streams.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of a [`Proxy`](super::Proxy) answer: the upstream's response body, streamed
/// chunk by chunk as the caller reads it, or the proxy's own problem document.
///
/// An upstream that fails mid-body ends the stream with an error (the server then cuts
/// the connection, so the caller sees a truncated answer, never a complete-looking one);
/// the failure is logged without the URL.
pub struct ProxyBody {
    inner: reqwest::Body,
}

impl ProxyBody {
    pub(crate) fn upstream(inner: reqwest::Body) -> Self {
        Self { inner }
    }
}

impl From<String> for ProxyBody {
    fn from(text: String) -> Self {
        Self {
            inner: reqwest::Body::from(text),
        }
    }
}

impl fmt::Debug for ProxyBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyBody").finish_non_exhaustive()
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
            Some(Err(error)) => {
                let error = error.without_url();
                tracing::warn!(%error, "keygate proxy: the upstream's response body failed mid-stream");
                Poll::Ready(Some(Err(Box::new(error))))
            }
            other => Poll::Ready(other.map(|frame| frame.map_err(|never| Box::new(never) as _))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// What the proxy learns of the caller's body while the client sends it.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Woken at each chunk the client takes, and at the end: the response timeout
    /// starts over.
    pub(crate) moved: Notify,
    /// The caller's body failed (the caller went away): its fault, not the upstream's.
    pub(crate) failed: AtomicBool,
}

/// The caller's body as the client sends it upstream.
///
/// The client needs a `Sync` body and the frameworks' bodies are not all `Sync` (axum's
/// is not): the body sits in a [`SyncWrapper`], which only ever hands it out by `&mut`.
/// Its size hint is kept beside it (it is read through `&self`) and counted down, so a
/// body of known length goes upstream with a `Content-Length` and an empty one without a
/// body.
pub(crate) struct RequestBody<B> {
    inner: SyncWrapper<Pin<Box<B>>>,
    hint: SizeHint,
    ended: bool,
    progress: Arc<Progress>,
}

impl<B: Body> RequestBody<B> {
    pub(crate) fn new(body: B, progress: Arc<Progress>) -> Self {
        let hint = body.size_hint();
        let ended = body.is_end_stream();
        Self {
            inner: SyncWrapper::new(Box::pin(body)),
            hint,
            ended,
            progress,
        }
    }
}

impl<B> Body for RequestBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, BoxError>>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        let polled = ready!(this.inner.get_mut().as_mut().poll_frame(cx));
        this.progress.moved.notify_one();
        match polled {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    let taken = data.remaining() as u64;
                    this.hint = match this.hint.exact() {
                        Some(left) => SizeHint::with_exact(left.saturating_sub(taken)),
                        None => {
                            let mut hint = SizeHint::new();
                            hint.set_lower(this.hint.lower().saturating_sub(taken));
                            hint
                        }
                    };
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(error)) => {
                this.ended = true;
                this.progress.failed.store(true, Ordering::Release);
                Poll::Ready(Some(Err(error.into())))
            }
            None => {
                this.ended = true;
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }

    fn size_hint(&self) -> SizeHint {
        self.hint
    }
}
