//! The timeouts of one connection, enforced on its socket ([`GuardedIo`]).
//!
//! A connection is in one of three phases, which decide the read deadline:
//! - **head**: no request in flight and bytes of a request head expected (from
//!   the moment the connection is accepted, and on a keep-alive connection from
//!   the first byte of the next request): the whole head must arrive within
//!   `header_read_timeout`, however slowly it trickles;
//! - **idle**: no request in flight and nothing received since the last one
//!   ended: closed after `idle_timeout`;
//! - **busy**: a request in flight (from the service call until its response
//!   body is sent): no read deadline here; a request body that stalls is cut by
//!   [`crate::progress::ProgressBody`].
//!
//! Independently, a write that cannot move a byte for `body_progress_timeout`
//! (a client that stops reading its response) fails the connection.
//!
//! The service marks requests in flight through [`Activity::begin`]; the token
//! it returns travels with the response body and ends the request when hyper
//! drops that body. On HTTP/2, frames that open no stream (PING,
//! WINDOW_UPDATE) while no request is in flight count as the start of a head.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The read and write deadlines of a connection.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub header_read: Duration,
    pub idle: Duration,
    pub progress: Duration,
}

/// Why a connection was closed by its deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    Header,
    Idle,
    Write,
}

impl Expired {
    pub fn as_str(self) -> &'static str {
        match self {
            Expired::Header => "header_read",
            Expired::Idle => "idle",
            Expired::Write => "write_progress",
        }
    }

    fn error(self, after: Duration) -> io::Error {
        let what = match self {
            Expired::Header => "request head not received",
            Expired::Idle => "connection idle",
            Expired::Write => "client stopped reading the response",
        };
        io::Error::new(io::ErrorKind::TimedOut, ConnTimeout { what, after, kind: self })
    }
}

/// The error a [`GuardedIo`] fails with when a deadline passes.
#[derive(Debug, thiserror::Error)]
#[error("{what} within {after:?}")]
pub struct ConnTimeout {
    what: &'static str,
    after: Duration,
    pub kind: Expired,
}

/// Requests in flight on one connection, shared by its socket and its service.
#[derive(Clone)]
pub struct Activity(Arc<ActivityInner>);

struct ActivityInner {
    /// When the connection was accepted.
    epoch: Instant,
    in_flight: AtomicUsize,
    /// Requests started so far (tells the socket that a head it saw begin was consumed).
    started: AtomicU64,
    /// Nanoseconds after `epoch` at which the last request ended.
    quiet_since: AtomicU64,
    /// The task reading the socket while a request is in flight (no read
    /// deadline then): woken when the request ends, so the idle deadline
    /// starts even if hyper does not read again on its own.
    reader: AtomicWaker,
    /// A `100 Continue` hyper will not send (see [`crate::expect`]) is owed
    /// ahead of the next response bytes.
    continue_owed: AtomicBool,
}

/// The interim answer owed to a bodyless `Expect: 100-continue` request.
const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

impl Activity {
    /// The activity of a connection accepted now.
    pub fn new() -> Self {
        Self(Arc::new(ActivityInner {
            epoch: Instant::now(),
            in_flight: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            quiet_since: AtomicU64::new(0),
            reader: AtomicWaker::new(),
            continue_owed: AtomicBool::new(false),
        }))
    }

    /// Makes the socket write `100 Continue` before the next response.
    pub fn owe_continue(&self) {
        self.0.continue_owed.store(true, Ordering::SeqCst);
    }

    fn epoch(&self) -> Instant {
        self.0.epoch
    }

    /// Marks a request in flight until the returned token is dropped.
    pub fn begin(&self) -> InFlight {
        self.0.in_flight.fetch_add(1, Ordering::SeqCst);
        self.0.started.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    fn snapshot(&self) -> (usize, u64) {
        (self.0.in_flight.load(Ordering::SeqCst), self.0.started.load(Ordering::SeqCst))
    }

    fn quiet_since(&self) -> Instant {
        self.epoch() + Duration::from_nanos(self.0.quiet_since.load(Ordering::SeqCst))
    }
}

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

/// A request in flight; dropping it ends the request.
pub struct InFlight(Activity);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        let since = u64::try_from(a.epoch().elapsed().as_nanos()).unwrap_or(u64::MAX);
        a.0.quiet_since.store(since, Ordering::SeqCst);
        a.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        a.0.reader.wake();
    }
}

/// A socket that fails with [`ConnTimeout`] when the connection's deadlines pass.
pub struct GuardedIo<T> {
    io: T,
    activity: Activity,
    timeouts: Timeouts,
    /// When the head being received began, and `started` at that moment.
    head_since: Option<(Instant, u64)>,
    read_timer: Pin<Box<Sleep>>,
    write_timer: Pin<Box<Sleep>>,
    write_stalled_since: Option<Instant>,
    /// Bytes of an owed `100 Continue` already written (while one is being written).
    continue_sent: Option<usize>,
}

impl<T> GuardedIo<T> {
    pub fn new(io: T, activity: Activity, timeouts: Timeouts) -> Self {
        let now = activity.epoch();
        Self {
            io,
            activity,
            timeouts,
            // The first request's head is due from the moment of the accept.
            head_since: Some((now, 0)),
            read_timer: Box::pin(tokio::time::sleep_until(now)),
            write_timer: Box::pin(tokio::time::sleep_until(now)),
            write_stalled_since: None,
            continue_sent: None,
        }
    }

    /// The read deadline of the current phase (none while a request is in flight).
    fn read_deadline(&mut self) -> Option<(Instant, Expired)> {
        let (in_flight, started) = self.activity.snapshot();
        if in_flight > 0 {
            self.head_since = None;
            return None;
        }
        match self.head_since {
            Some((since, at)) if at == started => Some((since + self.timeouts.header_read, Expired::Header)),
            _ => {
                self.head_since = None;
                Some((self.activity.quiet_since() + self.timeouts.idle, Expired::Idle))
            }
        }
    }

    /// Bytes arrived: with no request in flight they begin the next head.
    fn on_read(&mut self) {
        let (in_flight, started) = self.activity.snapshot();
        if in_flight == 0 && !matches!(self.head_since, Some((_, at)) if at == started) {
            self.head_since = Some((Instant::now(), started));
        }
    }
}

/// Polls `timer` set to `deadline`; true when it has passed.
fn expired(timer: &mut Pin<Box<Sleep>>, deadline: Instant, cx: &mut Context<'_>) -> bool {
    if timer.deadline() != deadline {
        timer.as_mut().reset(deadline);
    }
    timer.as_mut().poll(cx).is_ready()
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.on_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.read_deadline() {
                Some((deadline, kind)) if expired(&mut this.read_timer, deadline, cx) => {
                    let after = match kind {
                        Expired::Header => this.timeouts.header_read,
                        _ => this.timeouts.idle,
                    };
                    Poll::Ready(Err(kind.error(after)))
                }
                Some(_) => Poll::Pending,
                None => {
                    this.activity.0.reader.register(cx.waker());
                    // The request may have ended since the deadline was computed.
                    if this.activity.snapshot().0 == 0 {
                        cx.waker().wake_by_ref();
                    }
                    Poll::Pending
                }
            },
        }
    }
}

impl<T: AsyncWrite + Unpin> GuardedIo<T> {
    /// Tracks a write that cannot move: fails it once it has stalled too long.
    fn stalled<R>(&mut self, cx: &mut Context<'_>, result: Poll<io::Result<R>>) -> Poll<io::Result<R>> {
        if result.is_ready() {
            self.write_stalled_since = None;
            return result;
        }
        let since = *self.write_stalled_since.get_or_insert_with(Instant::now);
        if expired(&mut self.write_timer, since + self.timeouts.progress, cx) {
            return Poll::Ready(Err(Expired::Write.error(self.timeouts.progress)));
        }
        Poll::Pending
    }
}

impl<T: AsyncWrite + Unpin> GuardedIo<T> {
    /// Writes an owed `100 Continue` first; ready once none is (left) owed.
    fn poll_continue(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.continue_sent.is_none() && self.activity.0.continue_owed.swap(false, Ordering::SeqCst) {
            self.continue_sent = Some(0);
        }
        while let Some(sent) = self.continue_sent {
            if sent == CONTINUE.len() {
                self.continue_sent = None;
                break;
            }
            let result = Pin::new(&mut self.io).poll_write(cx, &CONTINUE[sent..]);
            match self.stalled(cx, result) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.continue_sent = Some(sent + n),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(e) = std::task::ready!(this.poll_continue(cx)) {
            return Poll::Ready(Err(e));
        }
        let result = Pin::new(&mut this.io).poll_write(cx, data);
        this.stalled(cx, result)
    }

    fn poll_write_vectored(self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(e) = std::task::ready!(this.poll_continue(cx)) {
            return Poll::Ready(Err(e));
        }
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.stalled(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_flush(cx);
        this.stalled(cx, result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Which deadline ended a connection, if one did.
pub fn expired_kind(e: &(dyn std::error::Error + 'static)) -> Option<Expired> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>()
            && let Some(t) = io.get_ref().and_then(|i| i.downcast_ref::<ConnTimeout>())
        {
            return Some(t.kind);
        }
        if let Some(t) = err.downcast_ref::<ConnTimeout>() {
            return Some(t.kind);
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

    fn timeouts() -> Timeouts {
        Timeouts {
            header_read: Duration::from_secs(2),
            idle: Duration::from_secs(5),
            progress: Duration::from_secs(3),
        }
    }

    fn kind_of(e: &io::Error) -> Option<Expired> {
        expired_kind(e)
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
        let (_client, server) = duplex(64);
        let mut io = GuardedIo::new(server, Activity::new(), timeouts());
        let start = Instant::now();
        let e = io.read(&mut [0; 8]).await.unwrap_err();
        assert_eq!(kind_of(&e), Some(Expired::Header));
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_trickled_head_is_cut_at_the_header_timeout_however_slowly_it_moves() {
        let (mut client, server) = duplex(64);
        let mut io = GuardedIo::new(server, Activity::new(), timeouts());
        let start = Instant::now();
        tokio::spawn(async move {
            for _ in 0..100 {
                if client.write_all(b"G").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        let mut buf = [0; 8];
        let e = loop {
            match io.read(&mut buf).await {
                Ok(_) => continue,
                Err(e) => break e,
            }
        };
        assert_eq!(kind_of(&e), Some(Expired::Header));
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn between_requests_the_idle_timeout_applies_and_a_request_in_flight_has_none() {
        let (mut client, server) = duplex(64);
        let activity = Activity::new();
        let mut io = GuardedIo::new(server, activity.clone(), timeouts());
        client.write_all(b"GET").await.unwrap();
        assert_eq!(io.read(&mut [0; 8]).await.unwrap(), 3);
        let request = activity.begin();
        // In flight: nothing arrives for longer than every timeout, still fine.
        let waited = tokio::time::timeout(Duration::from_secs(20), io.read(&mut [0; 8])).await;
        assert!(waited.is_err(), "a read with a request in flight has no deadline");
        drop(request);
        let ended = Instant::now();
        let e = io.read(&mut [0; 8]).await.unwrap_err();
        assert_eq!(kind_of(&e), Some(Expired::Idle));
        assert_eq!(ended.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_pending_when_the_request_ends_gets_the_idle_deadline() {
        let (_client, server) = duplex(64);
        let activity = Activity::new();
        let request = activity.begin();
        let mut io = GuardedIo::new(server, activity, timeouts());
        let reader = tokio::spawn(async move {
            let e = io.read(&mut [0; 8]).await.unwrap_err();
            (kind_of(&e), Instant::now())
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(request);
        let ended = Instant::now();
        let (kind, at) = tokio::time::timeout(Duration::from_secs(60), reader)
            .await
            .expect("the pending read was woken when the request ended")
            .unwrap();
        assert_eq!(kind, Some(Expired::Idle));
        assert_eq!(at - ended, Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn the_next_head_on_a_keep_alive_connection_has_the_header_timeout() {
        let (mut client, server) = duplex(64);
        let activity = Activity::new();
        let mut io = GuardedIo::new(server, activity.clone(), timeouts());
        drop(activity.begin());
        tokio::time::sleep(Duration::from_secs(4)).await;
        client.write_all(b"GE").await.unwrap();
        let first_byte = Instant::now();
        assert_eq!(io.read(&mut [0; 8]).await.unwrap(), 2);
        let e = io.read(&mut [0; 8]).await.unwrap_err();
        assert_eq!(kind_of(&e), Some(Expired::Header));
        assert_eq!(first_byte.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_the_client_never_reads_fails_after_the_progress_timeout() {
        let (_client, server) = duplex(16);
        let activity = Activity::new();
        let _request = activity.begin();
        let mut io = GuardedIo::new(server, activity, timeouts());
        let start = Instant::now();
        let e = io.write_all(&[0; 1024]).await.unwrap_err();
        assert_eq!(kind_of(&e), Some(Expired::Write));
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test]
    async fn an_owed_continue_is_written_once_ahead_of_the_response_even_through_a_small_pipe() {
        let (mut client, server) = duplex(7);
        let activity = Activity::new();
        let _request = activity.begin();
        activity.owe_continue();
        let mut io = GuardedIo::new(server, activity, timeouts());
        let writer = tokio::spawn(async move {
            io.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
            io.write_all(b"next").await.unwrap();
            io.flush().await.unwrap();
        });
        let mut got = vec![0u8; CONTINUE.len() + 19 + 4];
        client.read_exact(&mut got).await.unwrap();
        writer.await.unwrap();
        assert_eq!(got, [CONTINUE, b"HTTP/1.1 200 OK\r\n\r\n".as_slice(), b"next"].concat());
    }
}
