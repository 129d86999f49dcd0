//! Top-level request dispatch of a node: health, metrics, CORS preflight, then
//! the s3s service (S3 API and control API), with CORS response headers and
//! request metrics added on the way out.

use std::time::Instant;

use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use s3s::Body;
use s3s::validation::NameValidation;
use tandem_s3::OpSlot;
use tandem_s3::cors::{self, CorsAnswer};
use tandem_s3::refusal::Refusal;

use crate::control;
use crate::control_ops::ControlOp;
use crate::{Node, ReqBody};

/// AWS bucket-name rules, plus the reserved `_tandem` path of the control API.
pub struct ControlAwareValidation;

impl NameValidation for ControlAwareValidation {
    fn validate_bucket_name(&self, name: &str) -> bool {
        name == control::PREFIX.trim_matches('/') || tandem_s3::valid_bucket_name(name)
    }
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn content_length<B>(headers: &hyper::HeaderMap, _: &B) -> u64 {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl Node {
    /// Serves one request, counting refused credentials and authorizations.
    pub async fn handle(&self, req: Request<ReqBody>) -> Response<Body> {
        let resp = self.route(req).await;
        if let Some(reason) = crate::auth_failures::reason(&resp) {
            self.inner.metrics.auth_failed(reason);
        }
        resp
    }

    /// Dispatches one request to the API it is for.
    async fn route(&self, req: Request<ReqBody>) -> Response<Body> {
        let start = Instant::now();
        let path = req.uri().path();
        if req.method() == Method::GET && path == "/health" {
            let (status, body) = crate::health::check(&self.inner.region, &self.inner.store);
            return text(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), "application/json", body);
        }
        if req.method() == Method::GET && path == "/health/ready" {
            let inner = &self.inner;
            let (status, body) = crate::health::ready(&inner.region, &inner.store, &inner.replication, &inner.control);
            return text(StatusCode::from_u16(status).unwrap_or(StatusCode::OK), "application/json", body);
        }
        if req.method() == Method::GET && path == "/metrics" {
            return text(
                StatusCode::OK,
                "text/plain; version=0.0.4",
                self.inner.metrics.render(&self.inner.store),
            );
        }
        if crate::console::is_console(path) {
            let resp = self.console(req).await;
            self.inner
                .metrics
                .observe("console", "Console", resp.status().as_u16(), start.elapsed(), 0, 0);
            return resp;
        }
        // Control operations answered before s3s (their bodies are JSON).
        let control = ControlOp::of(req.method(), path);
        if matches!(
            control,
            ControlOp::GetAppState
                | ControlOp::SetAppState
                | ControlOp::Apply
                | ControlOp::Destroy
                | ControlOp::ReplicationApply
                | ControlOp::ReplicationHeartbeat
                | ControlOp::RecordDrill
                | ControlOp::ListDrills
        ) {
            let resp = match control {
                ControlOp::Apply => self.apply(req).await,
                ControlOp::Destroy => self.destroy(req).await,
                ControlOp::RecordDrill | ControlOp::ListDrills => self.drills(req, control).await,
                ControlOp::ReplicationApply | ControlOp::ReplicationHeartbeat => self.replication_request(req, control).await,
                _ => {
                    let app = crate::apps::state_path(path).unwrap_or_default().to_string();
                    self.app_state(req, app).await
                }
            };
            self.inner
                .metrics
                .observe("control", control.name(), resp.status().as_u16(), start.elapsed(), 0, 0);
            return resp;
        }
        if crate::apps::state_path(path).is_some() {
            return text(
                StatusCode::METHOD_NOT_ALLOWED,
                "application/json",
                serde_json::json!({"error": "MethodNotAllowed", "message": "use GET or PUT"}).to_string(),
            );
        }
        if crate::sts::is_sts(&req) {
            let (resp, op) = self.sts(req).await;
            self.inner.metrics.observe("sts", op, resp.status().as_u16(), start.elapsed(), 0, 0);
            return resp;
        }
        if let Some(resp) = self.identity_document(&req) {
            return resp;
        }
        if crate::dynamo::is_preflight(&req) {
            return crate::dynamo::preflight(&req);
        }
        if crate::dynamo::is_health_check(&req) {
            return crate::dynamo::health(&self.inner.region);
        }
        let target = req.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).map(str::to_string);
        if req.method() == Method::POST && crate::dynamo::is_json_api(target.as_deref()) {
            let bytes_in = content_length(req.headers(), &());
            let (resp, op) = self.dynamo(req, target.as_deref().unwrap_or_default()).await;
            let bytes_out = content_length(resp.headers(), &());
            self.inner
                .metrics
                .observe("dynamodb", op, resp.status().as_u16(), start.elapsed(), bytes_in, bytes_out);
            return resp;
        }
        if let Some(api) = crate::identity::CognitoApi::of(req.method(), target.as_deref()) {
            let (resp, op) = self.cognito(req, api, target.as_deref().unwrap_or_default()).await;
            self.inner
                .metrics
                .observe(api.label(), op, resp.status().as_u16(), start.elapsed(), 0, 0);
            return resp;
        }
        let ids = crate::request_id::RequestIds::new();
        let mut resp = self.s3_request(req, start, control).await;
        ids.stamp(&mut resp);
        resp
    }

    /// Serves an S3 (or control API) request: CORS preflight, the pre-s3s
    /// checks, s3s, then CORS response headers and metrics.
    async fn s3_request(&self, req: Request<ReqBody>, start: Instant, control: ControlOp) -> Response<Body> {
        let bucket = self.bucket_of(&req);

        if req.method() == Method::OPTIONS {
            return self.preflight(&req, bucket.as_deref());
        }
        let api = if req.uri().path().starts_with(control::PREFIX) {
            "control"
        } else {
            "s3"
        };
        let origin = req.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_string);
        let method = req.method().to_string();
        let bytes_in = content_length(req.headers(), &());
        let faults = req.body().faults();
        let req = match self.admit(req) {
            Ok(req) => req,
            Err(refusal) => return self.refused(api, &refusal, start),
        };
        let inner = &self.inner;
        let mut req = match crate::chunked_put::with_length(req, &inner.store, &inner.principals).await {
            Ok(req) => req,
            Err(refusal) => {
                let cause = faults.get().map(crate::documents::refusal);
                return self.refused(api, cause.as_ref().unwrap_or(&refusal), start);
            }
        };
        let form = req.extensions().get::<tandem_s3::post_form::PostForm>().cloned();
        let slot = OpSlot::default();
        req.extensions_mut().insert(slot.clone());
        let mut resp = match self.inner.s3.call(req).await {
            Ok(resp) => resp,
            Err(e) => {
                tracing::error!(error = ?e, "request failed outside the S3 error model");
                text(StatusCode::INTERNAL_SERVER_ERROR, "application/xml", internal_error_xml())
            }
        };
        // A body that stalled or was not XML is the cause of whatever error
        // the handler made of its failed read (s3s: 500, an upload: 400).
        if (resp.status().is_client_error() || resp.status().is_server_error())
            && let Some(fault) = faults.get()
        {
            return self.refused(api, &crate::documents::refusal(fault), start);
        }
        if let Some(form) = &form {
            if resp.status().is_client_error()
                && let Some(refusal) = resp
                    .body()
                    .bytes()
                    .and_then(|b| tandem_s3::post_answers::refusal(&form.fields(), &b))
            {
                return self.refused(api, &refusal, start);
            }
            let status = resp.status().as_u16();
            if let Some(body) = form.finish_answer(status, resp.headers_mut()) {
                resp.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
                resp.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
                *resp.body_mut() = Body::from(body);
            }
        }
        // s3s 0.14 always answers HeadObject with 200; a ranged HEAD is 206 in S3.
        if method == "HEAD" && resp.status() == StatusCode::OK && resp.headers().contains_key(header::CONTENT_RANGE) {
            *resp.status_mut() = StatusCode::PARTIAL_CONTENT;
        }
        if let (Some(origin), Some(bucket)) = (origin, bucket.as_deref()) {
            for (name, value) in cors::response_headers(&self.inner.store, bucket, &origin, &method) {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    resp.headers_mut().insert(HeaderName::from_static(name), v);
                }
            }
        }
        let op = slot.get().unwrap_or(match api {
            "control" => control.name(),
            _ => "Unresolved",
        });
        crate::xml_out::sanitize(&mut resp, op);
        let bytes_out = content_length(resp.headers(), &());
        // s3s's own error logging is off (it logs every 4xx at ERROR); server
        // faults are logged here. 503 is a refusal by design (fenced app,
        // other write region), counted in metrics but not logged.
        if resp.status().is_server_error() && resp.status() != StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(api, op = %op, status = resp.status().as_u16(), "request failed");
        }
        self.inner
            .metrics
            .observe(api, op, resp.status().as_u16(), start.elapsed(), bytes_in, bytes_out);
        resp
    }

    /// The checks a request passes before s3s sees it: strings it would echo
    /// into XML, the authentication rules s3s does not enforce, then the
    /// malformed range and date conditions that are ignored, not refused.
    /// XML document bodies are checked as s3s reads them.
    fn admit(&self, mut req: Request<ReqBody>) -> Result<Request<Body>, Refusal> {
        tandem_s3::xml_text::check_request(req.uri(), req.headers())?;
        let now = time::OffsetDateTime::now_utc();
        tandem_s3::auth_checks::check(req.method(), req.uri(), req.headers(), now, &self.inner.signing_region)?;
        tandem_s3::presign_checks::check(req.uri())?;
        crate::read_headers::ignore_malformed(&mut req, &self.inner.principals);
        let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let vhost = self.inner.domains.bucket_of(host).is_some();
        crate::sigv2_path::add_bucket_slash(&mut req, vhost);
        let form = tandem_s3::post_form::PostForm::for_request(req.method(), req.headers());
        if let Some(form) = &form {
            req.extensions_mut().insert(form.clone());
        }
        Ok(match (crate::documents::is_document(req.method(), req.uri()), form) {
            (true, _) => req.map(|b| {
                let faults = b.faults();
                Body::http_body(crate::documents::CheckedDocument::new(b, faults))
            }),
            (false, Some(form)) => req.map(|b| Body::http_body(crate::post_body::ObservedForm::new(b, form))),
            (false, None) => req.map(Body::http_body),
        })
    }

    /// The answer to a request refused before s3s.
    fn refused(&self, api: &'static str, refusal: &Refusal, start: Instant) -> Response<Body> {
        self.inner.metrics.observe(api, "Refused", refusal.status, start.elapsed(), 0, 0);
        text(
            StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::BAD_REQUEST),
            "application/xml",
            refusal.xml(),
        )
    }

    /// A batch of changes, or a heartbeat, from a peer region (replication
    /// credential only).
    async fn replication_request(&self, req: Request<ReqBody>, op: ControlOp) -> Response<Body> {
        let (parts, body) = req.into_parts();
        let replication = &self.inner.replication;
        let (status, answer) = match op {
            ControlOp::ReplicationHeartbeat => replication.handle_heartbeat(&parts.method, &parts.uri, &parts.headers, body).await,
            _ => replication.handle_apply(&parts.method, &parts.uri, &parts.headers, body).await,
        };
        text(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "application/json",
            answer.to_string(),
        )
    }

    /// The bucket a request addresses (virtual-host or first path segment).
    fn bucket_of<B>(&self, req: &Request<B>) -> Option<String> {
        let host = req.headers().get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if let Some(b) = self.inner.domains.bucket_of(host) {
            return Some(b);
        }
        let first = req.uri().path().trim_start_matches('/').split('/').next().unwrap_or_default();
        (!first.is_empty()).then(|| first.to_string())
    }

    /// Answers a CORS preflight from the bucket's CORS rules.
    fn preflight<B>(&self, req: &Request<B>, bucket: Option<&str>) -> Response<Body> {
        let h = req.headers();
        let origin = h.get(header::ORIGIN).and_then(|v| v.to_str().ok());
        let method = h.get(header::ACCESS_CONTROL_REQUEST_METHOD).and_then(|v| v.to_str().ok());
        let (Some(origin), Some(method), Some(bucket)) = (origin, method, bucket) else {
            return text(
                StatusCode::BAD_REQUEST,
                "application/xml",
                error_xml("BadRequest", "Insufficient information. Origin request header needed."),
            );
        };
        let requested: Vec<String> = h
            .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default();
        match cors::preflight(&self.inner.store, bucket, origin, method, &requested) {
            CorsAnswer::Allowed(headers) => {
                let mut resp = Response::new(Body::empty());
                for (name, value) in headers {
                    if let Ok(v) = HeaderValue::from_str(&value) {
                        resp.headers_mut().insert(HeaderName::from_static(name), v);
                    }
                }
                resp
            }
            CorsAnswer::Forbidden(why) => text(StatusCode::FORBIDDEN, "application/xml", error_xml("AccessForbidden", why)),
        }
    }
}

fn error_xml(code: &str, message: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>")
}

fn internal_error_xml() -> String {
    error_xml("InternalError", "We encountered an internal error. Please try again.")
}
