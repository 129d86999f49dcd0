//! Sends one viewer request to its behaviour's origins: builds each origin
//! request (path rule, host, signature), runs the attempts under the
//! connect and response timeouts, feeds each origin's health, and moves on
//! to the next origin only as [`crate::retry`] allows. The answer carries
//! `x-edge-origin`, `x-edge-region` and `x-edge-failover`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Request, Response, StatusCode, Uri};
use http_body::Body as _;
use http_body_util::{BodyExt, Limited};

use tandem_node::progress::ProgressBody;

use crate::body::{BoxError, EdgeBody, Slot, boxed, full};
use crate::fetch::FetchFailure;
use crate::metrics::{FailoverLabels, Metrics, OriginErrorLabels, OriginLabels};
use crate::origin::Client;
use crate::retry::{self, Failure};
use crate::route::{Route, Target};
use crate::sign::{self, EdgeKey};

/// Request bodies up to this size (by `content-length`) are kept in memory
/// so the request can go to another origin after a refusal or a failure;
/// larger ones are streamed.
pub const REPLAY_LIMIT: u64 = 1 << 20;
/// Error answers read to look for `NotWriteRegion` / `AppFenced`.
const MAX_REFUSAL_BODY: u64 = 16 * 1024;

/// How a behaviour reaches its origins.
pub struct Forwarder {
    pub route: Route,
    pub client: Client,
    pub response_timeout: Duration,
    pub attempts: u32,
    pub failover_status: Vec<u16>,
    /// Sign unsigned viewer requests with the edge key.
    pub sign: Option<EdgeKey>,
}

/// What the forwarder needs from the node.
pub struct Shared {
    pub metrics: Arc<Metrics>,
    /// Every key of the deployment and its STS key, to verify and re-sign
    /// viewer requests whose path or signing region changes.
    pub viewers: sign::ViewerKeys,
}

/// A request body that can be sent again, or a streamed one that can be
/// sent again only while unread.
pub enum RequestBody {
    Buffered(Bytes),
    Streamed(Slot),
}

impl RequestBody {
    /// Keeps small bodies (known length up to [`REPLAY_LIMIT`]) in memory.
    pub async fn from_viewer(body: EdgeBody) -> Result<Self, BoxError> {
        if body.is_end_stream() {
            return Ok(RequestBody::Buffered(Bytes::new()));
        }
        match body.size_hint().exact() {
            Some(n) if n <= REPLAY_LIMIT => {
                let bytes = crate::body::read_at_most(body, REPLAY_LIMIT as usize).await?;
                Ok(RequestBody::Buffered(bytes))
            }
            _ => Ok(RequestBody::Streamed(Slot::new(body))),
        }
    }

    fn attempt(&self) -> Option<EdgeBody> {
        match self {
            RequestBody::Buffered(b) => Some(full(b.clone())),
            RequestBody::Streamed(slot) => slot.take().map(boxed),
        }
    }

    fn available(&self) -> bool {
        match self {
            RequestBody::Buffered(_) => true,
            RequestBody::Streamed(slot) => slot.available(),
        }
    }
}

/// Headers that belong to one connection, not to the message.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::TRANSFER_ENCODING);
}

/// The origin request for one attempt.
fn origin_request(
    viewer: &http::request::Parts,
    target: &Target,
    (body, buffered): (EdgeBody, Option<&Bytes>),
    fw: &Forwarder,
    shared: &Shared,
) -> Result<Request<EdgeBody>, String> {
    let path = target.path.apply(viewer.uri.path());
    let path_and_query = match viewer.uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let uri: Uri = format!("{}{path_and_query}", target.origin.base)
        .parse()
        .map_err(|e| format!("origin uri: {e}"))?;
    let mut headers = viewer.headers.clone();
    strip_hop_by_hop(&mut headers);
    let origin_host = HeaderValue::from_str(target.origin.authority.as_str()).map_err(|e| e.to_string())?;
    // HTTP/2 viewers send :authority, which their signature covers as `host`.
    if !headers.contains_key(header::HOST)
        && let Some(a) = viewer.uri.authority()
        && let Ok(v) = HeaderValue::from_str(a.as_str())
    {
        headers.insert(header::HOST, v);
    }
    let origin_path: Uri = path_and_query.parse().map_err(|e| format!("origin path: {e}"))?;
    if sign::viewer_signed(&viewer.headers, &viewer.uri) {
        let region = target.origin.signing_region.as_str();
        let moved = path != viewer.uri.path() || sign::scope_region(&viewer.headers).is_some_and(|r| r != region);
        let to = sign::Resign {
            origin_uri: &origin_path,
            origin_host: &origin_host,
            region,
            body: buffered.map(|b| &b[..]),
        };
        if moved && let Err(why) = sign::resign_as_viewer(&viewer.method, &viewer.uri, &mut headers, &to, &shared.viewers) {
            tracing::debug!(reason = %why, "viewer signature passed on unchanged");
        }
    } else {
        headers.insert(header::HOST, origin_host);
        if let Some(key) = &fw.sign {
            sign::sign_as_edge(&viewer.method, &origin_path, &mut headers, key, &target.origin.signing_region);
        }
    }
    let mut req = Request::new(body);
    *req.method_mut() = viewer.method.clone();
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    Ok(req)
}

/// Whether an error answer is a region's `NotWriteRegion` / `AppFenced`
/// (S3 XML code, or DynamoDB `__type`).
fn is_refusal(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    ["NotWriteRegion", "AppFenced"]
        .iter()
        .any(|c| text.contains(&format!("<Code>{c}</Code>")) || text.contains(&format!("tandem#{c}")))
}

type Attempt = Result<Response<EdgeBody>, (Failure, Option<Response<EdgeBody>>)>;

/// Reads a small 400/409 answer to tell a refusal from other errors.
async fn classify_error(resp: Response<ProgressBody<hyper::body::Incoming>>) -> Attempt {
    let (parts, body) = resp.into_parts();
    let collected = Limited::new(body, MAX_REFUSAL_BODY as usize).collect().await;
    let Ok(bytes) = collected.map(|b| b.to_bytes()).map_err(|e| -> BoxError { e }) else {
        return Err((Failure::Broken, None));
    };
    let refused = is_refusal(&bytes);
    let resp = Response::from_parts(parts, full(bytes));
    match refused {
        true => Err((Failure::Refused, Some(resp))),
        false => Ok(resp),
    }
}

/// The request of one attempt, if the body is still there.
fn next_request(
    fw: &Forwarder,
    shared: &Shared,
    viewer: &http::request::Parts,
    target: &Target,
    body: &RequestBody,
) -> Option<Request<EdgeBody>> {
    let buffered = match body {
        RequestBody::Buffered(b) => Some(b),
        RequestBody::Streamed(_) => None,
    };
    origin_request(viewer, target, (body.attempt()?, buffered), fw, shared)
        .map_err(|e| tracing::warn!(error = %e, "cannot build the origin request"))
        .ok()
}

/// The request with a body that says when it has been sent whole.
fn watched(req: Request<EdgeBody>) -> (Request<EdgeBody>, tokio::sync::oneshot::Receiver<()>) {
    let (parts, body) = req.into_parts();
    let (body, uploaded) = crate::body::Watched::new(body);
    (Request::from_parts(parts, boxed(body)), uploaded)
}

/// The origin's answer, allowed `timeout` from the moment the request body
/// was sent whole (a 5 GiB upload takes as long as it takes; a viewer that
/// stops sending is cut by its own connection's progress deadline).
async fn answer_after_upload<F: std::future::Future>(
    timeout: Duration,
    answer: F,
    uploaded: tokio::sync::oneshot::Receiver<()>,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    tokio::pin!(answer);
    tokio::select! {
        out = &mut answer => return Ok(out),
        _ = uploaded => {}
    }
    tokio::time::timeout(timeout, answer).await
}

/// One attempt at one origin (with up to `attempts` connects).
async fn attempt(fw: &Forwarder, shared: &Shared, viewer: &http::request::Parts, target: &Target, body: &RequestBody) -> Attempt {
    let mut connects = 0;
    loop {
        let Some(req) = next_request(fw, shared, viewer, target, body) else {
            return Err((Failure::Connect, None));
        };
        connects += 1;
        let (req, uploaded) = watched(req);
        let sent = answer_after_upload(fw.response_timeout, fw.client.request(req), uploaded).await;
        let resp = match sent {
            Err(_) => return Err((Failure::TimedOut, None)),
            Ok(Err(e)) if e.is_connect() && connects < fw.attempts => continue,
            Ok(Err(e)) if e.is_connect() => return Err((Failure::Connect, None)),
            Ok(Err(_)) => return Err((Failure::Broken, None)),
            Ok(Ok(resp)) => resp,
        };
        // An origin that stops sending mid-body fails the response after the
        // response timeout of silence (time the viewer spends not reading does not count).
        let resp = resp.map(|b| ProgressBody::new(b, fw.response_timeout));
        let status = resp.status().as_u16();
        let small = resp.body().size_hint().exact().is_some_and(|n| n <= MAX_REFUSAL_BODY);
        if fw.failover_status.contains(&status) {
            return Err((Failure::Status(status), Some(resp.map(boxed))));
        }
        if matches!(status, 400 | 409) && small {
            return classify_error(resp).await;
        }
        return Ok(resp.map(boxed));
    }
}

fn mark(resp: &mut Response<EdgeBody>, target: &Target, failover: bool) {
    strip_hop_by_hop(resp.headers_mut());
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&target.origin.label) {
        h.insert(HeaderName::from_static("x-edge-origin"), v);
    }
    if let Some(r) = &target.origin.region
        && let Ok(v) = HeaderValue::from_str(r)
    {
        h.insert(HeaderName::from_static("x-edge-region"), v);
    }
    let flag = if failover { "true" } else { "false" };
    h.insert(HeaderName::from_static("x-edge-failover"), HeaderValue::from_static(flag));
}

fn failure_answer(failure: Failure, origin: &str) -> FetchFailure {
    match failure {
        Failure::TimedOut => FetchFailure {
            reason: format!("origin {origin} did not answer in time"),
            status: StatusCode::GATEWAY_TIMEOUT,
        },
        f => FetchFailure {
            reason: format!("origin {origin} failed ({})", f.kind()),
            status: StatusCode::BAD_GATEWAY,
        },
    }
}

/// Forwards a request; the answer of the last origin tried, or why none answered.
pub async fn forward(
    fw: &Forwarder,
    shared: &Shared,
    viewer: &http::request::Parts,
    body: RequestBody,
) -> Result<Response<EdgeBody>, FetchFailure> {
    let preferred = fw.route.preferred(&viewer.method);
    let mut tried: Vec<String> = Vec::new();
    let mut last: Option<(Failure, Option<Response<EdgeBody>>, Target)> = None;
    while let Some(target) = fw.route.pick(&tried, &viewer.method) {
        if let Some((failure, _, prev)) = &last {
            if !retry::may_retry(&viewer.method, *failure, body.available()) {
                break;
            }
            let labels = FailoverLabels {
                from: prev.origin.label.clone(),
                to: target.origin.label.clone(),
            };
            shared.metrics.count_failover(&labels);
        }
        tried.push(target.origin.label.clone());
        let started = Instant::now();
        let result = attempt(fw, shared, viewer, &target, &body).await;
        let labels = OriginLabels {
            origin: target.origin.label.clone(),
        };
        shared
            .metrics
            .origin_latency
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(mut resp) => {
                target.origin.health.recovered();
                mark(&mut resp, &target, target.origin.label != preferred);
                return Ok(resp);
            }
            Err((failure, resp)) => {
                let kind = OriginErrorLabels {
                    origin: target.origin.label.clone(),
                    kind: failure.kind(),
                };
                shared.metrics.origin_errors.get_or_create(&kind).inc();
                if failure.unhealthy() {
                    target.origin.health.failed(failure.kind());
                }
                if failure == Failure::Refused
                    && let Route::App { app, .. } = &fw.route
                {
                    app.refresh().await;
                }
                last = Some((failure, resp, target));
            }
        }
    }
    match last {
        Some((_, Some(mut resp), target)) => {
            mark(&mut resp, &target, target.origin.label != preferred);
            Ok(resp)
        }
        Some((failure, None, target)) => Err(failure_answer(failure, &target.origin.label)),
        None => Err(FetchFailure {
            reason: "no origin".into(),
            status: StatusCode::BAD_GATEWAY,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_recognised_in_both_protocols() {
        assert!(is_refusal(b"<Error><Code>NotWriteRegion</Code></Error>"));
        assert!(is_refusal(br#"{"__type":"tandem#AppFenced","message":"x"}"#));
        assert!(!is_refusal(
            b"<Error><Code>AccessDenied</Code><Message>NotWriteRegion</Message></Error>"
        ));
    }
}
