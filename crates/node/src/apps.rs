//! The application-state API of a node, answered before the S3 service:
//! `GET /_tandem/apps/{id}/state` (unauthenticated, like the seeds' routing
//! API: which state, which region takes writes) and `PUT` of the same path with
//! the AppStateUpdater body `{"AppId", "NewState", "Reason"?}`, signed by an
//! admin principal. `POST /_tandem/apply` (admin) makes the region match the
//! apps of `tandem.toml` (see `apply.rs`). `GET /_tandem/apps` (signed, through
//! the control route) lists every app.

use http_body_util::{BodyExt, Limited};
use hyper::{Method, Request, Response, StatusCode};
use s3s::Body;
use serde_json::{Value, json};
use tandem_control::{AppState, ControlError};

use crate::control_ops::ControlOp;
use crate::{Node, ReqBody};

const PREFIX: &str = "/_tandem/apps/";
/// Largest AppStateUpdater body accepted.
const MAX_BODY: usize = 64 * 1024;

/// Path of the apply endpoint.
pub const APPLY_PATH: &str = "/_tandem/apply";
/// Path of the destroy endpoint.
pub const DESTROY_PATH: &str = "/_tandem/destroy";

/// The app id of a `/_tandem/apps/{id}/state` path.
pub fn state_path(path: &str) -> Option<&str> {
    path.strip_prefix(PREFIX)?
        .strip_suffix("/state")
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

/// A JSON answer (the control endpoints answered before s3s).
pub(crate) fn answer(status: StatusCode, body: Value) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response<Body> {
    answer(status, json!({ "error": code, "message": message.into() }))
}

pub(crate) fn control_error(e: ControlError) -> Response<Body> {
    match e {
        ControlError::UnknownApp(_) => error(StatusCode::NOT_FOUND, "NoSuchApp", e.to_string()),
        ControlError::Store(e) => {
            tracing::error!(error = %e, "application state unavailable");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "StoreUnavailable",
                "the application state could not be read or written",
            )
        }
    }
}

/// The access key id a request is signed with (header or presigned form);
/// read for the audit record once `admin_request` has verified the signature.
fn signing_key_id(headers: &hyper::HeaderMap, uri: &hyper::Uri) -> String {
    let from_header = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .map(str::to_string);
    let from_query = || {
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .find(|(k, _)| k == "X-Amz-Credential")
            .map(|(_, v)| v.into_owned())
    };
    from_header
        .or_else(from_query)
        .and_then(|c| c.split('/').next().map(str::to_string))
        .unwrap_or_default()
}

impl Node {
    /// Serves `GET` and `PUT /_tandem/apps/{id}/state`.
    pub(crate) async fn app_state(&self, req: Request<ReqBody>, app: String) -> Response<Body> {
        let control = &self.inner.control;
        match *req.method() {
            Method::GET => match control.view(&app) {
                Ok(view) => answer(StatusCode::OK, view),
                Err(e) => control_error(e),
            },
            Method::PUT => self.set_app_state(req, app).await,
            _ => error(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "use GET or PUT"),
        }
    }

    /// Reads a small signed body and checks that its signer may perform
    /// `op` (on `app`, when it names one).
    pub(crate) async fn authorized_request(
        &self,
        req: Request<ReqBody>,
        op: ControlOp,
        app: Option<&str>,
    ) -> Result<(String, bytes::Bytes), Response<Body>> {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = Limited::new(body, MAX_BODY).collect().await.map(|b| b.to_bytes()) else {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "the request body could not be read",
            ));
        };
        let principals = &self.inner.principals;
        let now = time::OffsetDateTime::now_utc();
        let signer = tandem_sigv4::verify(&parts.method, &parts.uri, &parts.headers, &bytes, now, |k| principals.secret_of(k))
            .map_err(|e| error(StatusCode::FORBIDDEN, "AccessDenied", format!("a signed request is required: {e}")))?;
        if signer.region != self.inner.signing_region || signer.service != "s3" {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "AuthorizationHeaderMalformed",
                format!(
                    "the credential is scoped to {}/{}; sign control requests for region '{}' and service 's3'",
                    signer.region, signer.service, self.inner.signing_region
                ),
            ));
        }
        let (caller, context) = principals
            .caller_context(&signer.access_key, &parts.uri, &parts.headers, &parts.extensions, now)
            .map_err(|e| {
                let code = e.s3().code().as_str().to_string();
                error(
                    StatusCode::FORBIDDEN,
                    &code,
                    format!("the credentials were refused: {}", e.reason()),
                )
            })?;
        op.authorize(&caller, &op.resource(&self.inner.region, app), &context)
            .map_err(|why| error(StatusCode::FORBIDDEN, "AccessDenied", why))?;
        Ok((caller.principal.clone(), bytes))
    }

    /// Serves `POST /_tandem/apply` (admin only).
    pub(crate) async fn apply(&self, req: Request<ReqBody>) -> Response<Body> {
        let (who, bytes) = match self.authorized_request(req, ControlOp::Apply, None).await {
            Ok(x) => x,
            Err(resp) => return resp,
        };
        let request: crate::apply::ApplyRequest = match serde_json::from_slice(&bytes) {
            Ok(r) => r,
            Err(e) => return error(StatusCode::BAD_REQUEST, "InvalidRequest", format!("bad apply request: {e}")),
        };
        match self.apply_apps(request, &who).await {
            Ok(plan) => answer(StatusCode::OK, plan),
            Err(e) => error(StatusCode::CONFLICT, "ApplyFailed", e.to_string()),
        }
    }

    /// Serves `POST /_tandem/destroy` (admin only): body `{"app": {...}}`.
    pub(crate) async fn destroy(&self, req: Request<ReqBody>) -> Response<Body> {
        let (_, bytes) = match self.authorized_request(req, ControlOp::Destroy, None).await {
            Ok(x) => x,
            Err(resp) => return resp,
        };
        let app: tandem_control::AppSpec = match serde_json::from_slice::<Value>(&bytes).map(|v| serde_json::from_value(v["app"].clone())) {
            Ok(Ok(app)) => app,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    "the body must be {\"app\": <app as in tandem.toml>}",
                );
            }
        };
        match self.destroy_app(&app).await {
            Ok(done) => answer(StatusCode::OK, done),
            Err(e) => error(StatusCode::CONFLICT, "DestroyFailed", e.to_string()),
        }
    }

    async fn set_app_state(&self, req: Request<ReqBody>, app: String) -> Response<Body> {
        let remote_addr = req
            .extensions()
            .get::<tandem_iam::SourceAddr>()
            .map(|a| a.0.to_string())
            .unwrap_or_default();
        let access_key_id = signing_key_id(req.headers(), req.uri());
        let (who, bytes) = match self.authorized_request(req, ControlOp::SetAppState, Some(&app)).await {
            Ok(x) => x,
            Err(resp) => return resp,
        };
        let Ok(update) = serde_json::from_slice::<Value>(&bytes) else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "the body must be JSON: {\"AppId\": ..., \"NewState\": ...}",
            );
        };
        if update.get("AppId").and_then(Value::as_str) != Some(app.as_str()) {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                format!("AppId must be {app:?}, as in the path"),
            );
        }
        let Some(state) = update.get("NewState").and_then(Value::as_str).and_then(AppState::parse) else {
            return error(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "NewState must be one of active, fenced, failover",
            );
        };
        let reason = update
            .get("Reason")
            .and_then(Value::as_str)
            .unwrap_or("set through the control API");
        let actor = tandem_control::Actor {
            principal: who,
            access_key_id,
            remote_addr,
        };
        match self.inner.control.set(&app, state, &actor, reason).await {
            Ok(changed) => match self.inner.control.view(&app) {
                Ok(mut view) => {
                    view["Seq"] = json!(changed.seq);
                    answer(StatusCode::OK, view)
                }
                Err(e) => control_error(e),
            },
            Err(e) => control_error(e),
        }
    }
}
