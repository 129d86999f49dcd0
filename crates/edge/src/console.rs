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
use tandem_console::session::Session;
use tandem_sts::SessionKey;
use tandem_sts::token::TokenKind;

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
    if let Some(file) = tandem_console::assets::response(req.method(), path) {
        return Some(file.map(full));
    }
    if path != EDGE_API || *req.method() != Method::GET {
        return None;
    }
    Some(match admin_session(req, sessions, admin_keys) {
        Ok(()) => json(StatusCode::OK, summary.to_json()),
        Err((status, why)) => json(status, serde_json::json!({ "error": "AccessDenied", "message": why })),
    })
}

/// Whether the request carries a console session of one of the
/// deployment's admin keys itself (not a role or a narrowed session of it).
fn admin_session<B>(
    req: &Request<B>,
    sessions: Option<&SessionKey>,
    admin_keys: &HashMap<String, String>,
) -> Result<(), (StatusCode, &'static str)> {
    let signed_out = (StatusCode::UNAUTHORIZED, "sign in to the console first");
    let session = Session::of_request(req.headers()).ok_or(signed_out)?;
    let key = sessions.ok_or((
        StatusCode::FORBIDDEN,
        "the edge has no [sts] signing_key to check console sessions with",
    ))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = key
        .verify_as(TokenKind::Console, &session.session_token, &session.access_key_id, now)
        .map_err(|_| signed_out)?;
    let the_key_itself = claims.web.is_none() && claims.role.is_none() && claims.policy.is_none();
    match the_key_itself && admin_keys.contains_key(&claims.parent) {
        true => Ok(()),
        false => Err((StatusCode::FORBIDDEN, "the edge's figures are shown to admin keys only")),
    }
}
