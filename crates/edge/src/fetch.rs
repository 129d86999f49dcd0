//! The origin fetch the proxy hands to the cache: a one-shot closure that
//! sends a (possibly rewritten) request head through the behaviour's origins,
//! with failover, and yields the origin's streaming response or why none came.

use std::future::Future;
use std::pin::Pin;

use http::{Response, StatusCode};

use crate::body::EdgeBody;

/// No origin gave an answer (connect errors, timeouts, every origin down).
#[derive(Debug, Clone)]
pub struct FetchFailure {
    pub reason: String,
    /// 502 when the origins refused or broke the connection, 504 on a timeout.
    pub status: StatusCode,
}

impl FetchFailure {
    /// The answer a viewer gets for it (S3-style XML, like the regions' errors).
    pub fn response(&self) -> Response<EdgeBody> {
        crate::errors::xml(self.status, "OriginUnavailable", &self.reason)
    }
}

pub type FetchFuture = Pin<Box<dyn Future<Output = Result<Response<EdgeBody>, FetchFailure>> + Send>>;

/// Runs the viewer's request (head given, body empty: GET/HEAD) at the
/// origins. It may be called at most once, possibly in the background.
pub type Fetch = Box<dyn FnOnce(http::request::Parts) -> FetchFuture + Send>;
