//! The last guard of XML answers: a buffered XML body holding a character
//! XML 1.0 cannot carry (a key with a control character, a message quoting
//! client input). A listing that succeeded writes each one as a numeric
//! character reference (`&#x1;`), as S3 does: clients that cannot read those
//! ask for `encoding-type=url`, as boto3 and the aws CLI do. Every other
//! answer (errors, and results that echo a key but take no encoding type:
//! InitiateMultipartUpload, CompleteMultipartUpload, ListParts, DeleteObjects)
//! has each one replaced by U+FFFD, so that SDKs can parse it. Only buffered bodies are looked at: s3s renders
//! every XML document whole.

use hyper::Response;
use hyper::header::{self, HeaderValue};
use s3s::Body;
use tandem_s3::xml_text::{allowed, with_character_references};

/// The listings whose keys S3 writes as character references (those that
/// take `encoding-type=url` for clients that cannot read them).
const LISTINGS: [&str; 4] = ["ListObjects", "ListObjectsV2", "ListObjectVersions", "ListMultipartUploads"];

fn is_xml(resp: &Response<Body>) -> bool {
    resp.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("xml"))
}

/// The text with every character XML cannot carry replaced (or referenced,
/// for a listing), if there was one.
fn replaced(bytes: &[u8], listing: bool) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.chars().all(allowed) {
        return None;
    }
    if listing {
        return Some(with_character_references(text));
    }
    Some(text.chars().map(|c| if allowed(c) { c } else { '\u{FFFD}' }).collect())
}

/// Makes a buffered XML response body parse (or, for a listing, read as S3's).
pub(crate) fn sanitize(resp: &mut Response<Body>, op: &str) {
    if !is_xml(resp) {
        return;
    }
    let listing = resp.status().is_success() && LISTINGS.contains(&op);
    let Some(fixed) = resp.body().bytes().and_then(|b| replaced(&b, listing)) else {
        return;
    };
    if !listing {
        tracing::debug!(op, "an XML response held characters XML cannot carry; replaced with U+FFFD");
    }
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
    fn a_listing_writes_them_as_character_references_but_its_errors_do_not() {
        let mut r = xml("<ListBucketResult><Key>a\u{1}b</Key></ListBucketResult>");
        sanitize(&mut r, "ListObjectsV2");
        let body = String::from_utf8(r.body().bytes().unwrap().to_vec()).unwrap();
        assert_eq!(body, "<ListBucketResult><Key>a&#x1;b</Key></ListBucketResult>");
        assert_eq!(r.headers()[header::CONTENT_LENGTH], body.len().to_string().as_str());
        let mut r = xml("<Error><Message>a\u{1}</Message></Error>");
        *r.status_mut() = hyper::StatusCode::NOT_FOUND;
        sanitize(&mut r, "ListObjectsV2");
        assert_eq!(r.body().bytes().unwrap(), "<Error><Message>a\u{FFFD}</Message></Error>".as_bytes());
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
