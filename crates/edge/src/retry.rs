//! Which failed origin attempts may be sent again to another origin.
//!
//! - The connection failed before the request was sent (refused, reset
//!   during connect, connect timeout): any method; the origin saw nothing.
//! - The origin answered `NotWriteRegion` or `AppFenced`: any method; the
//!   region refused the write without applying it.
//! - A failover status (default 500, 502, 503, 504), a response timeout, or
//!   a connection that broke after the request was sent: only idempotent
//!   methods (GET, HEAD, OPTIONS, PUT, DELETE, as RFC 9110 defines them);
//!   a POST or PATCH may have been applied, so the viewer gets the answer
//!   (or a 502/504) instead.
//!
//! In every case the request body must still be available: a body under
//! [`crate::forward::REPLAY_LIMIT`] is kept in memory; a larger one is streamed,
//! and can only go again if the failed attempt never read a byte of it.

use http::Method;

/// How an origin attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection: the request was never sent.
    Connect,
    /// Sent, and no response head within the response timeout.
    TimedOut,
    /// Sent, then the connection failed before a response head.
    Broken,
    /// Answered with one of the failover statuses.
    Status(u16),
    /// Answered `NotWriteRegion` / `AppFenced`: not applied.
    Refused,
}

impl Failure {
    pub fn kind(self) -> &'static str {
        match self {
            Failure::Connect => "connect",
            Failure::TimedOut => "timeout",
            Failure::Broken => "broken",
            Failure::Status(_) => "status",
            Failure::Refused => "refused",
        }
    }

    /// Whether it says the origin itself is unwell (opens its breaker).
    pub fn unhealthy(self) -> bool {
        !matches!(self, Failure::Refused)
    }
}

pub fn idempotent(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE)
}

/// Whether the request may go to another origin after `failure`.
pub fn may_retry(method: &Method, failure: Failure, body_available: bool) -> bool {
    body_available
        && match failure {
            Failure::Connect | Failure::Refused => true,
            Failure::TimedOut | Failure::Broken | Failure::Status(_) => idempotent(method),
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_post_is_retried_only_when_it_was_certainly_not_processed() {
        let post = Method::POST;
        assert!(may_retry(&post, Failure::Connect, true));
        assert!(may_retry(&post, Failure::Refused, true));
        assert!(!may_retry(&post, Failure::TimedOut, true), "sent, then timed out: maybe applied");
        assert!(!may_retry(&post, Failure::Broken, true));
        assert!(!may_retry(&post, Failure::Status(503), true));
    }

    #[test]
    fn idempotent_methods_retry_on_every_failure_while_the_body_is_there() {
        for m in [Method::GET, Method::HEAD, Method::PUT, Method::DELETE] {
            for f in [
                Failure::Connect,
                Failure::TimedOut,
                Failure::Broken,
                Failure::Status(500),
                Failure::Refused,
            ] {
                assert!(may_retry(&m, f, true), "{m} {f:?}");
                assert!(!may_retry(&m, f, false), "{m} {f:?}: the body is gone");
            }
        }
    }
}
