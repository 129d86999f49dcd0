//! Answers the edge itself gives, in S3's XML error format (what the SDKs
//! and the aws CLI parse), with a request id.

use http::{HeaderValue, Response, StatusCode, header};

use crate::body::{EdgeBody, full};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `<Error><Code>..</Code><Message>..</Message></Error>` with `status`.
pub fn xml(status: StatusCode, code: &str, message: &str) -> Response<EdgeBody> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>",
        escape(code),
        escape(message)
    );
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
    resp
}

/// A JSON answer (the edge's own API).
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<EdgeBody> {
    let mut resp = Response::new(full(value.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_escaped_into_well_formed_xml() {
        let r = xml(StatusCode::BAD_GATEWAY, "OriginUnavailable", "<a & b>");
        assert_eq!(r.status(), 502);
        assert_eq!(r.headers()["content-type"], "application/xml");
    }
}
