//! What every request of a connection goes through, on a node and on the
//! edge alike: it is marked in flight until its response body is sent, it
//! is owed a `100 Continue` where [`crate::expect`] says so, its body must
//! keep moving ([`ProgressBody`]), and an answer that left a body waiting
//! for `100 Continue` unread closes the connection.

use std::future::Future;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, Response};

use crate::conn::Activity;
use crate::expect;
use crate::progress::{ProgressBody, TrackedBody};

/// Serves `req` with `handle`, under the rules above.
pub async fn serve<B, F, Fut>(activity: &Activity, progress: Duration, req: Request<Incoming>, handle: F) -> Response<TrackedBody<B>>
where
    F: FnOnce(Request<ProgressBody<Incoming>>) -> Fut,
    Fut: Future<Output = Response<B>>,
{
    let in_flight = activity.begin();
    if expect::owes_continue(&req) {
        activity.owe_continue();
    }
    let awaits_continue = expect::awaits_continue(&req);
    let req = req.map(|body| ProgressBody::new(body, progress));
    let body_end = req.body().end();
    let mut resp = handle(req).await;
    expect::close_if_body_unsent(&mut resp, awaits_continue, &body_end);
    resp.map(|body| TrackedBody::new(body, in_flight))
}
