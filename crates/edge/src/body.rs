//! The body types of the proxy: one boxed, streaming body for everything sent
//! to viewers and origins, [`Replayable`], the request body that can be
//! sent again when the first origin never read it, and [`Watched`], which
//! tells when a request body has been sent whole.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// The body of every response the edge sends and every request it forwards.
pub type EdgeBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;

/// A body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> EdgeBody {
    http_body_util::Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

pub fn empty() -> EdgeBody {
    full(Bytes::new())
}

/// Boxes any body.
pub fn boxed<B>(body: B) -> EdgeBody
where
    B: Body<Data = Bytes> + Send + Sync + 'static,
    B::Error: Into<BoxError>,
{
    body.map_err(Into::into).boxed()
}

/// Reads a whole body of at most `limit` bytes.
pub async fn read_at_most(mut body: EdgeBody, limit: usize) -> Result<Bytes, BoxError> {
    let mut out = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            if out.len() + data.len() > limit {
                return Err(format!("the body is larger than {limit} bytes").into());
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out.freeze())
}

/// A streamed request body handed to one origin attempt. If that attempt
/// ends without reading a byte (the connection failed before the request was
/// sent), the body goes back to its [`Slot`] and the next origin gets it.
/// Once a frame was read it is gone for good: the request was (partly) sent.
pub struct Replayable {
    inner: Option<EdgeBody>,
    slot: Slot,
    read: bool,
}

/// Where an unread body waits between attempts.
#[derive(Clone, Default)]
pub struct Slot(Arc<Mutex<Option<EdgeBody>>>);

impl Slot {
    pub fn new(body: EdgeBody) -> Self {
        Self(Arc::new(Mutex::new(Some(body))))
    }

    /// Whether the body is still unread (an attempt may take it).
    pub fn available(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }

    /// The body for the next attempt, if it is still unread.
    pub fn take(&self) -> Option<Replayable> {
        let body = self.0.lock().unwrap_or_else(|e| e.into_inner()).take()?;
        Some(Replayable {
            inner: Some(body),
            slot: self.clone(),
            read: false,
        })
    }
}

impl Drop for Replayable {
    fn drop(&mut self) {
        if !self.read
            && let Some(body) = self.inner.take()
        {
            *self.slot.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(body);
        }
    }
}

impl Body for Replayable {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(Some(_))) {
            this.read = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map(|b| b.size_hint()).unwrap_or_default()
    }
}

/// A request body that says when it has been sent whole (its last frame
/// was read, or it was empty): the origin's response timeout starts then,
/// so a long upload is not cut by it.
pub struct Watched {
    inner: EdgeBody,
    sent: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Watched {
    pub fn new(inner: EdgeBody) -> (Self, tokio::sync::oneshot::Receiver<()>) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut body = Self { inner, sent: Some(tx) };
        if body.inner.is_end_stream() {
            body.finish();
        }
        (body, rx)
    }

    fn finish(&mut self) {
        if let Some(tx) = self.sent.take() {
            let _ = tx.send(());
        }
    }
}

impl Body for Watched {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.finish(),
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.finish(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_watched_body_says_when_it_was_read_whole() {
        let (empty_body, mut sent) = Watched::new(empty());
        assert!(sent.try_recv().is_ok(), "an empty body is sent at once");
        drop(empty_body);
        let chunks = futures::stream::iter([Ok::<_, BoxError>(Frame::data(Bytes::from("a"))), Ok(Frame::data(Bytes::from("b")))]);
        let (mut body, mut sent) = Watched::new(http_body_util::StreamBody::new(chunks).boxed());
        assert!(body.frame().await.is_some());
        assert!(sent.try_recv().is_err(), "not yet: one frame is left");
        assert!(body.frame().await.is_some());
        assert!(body.frame().await.is_none());
        assert!(sent.try_recv().is_ok());
    }

    #[tokio::test]
    async fn an_unread_body_comes_back_and_a_read_one_does_not() {
        let slot = Slot::new(full("payload"));
        let first = slot.take().unwrap();
        assert!(slot.take().is_none(), "one attempt holds it at a time");
        drop(first);
        let second = slot.take().expect("unread: back in the slot");
        let bytes = second.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"payload");
        assert!(slot.take().is_none(), "read: gone");
    }
}
