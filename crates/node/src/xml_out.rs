//! The last guard of "responses always parse": an XML response body that
//! still holds a character XML 1.0 cannot carry (a message quoting client
//! input, or a key stored before such keys were refused) has each one replaced
//! by U+FFFD, and the event is logged. Requests are refused up front for this
//! (`tandem_s3::xml_text`, `documents`); this catches what those cannot see.
//! Only buffered bodies are looked at: s3s renders every XML document whole.

use hyper::Response;
use hyper::header::{self, HeaderValue};
use s3s::Body;
use tandem_s3::xml_text::allowed;

fn is_xml(resp: &Response<Body>) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("xml"))
}

/// The text with every character XML cannot carry replaced, if there was one.
fn replaced(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.chars().all(allowed) {
        return None;
    }
    Some(text.chars().map(|c| if allowed(c) { c } else { '\u{FFFD}' }).collect())
}

/// Makes a buffered XML response body parse.
pub(crate) fn sanitize(resp: &mut Response<Body>, op: &str) {
    if !is_xml(resp) {
        return;
    }
    let Some(fixed) = resp.body().bytes().and_then(|b| replaced(&b)) else {
        return;
    };
    tracing::warn!(op, "an XML response held characters XML cannot carry; replaced with U+FFFD");
    if let Ok(len) = HeaderValue::from_str(&fixed.len().to_string()) {
        resp.headers_mut().insert(header::CONTENT_LENGTH, len);
    }
    *resp.body_mut() = Body::from(fixed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xml(body: &str) -> Response<Body> {
        let mut r = Response::new(Body::from(body.to_string()));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        r
    }

    #[test]
    fn characters_xml_cannot_carry_are_replaced_and_the_length_follows() {
        let mut r = xml("<Error><Message>bad: a\u{0}b\u{1}</Message></Error>");
        sanitize(&mut r, "PutBucketPolicy");
        let body = String::from_utf8(r.body().bytes().unwrap().to_vec()).unwrap();
        assert_eq!(body, "<Error><Message>bad: a\u{FFFD}b\u{FFFD}</Message></Error>");
        assert_eq!(r.headers()[header::CONTENT_LENGTH], body.len().to_string().as_str());
    }

    #[test]
    fn valid_documents_and_other_types_are_untouched() {
        let mut r = xml("<a>ü\t</a>");
        sanitize(&mut r, "x");
        assert_eq!(r.body().bytes().unwrap(), "<a>ü\t</a>".as_bytes());
        let mut r = Response::new(Body::from("\u{0}".to_string()));
        sanitize(&mut r, "x");
        assert_eq!(r.body().bytes().unwrap(), "\u{0}".as_bytes());
    }
}
