//! The control API under `/_tandem/` (SigV4-authenticated like S3). For now it
//! exposes the change log read-only: `GET /_tandem/changes?after=SEQ&limit=N`.

use hyper::http::Extensions;
use hyper::{HeaderMap, Method, StatusCode, Uri};
use s3s::route::S3Route;
use s3s::{Body, S3Request, S3Response, S3Result, s3_error};
use tandem_store::Store;

/// Path prefix of every control endpoint.
pub const PREFIX: &str = "/_tandem/";
/// Largest page of change-log entries.
const MAX_CHANGES: usize = 1000;

pub struct ControlRoute {
    pub store: Store,
    pub replication: tandem_replication::Replication,
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
    tracing::error!(error = %e, "replication status failed");
    s3_error!(InternalError, "replication status is unavailable")
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
