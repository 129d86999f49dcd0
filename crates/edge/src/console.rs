//! The console at the edge (`/_tandem/console`): the edge serves the
//! console's page itself (the same files as every node, from
//! `tandem-console`) and its own figures at `api/edge` (requests, cache hit
//! ratio and origin failovers), to a console session of an admin key. The
//! console's other requests (signing in, the regions' data) are not the
//! edge's: they go through the distribution's behaviours to a region like
//! any request, so a behaviour for `/_tandem/console/*` that follows the
//! app's write region gives a console that fails over with it.

use std::collections::HashMap;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use tandem_console::session;
use tandem_sts::SessionKey;

use crate::body::{EdgeBody, full};
use crate::summary::Summary;

/// Path of the edge's own figures.
const EDGE_API: &str = "/_tandem/console/api/edge";

fn json(status: StatusCode, body: serde_json::Value) -> Response<EdgeBody> {
    let mut resp = Response::new(full(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// What the edge itself answers of a console request; `None` sends it on
/// to the behaviours.
pub fn answer<B>(
    req: &Request<B>,
    summary: &Summary,
    sessions: Option<&SessionKey>,
    admin_keys: &HashMap<String, String>,
) -> Option<Response<EdgeBody>> {
    let path = req.uri().path();
    let reading = matches!(*req.method(), Method::GET | Method::HEAD);
    if reading && path == tandem_console::PATH {
        let mut resp = Response::new(full(""));
        *resp.status_mut() = StatusCode::MOVED_PERMANENTLY;
        resp.headers_mut()
            .insert(header::LOCATION, HeaderValue::from_static("/_tandem/console/"));
        return Some(resp);
    }
    if reading && let Some(asset) = tandem_console::assets::lookup(path) {
        let mut resp = Response::new(full(match *req.method() {
            Method::HEAD => bytes::Bytes::new(),
            _ => bytes::Bytes::from_static(asset.body),
        }));
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        for (name, value) in tandem_console::assets::SECURITY_HEADERS {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        return Some(resp);
    }
    if path != EDGE_API {
        return None;
    }
    Some(match admin_session(req, sessions, admin_keys) {
        Ok(()) => json(StatusCode::OK, summary.to_json()),
        Err((status, why)) => json(status, serde_json::json!({ "error": "AccessDenied", "message": why })),
    })
}

/// Whether the request carries a console session of one of the
/// deployment's admin keys.
fn admin_session<B>(
    req: &Request<B>,
    sessions: Option<&SessionKey>,
    admin_keys: &HashMap<String, String>,
) -> Result<(), (StatusCode, &'static str)> {
    if !req.headers().contains_key(session::HEADER) {
        return Err((StatusCode::FORBIDDEN, "console requests must carry the x-tandem-console header"));
    }
    let cookies = req.headers().get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok());
    let signed_out = (StatusCode::UNAUTHORIZED, "sign in to the console first");
    let session = session::from_cookies(cookies).ok_or(signed_out)?;
    let key = sessions.ok_or((
        StatusCode::FORBIDDEN,
        "the edge has no [sts] signing_key to check console sessions with",
    ))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = key
        .verify(&session.session_token, &session.access_key_id, now)
        .map_err(|_| signed_out)?;
    match claims.web.is_none() && admin_keys.contains_key(&claims.parent) {
        true => Ok(()),
        false => Err((StatusCode::FORBIDDEN, "the edge's figures are shown to admin keys only")),
    }
}
