//! `POST /_tandem/edge/invalidations`: removes cached paths at once, no quota.
//!
//! The body is `{"Paths": ["/index.html", "/img/*"], "Host": "optional"}`;
//! `*` matches any run of characters. The request must be SigV4-signed (any
//! region, service `s3`) by an admin key of tandem.toml (`admin = true`),
//! the same keys the regions accept for their control API; the edge reads
//! them from the same file. `tandem edge invalidate` sends it to every edge
//! node of the config.

use std::collections::HashMap;

use http::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use crate::body::EdgeBody;
use crate::errors;

pub const PATH: &str = "/_tandem/edge/invalidations";
/// Largest body accepted.
const MAX_BODY: usize = 256 * 1024;
const MAX_PATHS: usize = 3_000;
const MAX_PATH_LEN: usize = 1_024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Invalidation {
    #[serde(rename = "Paths")]
    paths: Vec<String>,
    #[serde(rename = "Host")]
    host: Option<String>,
}

fn refuse(status: StatusCode, code: &str, message: impl Into<String>) -> Response<EdgeBody> {
    errors::json(status, &json!({ "error": code, "message": message.into() }))
}

fn check(inv: &Invalidation) -> Result<(), String> {
    if inv.paths.is_empty() || inv.paths.len() > MAX_PATHS {
        return Err(format!("Paths must hold 1 to {MAX_PATHS} paths"));
    }
    match inv.paths.iter().find(|p| !p.starts_with('/') || p.len() > MAX_PATH_LEN) {
        Some(p) => Err(format!("path {p:?} must start with '/' and be at most {MAX_PATH_LEN} bytes")),
        None => Ok(()),
    }
}

/// Verifies and runs an invalidation; `invalidate` removes matching entries and says how many.
pub async fn handle(
    req: Request<EdgeBody>,
    node: &str,
    admin_secrets: &HashMap<String, String>,
    invalidate: impl FnOnce(Option<&str>, &[String]) -> u64,
) -> Response<EdgeBody> {
    if req.method() != http::Method::POST {
        return refuse(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", "use POST");
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = crate::body::read_at_most(body, MAX_BODY).await else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
            format!("the body must be at most {MAX_BODY} bytes"),
        );
    };
    let now = time::OffsetDateTime::now_utc();
    if let Err(e) = tandem_sigv4::verify(&parts.method, &parts.uri, &parts.headers, &bytes, now, |k| {
        admin_secrets.get(k).cloned()
    }) {
        return refuse(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            format!("an admin-signed request is required: {e}"),
        );
    }
    let inv: Invalidation = match serde_json::from_slice(&bytes) {
        Ok(i) => i,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                format!("expected {{\"Paths\": [...]}}: {e}"),
            );
        }
    };
    if let Err(e) = check(&inv) {
        return refuse(StatusCode::BAD_REQUEST, "InvalidRequest", e);
    }
    let removed = invalidate(inv.host.as_deref(), &inv.paths);
    tracing::info!(paths = inv.paths.len(), removed, "invalidation");
    errors::json(
        StatusCode::OK,
        &json!({ "Node": node, "Paths": inv.paths.len(), "Removed": removed }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::full;

    fn signed(body: &str, secret: &str) -> Request<EdgeBody> {
        let uri: http::Uri = PATH.parse().unwrap();
        let mut h = http::HeaderMap::new();
        h.insert("host", "edge:1".parse().unwrap());
        tandem_sigv4::sign(
            &http::Method::POST,
            &uri,
            &mut h,
            body.as_bytes(),
            "ADMIN",
            secret,
            "us-east-1",
            "s3",
            time::OffsetDateTime::now_utc(),
        );
        let mut req = Request::post(uri).body(full(body.to_string())).unwrap();
        *req.headers_mut() = h;
        req
    }

    #[tokio::test]
    async fn only_an_admin_signature_invalidates_and_the_paths_reach_the_cache() {
        let admins = HashMap::from([("ADMIN".to_string(), "admin-secret".to_string())]);
        let body = r#"{"Paths": ["/img/*", "/index.html"]}"#;
        let mut seen = Vec::new();
        let resp = handle(signed(body, "admin-secret"), "e1", &admins, |_, p| {
            seen = p.to_vec();
            7
        })
        .await;
        assert_eq!(resp.status(), 200);
        assert_eq!(seen, ["/img/*", "/index.html"]);
        let resp = handle(signed(body, "wrong"), "e1", &admins, |_, _| panic!("not verified")).await;
        assert_eq!(resp.status(), 403);
        let resp = handle(signed(r#"{"Paths": ["nope"]}"#, "admin-secret"), "e1", &admins, |_, _| 0).await;
        assert_eq!(resp.status(), 400);
    }
}
