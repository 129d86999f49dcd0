//! The STS API on the node's port: a form-encoded `POST /` signed for the
//! `sts` service (what `aws sts ... --endpoint-url` sends). The body is
//! buffered (64 KiB at most), its SigV4 signature verified against the
//! deployment's keys (temporary credentials included, for
//! GetCallerIdentity), and handed to `tandem-sts`.

use http_body_util::{BodyExt, Limited};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use s3s::Body;
use tandem_sts::api::{self, Answer, StsOp};

use crate::{Node, ReqBody};

/// Largest STS request body (a 2048-byte session policy, form-encoded, fits).
const MAX_BODY: usize = 64 * 1024;

/// Whether a request is for STS: `POST /` signed for `sts`, or form-encoded.
pub fn is_sts<B>(req: &Request<B>) -> bool {
    let h = req.headers();
    let signed_for_sts = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("/sts/aws4_request"));
    let form = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    req.method() == Method::POST && req.uri().path() == "/" && (signed_for_sts || form)
}

fn xml(answer: Answer, request_id: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(answer.body));
    *resp.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-requestid", id);
    }
    resp
}

impl Node {
    /// Serves one STS request; returns the response and the operation's metrics label.
    pub(crate) async fn sts(&self, req: Request<ReqBody>) -> (Response<Body>, &'static str) {
        let request_id = crate::dynamo::request_id();
        let (parts, body) = req.into_parts();
        let Ok(bytes) = Limited::new(body, MAX_BODY).collect().await.map(|b| b.to_bytes()) else {
            return (
                xml(
                    api::error(
                        400,
                        "InvalidRequest",
                        "the request body could not be read (at most 64 KiB)",
                        &request_id,
                    ),
                    &request_id,
                ),
                "Unknown",
            );
        };
        let params: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
        let op = params
            .iter()
            .find(|(k, _)| k == "Action")
            .map_or(StsOp::Unknown, |(_, v)| StsOp::from_name(v));
        let principals = &self.inner.principals;
        let now = time::OffsetDateTime::now_utc();
        let signer = match tandem_sigv4::verify(&parts.method, &parts.uri, &parts.headers, &bytes, now, |k| principals.secret_of(k)) {
            Ok(s) if s.region != self.inner.signing_region => {
                let message = format!(
                    "Credential should be scoped to a valid region, not '{}'. This region signs as '{}'.",
                    s.region, self.inner.signing_region
                );
                return (
                    xml(api::error(403, "SignatureDoesNotMatch", &message, &request_id), &request_id),
                    op.name(),
                );
            }
            Ok(s) if s.service == "sts" => s,
            Ok(s) => {
                let message = format!(
                    "Credential should be scoped to correct service: 'sts'. (it is scoped to '{}')",
                    s.service
                );
                return (
                    xml(api::error(403, "SignatureDoesNotMatch", &message, &request_id), &request_id),
                    op.name(),
                );
            }
            Err(e) => {
                let code = match e {
                    tandem_sigv4::SigError::Missing => "MissingAuthenticationToken",
                    tandem_sigv4::SigError::UnknownKey => "InvalidClientTokenId",
                    _ => "SignatureDoesNotMatch",
                };
                return (xml(api::error(403, code, &e.to_string(), &request_id), &request_id), op.name());
            }
        };
        let (caller, context) = match principals.caller_context(&signer.access_key, &parts.uri, &parts.headers, &parts.extensions, now) {
            Ok(found) => found,
            Err(e) => {
                let (status, code, message) = match e {
                    tandem_s3::principals::CredentialError::ExpiredToken => {
                        (400, "ExpiredToken", "The security token included in the request is expired")
                    }
                    _ => (
                        403,
                        "InvalidClientTokenId",
                        "The security token included in the request is invalid.",
                    ),
                };
                return (xml(api::error(status, code, message, &request_id), &request_id), op.name());
            }
        };
        let answer = api::handle(principals.sessions(), &params, &caller, &context, &request_id);
        (xml(answer, &request_id), op.name())
    }
}
