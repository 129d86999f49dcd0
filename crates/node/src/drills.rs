//! Drill reports kept in a region: `POST /_tandem/drills` (signed,
//! `tandem:RecordDrill`) stores the report `tandem drill` made, and `GET`
//! (signed, `tandem:ListDrills`) lists the newest, as the console shows them.
//! Each report gets `kept_at_ms`, when this region took it.

use hyper::{Method, Request, Response, StatusCode};
use s3s::Body;
use serde_json::{Value, json};

use crate::apps::answer;
use crate::control_ops::ControlOp;
use crate::{Node, ReqBody};

/// Path of the drill reports.
pub const PATH: &str = "/_tandem/drills";
/// Reports one listing returns.
const LISTED: usize = 20;

impl Node {
    /// Serves `GET` and `POST /_tandem/drills`.
    pub(crate) async fn drills(&self, req: Request<ReqBody>, op: ControlOp) -> Response<Body> {
        let method = req.method().clone();
        let (_, bytes) = match self.authorized_request(req, op, None).await {
            Ok(x) => x,
            Err(resp) => return resp,
        };
        let store = &self.inner.store;
        if method == Method::GET {
            return match store.read().and_then(|r| r.drills(LISTED)) {
                Ok(drills) => answer(StatusCode::OK, json!({ "region": self.inner.region, "drills": drills })),
                Err(e) => answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({ "error": "StoreUnavailable", "message": e.to_string() }),
                ),
            };
        }
        let at_ms = tandem_store::now_ms();
        let report: Value = match serde_json::from_slice(&bytes) {
            Ok(Value::Object(mut report)) => {
                report.insert("kept_at_ms".into(), json!(at_ms));
                Value::Object(report)
            }
            _ => {
                return answer(
                    StatusCode::BAD_REQUEST,
                    json!({ "error": "InvalidRequest", "message": "the body must be a drill report (a JSON object)" }),
                );
            }
        };
        match store.write(move |tx| tx.put_drill(at_ms, &report)).await {
            Ok(()) => answer(StatusCode::OK, json!({ "region": self.inner.region, "kept_at_ms": at_ms })),
            Err(e) => {
                tracing::error!(error = %e, "drill report not kept");
                answer(
                    StatusCode::SERVICE_UNAVAILABLE,
                    json!({ "error": "StoreUnavailable", "message": e.to_string() }),
                )
            }
        }
    }
}
