//! The accept loop: a cap on open connections, the per-connection timeouts of
//! [`crate::conn`] and [`crate::progress`], explicit HTTP/1 and HTTP/2 limits,
//! and backoff with rate-limited logging when `accept` fails (descriptor
//! exhaustion must not spin the loop or flood the log).
//!
//! A connection over the cap is answered `503 SlowDown` (S3 XML, with
//! `Connection: close` and `Retry-After: 1`) and closed; SDKs retry 503s with
//! backoff. Answering costs a short task per refused connection, so at most
//! [`MAX_REFUSING`] run at once; beyond that, refused connections are closed
//! without an answer.

use std::convert::Infallible;
use std::net::SocketAddr;

use std::sync::Arc;
use std::time::Duration;

use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

use crate::Node;
use crate::conn::{Activity, GuardedIo, Timeouts};
use crate::limits::ServerLimits;

/// Refused connections being answered at once.
pub const MAX_REFUSING: usize = 64;
/// How long a refused connection is given to take its answer.
const REFUSAL_GRACE: Duration = Duration::from_secs(1);
/// First and largest pause after a failed accept.
const BACKOFF_START: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// At most one accept-failure warning per interval.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

const SLOW_DOWN_XML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<Error><Code>SlowDown</Code><Message>Too many open connections; please reduce your request rate.</Message></Error>";

/// The whole answer to a connection over the cap.
fn slow_down() -> Vec<u8> {
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/xml\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{SLOW_DOWN_XML}",
        SLOW_DOWN_XML.len()
    )
    .into_bytes()
}

/// Backoff and rate-limited logging of failed accepts.
struct AcceptFailures {
    backoff: Duration,
    /// Failures since the last warning, and when that warning was logged.
    unlogged: u64,
    logged_at: Option<Instant>,
}

impl AcceptFailures {
    fn new() -> Self {
        Self {
            backoff: BACKOFF_START,
            unlogged: 0,
            logged_at: None,
        }
    }

    /// Records a failure; returns how long to pause before accepting again.
    fn failed(&mut self, e: &std::io::Error) -> Duration {
        self.unlogged += 1;
        let due = self.logged_at.is_none_or(|t| t.elapsed() >= LOG_INTERVAL);
        if due {
            tracing::warn!(
                error = %e,
                failures = self.unlogged,
                "accept failed (open connections or descriptors exhausted?); pausing accepts, further failures summarised every 10 s"
            );
            self.unlogged = 0;
            self.logged_at = Some(Instant::now());
        }
        let pause = self.backoff;
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        pause
    }

    /// An accept worked: the backoff starts over; unlogged failures are reported.
    fn succeeded(&mut self) {
        if self.unlogged > 0 {
            tracing::warn!(failures = self.unlogged, "accept failed repeatedly; accepting again");
            self.unlogged = 0;
        }
        self.backoff = BACKOFF_START;
    }
}

/// The hyper connection builder with every limit set explicitly.
pub fn builder(limits: &ServerLimits) -> ConnBuilder<TokioExecutor> {
    let mut builder = ConnBuilder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // The header deadline is GuardedIo's: hyper's own would also run while
        // a keep-alive connection is idle, and not at all while the auto
        // builder is still sniffing the protocol.
        .header_read_timeout(None)
        .max_headers(100)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.http2_max_concurrent_streams)
        .max_header_list_size(limits.http2_max_header_list_size)
        .max_pending_accept_reset_streams(Some(20))
        .keep_alive_interval(None);
    builder
}

/// Answers a connection over the cap with 503 SlowDown and closes it.
fn refuse(stream: TcpStream, refusing: &Arc<Semaphore>) {
    let Ok(permit) = refusing.clone().try_acquire_owned() else {
        return; // dropped: closed without an answer
    };
    tokio::spawn(async move {
        let _permit = permit;
        let mut stream = stream;
        let answer = async {
            stream.write_all(&slow_down()).await?;
            stream.shutdown().await?;
            // Read what the client sends until it closes, so that closing does
            // not reset the connection before the client has read the answer.
            let mut sink = [0u8; 4096];
            while stream.read(&mut sink).await? > 0 {}
            Ok::<_, std::io::Error>(())
        };
        let _ = tokio::time::timeout(REFUSAL_GRACE, answer).await;
    });
}

/// Accepts until `stopped`, then lets open connections finish (10 s at most).
pub(crate) async fn accept_loop(node: Node, listener: TcpListener, limits: ServerLimits, mut stopped: watch::Receiver<bool>) {
    let graceful = GracefulShutdown::new();
    let builder = builder(&limits);
    let cap = limits.connection_cap();
    let slots = Arc::new(Semaphore::new(cap));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let mut failures = AcceptFailures::new();
    tracing::info!(max_connections = cap, "accepting connections");
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                node.inner.metrics.connections.accept_failed();
                let pause = failures.failed(&e);
                tokio::select! {
                    _ = tokio::time::sleep(pause) => continue,
                    _ = stopped.changed() => break,
                }
            }
        };
        failures.succeeded();
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            node.inner.metrics.connections.refused();
            refuse(stream, &refusing);
            continue;
        };
        spawn_connection(&builder, &graceful, &node, &limits, stream, peer, slot);
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("connections still open after 10 s; closing"),
    }
}

/// Serves one connection: the socket under its deadlines, every request body
/// under the progress timeout, every response keeping its request in flight.
fn spawn_connection(
    builder: &ConnBuilder<TokioExecutor>,
    graceful: &GracefulShutdown,
    node: &Node,
    limits: &ServerLimits,
    stream: TcpStream,
    peer: SocketAddr,
    slot: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let activity = Activity::new();
    let timeouts = Timeouts {
        header_read: limits.header_read_timeout,
        idle: limits.idle_timeout,
        progress: limits.body_progress_timeout,
    };
    let io = TokioIo::new(GuardedIo::new(stream, activity.clone(), timeouts));
    let progress = limits.body_progress_timeout;
    let handler = node.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (node, activity) = (handler.clone(), activity.clone());
        async move {
            let resp = crate::request::serve(&activity, progress, req, |mut req| async move {
                req.extensions_mut().insert(tandem_iam::SourceAddr(peer));
                node.handle(req).await
            });
            Ok::<_, Infallible>(resp.await)
        }
    });
    let conn = graceful.watch(builder.serve_connection_with_upgrades(io, service).into_owned());
    let metrics = node.inner.metrics.connections.clone();
    tokio::spawn(async move {
        let _slot = slot;
        let _open = metrics.opened();
        if let Err(e) = conn.await {
            match crate::conn::expired_kind(e.as_ref()) {
                Some(kind) => {
                    metrics.timed_out(kind.as_str());
                    tracing::debug!(%peer, reason = kind.as_str(), "connection closed by its deadline");
                }
                None => tracing::debug!(%peer, error = %e, "connection ended with an error"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_well_formed_http_answer_with_an_s3_error() {
        let answer = slow_down();
        let text = std::str::from_utf8(&answer).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(body.len(), length);
        assert!(body.contains("<Code>SlowDown</Code>"));
    }

    #[tokio::test(start_paused = true)]
    async fn accept_failures_back_off_exponentially_up_to_a_cap_and_start_over_after_a_success() {
        let mut f = AcceptFailures::new();
        let e = std::io::Error::from_raw_os_error(24); // EMFILE
        let pauses: Vec<Duration> = (0..12).map(|_| f.failed(&e)).collect();
        assert_eq!(pauses[0], BACKOFF_START);
        assert_eq!(pauses[1], BACKOFF_START * 2);
        assert!(pauses.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(*pauses.last().unwrap(), BACKOFF_MAX);
        // One warning, then failures are only counted until the interval passes.
        assert_eq!(f.unlogged, 11);
        tokio::time::advance(LOG_INTERVAL).await;
        f.failed(&e);
        assert_eq!(f.unlogged, 0);
        f.succeeded();
        assert_eq!(f.failed(&e), BACKOFF_START);
    }
}
