//! The control API under `/_tandem/` (SigV4-authenticated like S3, each
//! operation authorized by [`crate::control_ops`]): the change
//! log read-only (`GET /_tandem/changes?after=SEQ&limit=N`), replication status
//! (`GET /_tandem/replication`), inventories for diffs
//! (`GET /_tandem/replication/inventory?bucket=B|table=T&after=`) and resync
//! pages (`POST /_tandem/replication/resync?bucket=B|table=T&after=`), and
//! the audit trail of an app's states (`GET /_tandem/apps/{id}/history?limit=N`),
//! and the regions with their client URLs (`GET /_tandem/regions`).

use hyper::http::Extensions;
use hyper::{HeaderMap, Method, StatusCode, Uri};
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result, s3_error};
use tandem_store::Store;

use crate::control_ops::ControlOp;

/// Path prefix of every control endpoint.
pub const PREFIX: &str = "/_tandem/";
/// Largest page of change-log entries.
const MAX_CHANGES: usize = 1000;
/// Most audit records one history request returns (the latest ones).
const MAX_HISTORY: usize = 1000;

/// The app id of a `/_tandem/apps/{id}/history` path.
pub(crate) fn history_path(path: &str) -> Option<&str> {
    path.strip_prefix("/_tandem/apps/")?
        .strip_suffix("/history")
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

pub struct ControlRoute {
    pub region: String,
    pub principals: tandem_s3::Principals,
    pub store: Store,
    pub replication: tandem_replication::Replication,
    pub apps: tandem_control::AppControl,
    /// Client URL of every region.
    pub region_urls: std::collections::BTreeMap<String, String>,
}

fn query_u64(uri: &Uri, name: &str) -> S3Result<Option<u64>> {
    let Some(q) = uri.query() else { return Ok(None) };
    for kv in q.split('&') {
        if let Some(v) = kv.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return v
                .parse()
                .map(Some)
                .map_err(|_| s3_error!(InvalidArgument, "{name} must be a non-negative integer"));
        }
    }
    Ok(None)
}

fn replication_failure(e: tandem_replication::ReplicationError) -> s3s::S3Error {
    match e {
        tandem_replication::ReplicationError::Store(e) => crate::store_failure(e),
        tandem_replication::ReplicationError::Rejected(message) => s3s::S3Error::with_message(s3s::S3ErrorCode::InvalidArgument, message),
        e => {
            tracing::error!(error = %e, "replication control request failed");
            s3_error!(InternalError, "replication is unavailable")
        }
    }
}

/// The query parameters of one named value.
fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `bucket=B` or `table=T`, and `after=` for the next page.
fn subject_of(uri: &Uri) -> S3Result<(tandem_replication::inventory::Subject, Option<String>)> {
    use tandem_replication::inventory::Subject;
    let subject = match (query_param(uri, "bucket"), query_param(uri, "table")) {
        (Some(b), None) => Subject::Bucket(b),
        (None, Some(t)) => Subject::Table(t),
        _ => return Err(s3_error!(InvalidArgument, "name exactly one of bucket= or table=")),
    };
    Ok((subject, query_param(uri, "after")))
}

fn json(status: StatusCode, value: serde_json::Value) -> S3Response<Body> {
    let mut resp = S3Response::new(Body::from(value.to_string()));
    resp.status = Some(status);
    resp.headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

#[async_trait::async_trait]
impl S3Route for ControlRoute {
    fn is_match(&self, _method: &Method, uri: &Uri, _headers: &HeaderMap, _extensions: &mut Extensions) -> bool {
        uri.path().starts_with(PREFIX)
    }

    async fn check_access(&self, req: &mut S3Request<Body>) -> S3Result<()> {
        let now = time::OffsetDateTime::now_utc();
        let access_key = req
            .credentials
            .as_ref()
            .map(|c| c.access_key.clone())
            .ok_or_else(|| s3_error!(AccessDenied, "the control API needs a signed request"))?;
        let (caller, context) = self
            .principals
            .caller_context(&access_key, &req.uri, &req.headers, &req.extensions, now)
            .map_err(|e| e.s3())?;
        let op = ControlOp::of(&req.method, req.uri.path());
        op.authorize(&caller, &op.resource(&self.region, None), &context)
            .map_err(|why| s3s::S3Error::with_message(s3s::S3ErrorCode::AccessDenied, why))
    }

    async fn call(&self, req: S3Request<Body>) -> S3Result<S3Response<Body>> {
        match (req.method.clone(), req.uri.path()) {
            (Method::GET, "/_tandem/changes") => {
                let after = query_u64(&req.uri, "after")?.unwrap_or(0);
                let limit = query_u64(&req.uri, "limit")?.map_or(MAX_CHANGES, |l| (l as usize).clamp(1, MAX_CHANGES));
                let changes = self.store.changes_after(after, limit).map_err(crate::store_failure)?;
                Ok(json(
                    StatusCode::OK,
                    serde_json::json!({ "changes": changes, "last_seq": self.store.last_seq() }),
                ))
            }
            (method, path @ ("/_tandem/replication/inventory" | "/_tandem/replication/resync")) => {
                let (subject, after) = subject_of(&req.uri)?;
                let page = match (method, path) {
                    (Method::GET, "/_tandem/replication/inventory") => {
                        tandem_replication::inventory::inventory(&self.store, subject, after).map_err(replication_failure)?
                    }
                    (Method::POST, "/_tandem/replication/resync") => tandem_replication::inventory::resync(&self.store, subject, after)
                        .await
                        .map_err(replication_failure)?,
                    _ => return Err(s3_error!(MethodNotAllowed, "use GET for the inventory and POST for resync")),
                };
                Ok(json(StatusCode::OK, page))
            }
            (Method::GET, "/_tandem/apps") => {
                let list = self.apps.list().map_err(|e| s3_error!(InternalError, "{e}"))?;
                Ok(json(StatusCode::OK, list))
            }
            (Method::GET, path) if history_path(path).is_some() => {
                let app = history_path(path).unwrap_or_default();
                let limit = query_u64(&req.uri, "limit")?.map_or(MAX_HISTORY, |l| (l as usize).clamp(1, MAX_HISTORY));
                let records = self.apps.history(app, limit).map_err(|e| match e {
                    tandem_control::ControlError::UnknownApp(_) => s3s::S3Error::with_message(s3s::S3ErrorCode::NoSuchKey, e.to_string()),
                    e => s3_error!(InternalError, "{e}"),
                })?;
                Ok(json(
                    StatusCode::OK,
                    serde_json::json!({ "region": self.store.region(), "app": app, "history": records }),
                ))
            }
            (Method::GET, "/_tandem/regions") => {
                let regions: Vec<serde_json::Value> = self
                    .region_urls
                    .iter()
                    .map(|(name, url)| serde_json::json!({ "name": name, "url": url }))
                    .collect();
                Ok(json(
                    StatusCode::OK,
                    serde_json::json!({ "region": self.store.region(), "regions": regions }),
                ))
            }
            (Method::GET, "/_tandem/replication") => {
                let status = self.replication.status().map_err(replication_failure)?;
                Ok(json(StatusCode::OK, status))
            }
            (_, path) => Err(s3s::S3Error::with_message(
                s3s::S3ErrorCode::NoSuchKey,
                format!("No control endpoint {} {path}", req.method),
            )),
        }
    }
}
