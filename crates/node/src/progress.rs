//! Body-progress timeout of request bodies, and the response body that ends a
//! request in flight.
//!
//! [`ProgressBody`] fails with [`Stalled`] when the client sends no byte for
//! the progress timeout while the server is waiting for one. Time the server
//! spends not reading (writing to disk, waiting for a commit) does not count,
//! and a slow body that keeps moving never times out. The stall is recorded in
//! the body's [`BodyFaults`], and the node answers an S3 request whose body
//! stalled with `RequestTimeout` (400); DynamoDB answers a serialization
//! error. Either way hyper closes the connection, as the body is unfinished.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::conn::InFlight;

/// The error of a request body that stopped moving. Its text names S3's code.
#[derive(Debug, thiserror::Error)]
#[error("RequestTimeout: the request body sent no bytes for {0:?}")]
pub struct Stalled(pub Duration);

/// What went wrong with a request body, recorded for the node to answer in
/// the protocol's terms when the handler reports only "the body failed"
/// (s3s answers a failed read of an XML body with 500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFault {
    /// The client stopped sending.
    Stalled,
    /// An XML document held a character XML forbids.
    NotXml,
}

/// The first fault of one request's body. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct BodyFaults(Arc<OnceLock<BodyFault>>);

impl BodyFaults {
    pub fn record(&self, fault: BodyFault) {
        let _ = self.0.set(fault);
    }

    pub fn get(&self) -> Option<BodyFault> {
        self.0.get().copied()
    }
}

/// Whether a request body was read to its end. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct BodyEnd(Arc<AtomicBool>);

impl BodyEnd {
    pub fn reached(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Release);
    }
}

/// A request body error: the client's, or a stall.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(transparent)]
    Stalled(#[from] Stalled),
    #[error(transparent)]
    Transport(#[from] hyper::Error),
}

/// A request body that must keep moving.
pub struct ProgressBody<B> {
    inner: B,
    timeout: Duration,
    timer: Pin<Box<Sleep>>,
    /// Set while the body is waited on and nothing has arrived.
    waiting_since: Option<Instant>,
    faults: BodyFaults,
    end: BodyEnd,
}

impl<B> ProgressBody<B> {
    pub fn new(inner: B, timeout: Duration) -> Self {
        Self {
            inner,
            timeout,
            timer: Box::pin(tokio::time::sleep(timeout)),
            waiting_since: None,
            faults: BodyFaults::default(),
            end: BodyEnd::default(),
        }
    }

    /// Where this body records a stall (shared with whoever reads it).
    pub fn faults(&self) -> BodyFaults {
        self.faults.clone()
    }

    /// Tells whether this body has been read to its end.
    pub fn end(&self) -> BodyEnd {
        self.end.clone()
    }
}

impl<B> Body for ProgressBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    BodyError: From<B::Error>,
{
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting_since = None;
                if frame.is_none() || this.inner.is_end_stream() {
                    this.end.set();
                }
                Poll::Ready(frame.map(|f| f.map_err(BodyError::from)))
            }
            Poll::Pending => {
                let since = *this.waiting_since.get_or_insert_with(Instant::now);
                let deadline = since + this.timeout;
                if this.timer.deadline() != deadline {
                    this.timer.as_mut().reset(deadline);
                }
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.faults.record(BodyFault::Stalled);
                        Poll::Ready(Some(Err(Stalled(this.timeout).into())))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request in flight until hyper drops it.
pub struct TrackedBody<B> {
    inner: B,
    _request: InFlight,
}

impl<B> TrackedBody<B> {
    pub fn new(inner: B, request: InFlight) -> Self {
        Self { inner, _request: request }
    }
}

impl<B: Body + Unpin> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
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
    use http_body_util::BodyExt;
    use http_body_util::StreamBody;

    type Chunks = StreamBody<futures::channel::mpsc::Receiver<Result<Frame<Bytes>, std::convert::Infallible>>>;

    fn body(
        timeout: Duration,
    ) -> (
        futures::channel::mpsc::Sender<Result<Frame<Bytes>, std::convert::Infallible>>,
        ProgressBody<Chunks>,
    ) {
        let (tx, rx) = futures::channel::mpsc::channel(4);
        (tx, ProgressBody::new(StreamBody::new(rx), timeout))
    }

    impl From<std::convert::Infallible> for BodyError {
        fn from(e: std::convert::Infallible) -> Self {
            match e {}
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_body_that_keeps_moving_is_read_whole() {
        let (mut tx, body) = body(Duration::from_secs(3));
        tokio::spawn(async move {
            for i in 0..10u8 {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let _ = futures::SinkExt::send(&mut tx, Ok(Frame::data(Bytes::from(vec![i])))).await;
            }
        });
        let start = Instant::now();
        let all = body.collect().await.unwrap().to_bytes();
        assert_eq!(&all[..], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(start.elapsed() >= Duration::from_secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_is_cut_after_the_progress_timeout() {
        let (mut tx, mut body) = body(Duration::from_secs(3));
        futures::SinkExt::send(&mut tx, Ok(Frame::data(Bytes::from_static(b"abc"))))
            .await
            .unwrap();
        assert!(body.frame().await.unwrap().is_ok());
        let stopped = Instant::now();
        let e = body.frame().await.unwrap().unwrap_err();
        assert!(matches!(e, BodyError::Stalled(_)), "{e}");
        assert!(e.to_string().starts_with("RequestTimeout"));
        assert_eq!(body.faults().get(), Some(BodyFault::Stalled));
        assert_eq!(stopped.elapsed(), Duration::from_secs(3));
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn time_the_server_spends_not_reading_does_not_count() {
        let (mut tx, mut body) = body(Duration::from_secs(3));
        futures::SinkExt::send(&mut tx, Ok(Frame::data(Bytes::from_static(b"a"))))
            .await
            .unwrap();
        futures::SinkExt::send(&mut tx, Ok(Frame::data(Bytes::from_static(b"b"))))
            .await
            .unwrap();
        assert!(body.frame().await.unwrap().is_ok());
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(body.frame().await.unwrap().is_ok());
        drop(tx);
        assert!(body.frame().await.is_none());
    }
}
