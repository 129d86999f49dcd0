//! Failed authentications and refused authorizations, counted by reason
//! (`tandem_auth_failures_total{reason}`): read from the error code of any
//! 400/401/403 answer, in whichever API's format (S3 and STS XML `<Code>`,
//! DynamoDB JSON `__type`, control JSON `error`), mapped onto a fixed set of
//! labels so clients cannot create series.

use hyper::Response;
use s3s::Body;

/// The error codes counted, and the label of each.
const REASONS: [(&str, &str); 14] = [
    ("SignatureDoesNotMatch", "bad_signature"),
    ("InvalidSignatureException", "bad_signature"),
    ("InvalidAccessKeyId", "unknown_key"),
    ("UnrecognizedClientException", "unknown_key"),
    ("InvalidClientTokenId", "unknown_key"),
    ("InvalidToken", "invalid_token"),
    ("ExpiredToken", "expired_token"),
    ("ExpiredTokenException", "expired_token"),
    ("MissingAuthenticationToken", "missing"),
    ("MissingAuthenticationTokenException", "missing"),
    ("RequestTimeTooSkewed", "clock_skew"),
    ("AuthorizationHeaderMalformed", "malformed"),
    ("AccessDenied", "access_denied"),
    ("AccessDeniedException", "access_denied"),
];

/// The error code in a buffered error body, in any of the node's formats.
fn error_code(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    if let Some(rest) = text.split_once("<Code>").map(|(_, r)| r) {
        return rest.split_once("</Code>").map(|(code, _)| code);
    }
    let field = ["\"__type\":\"", "\"error\":\""]
        .iter()
        .find_map(|f| text.split_once(f).map(|(_, r)| r))?;
    let value = field.split_once('"')?.0;
    Some(value.rsplit('#').next().unwrap_or(value))
}

/// The reason label of a refused request, if its answer is an authentication
/// or authorization failure.
pub fn reason(resp: &Response<Body>) -> Option<&'static str> {
    if !matches!(resp.status().as_u16(), 400 | 401 | 403) {
        return None;
    }
    let body = resp.body().bytes()?;
    let code = error_code(&body)?;
    REASONS.iter().find(|(c, _)| *c == code).map(|(_, label)| *label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_found_in_every_format() {
        assert_eq!(error_code(b"<Error><Code>AccessDenied</Code></Error>"), Some("AccessDenied"));
        assert_eq!(
            error_code(br#"{"__type":"com.amazon.coral.service#UnrecognizedClientException","message":"x"}"#),
            Some("UnrecognizedClientException")
        );
        assert_eq!(error_code(br#"{"error":"AccessDenied","message":"x"}"#), Some("AccessDenied"));
        assert_eq!(error_code(b"not an error"), None);
    }
}
