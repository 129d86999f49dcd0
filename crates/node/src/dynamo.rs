//! The JSON APIs on the node's port (DynamoDB and DynamoDB Streams): buffer the
//! body, verify its SigV4 signature against the deployment's access keys, and
//! hand it to `tandem-dynamo`. Errors come back in DynamoDB's `__type` shape.
//! Also what a browser or a load balancer needs around it: the CORS preflight
//! and response headers, and DynamoDB's `GET /` health answer.

use http_body_util::{BodyExt, Limited};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use s3s::Body;
use tandem_dynamo::api_error::{DynamoError, ErrorKind};
use tandem_dynamo::authorize::Authority;
use tandem_dynamo::operation::DynamoOp;

use crate::{Node, ReqBody};

/// Largest request body accepted (BatchWriteItem of 25 × 400 KB items fits).
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Whether a request is for one of the JSON APIs.
pub fn is_json_api(target: Option<&str>) -> bool {
    target.is_some_and(|t| t.starts_with(tandem_dynamo::api::DYNAMODB_TARGET) || t.starts_with(tandem_dynamo::api::STREAMS_TARGET))
}

/// Response headers a browser script may read.
const EXPOSE_HEADERS: &str = "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date";

/// Whether a request is a CORS preflight for the JSON APIs (it asks to send `X-Amz-Target`).
pub fn is_preflight<B>(req: &Request<B>) -> bool {
    req.method() == Method::OPTIONS
        && req
            .headers()
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|asked| asked.split(',').any(|h| h.trim().eq_ignore_ascii_case("x-amz-target")))
}

/// The preflight answer: any origin (requests are signed, no cookies), POST,
/// the headers asked for, cached two days.
pub fn preflight<B>(req: &Request<B>) -> Response<Body> {
    let mut resp = Response::new(Body::from(String::new()));
    let h = resp.headers_mut();
    allow_cors(h);
    h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
    if let Some(asked) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("172800"));
    resp
}

pub(crate) fn allow_cors(h: &mut HeaderMap) {
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSE_HEADERS));
}

fn host(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|v| v.to_str().ok())
}

/// Whether a request is DynamoDB's health check: an unsigned `GET /` on a
/// `dynamodb.*` host name (elsewhere `GET /` is S3's ListBuckets).
pub fn is_health_check<B>(req: &Request<B>) -> bool {
    req.method() == Method::GET
        && req.uri().path() == "/"
        && req.uri().query().is_none()
        && !req.headers().contains_key(header::AUTHORIZATION)
        && host(req.headers()).is_some_and(|h| h.to_ascii_lowercase().starts_with("dynamodb."))
}

/// DynamoDB's health answer.
pub fn health(region: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(format!("healthy: dynamodb.{region}.amazonaws.com")));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp
}

/// DynamoDB's error for a request that was not authenticated.
fn refused(r: crate::json_auth::Refusal) -> DynamoError {
    use crate::json_auth::Failure;
    let kind = match r.failure {
        Failure::Missing => ErrorKind::MissingAuthenticationToken,
        Failure::UnknownKey => ErrorKind::UnrecognizedClient,
        Failure::BadSignature => ErrorKind::InvalidSignature,
        Failure::Expired => ErrorKind::ExpiredToken,
    };
    DynamoError::new(kind, r.message)
}

fn json_response(status: u16, body: String) -> Response<Body> {
    json_answer(status, body, "application/x-amz-json-1.0")
}

/// A JSON API's answer, with its request id.
pub(crate) fn json_answer(status: u16, body: String, content_type: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(&request_id()) {
        h.insert("x-amzn-requestid", id);
    }
    resp
}

/// A request id for the JSON and Query APIs' answers.
pub(crate) fn request_id() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{:032X}", nanos ^ (u128::from(std::process::id()) << 64))
}

impl Node {
    /// Serves a DynamoDB or Streams request; returns the response and the
    /// operation's metrics label (one `Unknown` for unrecognised targets).
    pub(crate) async fn dynamo(&self, req: Request<ReqBody>, target: &str) -> (Response<Body>, &'static str) {
        let op = DynamoOp::from_target(target);
        let cors = req.headers().contains_key(header::ORIGIN);
        let result = async {
            let (parts, body) = req.into_parts();
            let bytes = Limited::new(body, MAX_BODY)
                .collect()
                .await
                .map_err(|e| DynamoError::new(ErrorKind::Serialization, format!("The request body could not be read: {e}")))?
                .to_bytes();
            let (caller, context) =
                crate::json_auth::authenticate(&self.inner.principals, &parts, &bytes, "dynamodb", &self.inner.signing_region)
                    .map_err(refused)?;
            let authority = Authority::Client {
                caller: &caller,
                context: &context,
            };
            self.inner.dynamo.handle_at(op, &bytes, &authority, host(&parts.headers)).await
        }
        .await;
        let mut resp = match result {
            Ok(v) => json_response(200, v.to_string()),
            Err(e) => {
                let (status, body) = e.to_wire();
                json_response(status, body)
            }
        };
        if cors {
            allow_cors(resp.headers_mut());
        }
        (resp, op.name())
    }
}
