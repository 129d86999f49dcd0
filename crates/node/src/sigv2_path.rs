//! SigV2 requests to a bucket in path style (`/bucket`) are signed by the
//! SDKs (botocore, the AWS SDK for Java v1) with the canonical resource
//! `/bucket/`, which S3 accepts; s3s 0.14 signs the path as sent and refuses
//! them with `SignatureDoesNotMatch`. Such a request's path is given its
//! trailing slash before s3s sees it (S3 routes both forms alike).

use hyper::Request;
use hyper::http::uri::{PathAndQuery, Uri};
use tandem_s3::auth_form::{self, AuthForm};

/// `/bucket` → `/bucket/` for a path-style SigV2 request (`vhost`: the Host
/// named a bucket, so the path is a key and stays as it is).
pub(crate) fn add_bucket_slash<B>(req: &mut Request<B>, vhost: bool) {
    if vhost
        || !matches!(
            auth_form::of(req.method(), req.uri(), req.headers()),
            AuthForm::V2Header | AuthForm::V2Query
        )
    {
        return;
    }
    let path = req.uri().path();
    let one_segment = path.len() > 1 && path.starts_with('/') && !path[1..].contains('/');
    if !one_segment {
        return;
    }
    let fixed = match req.uri().query() {
        Some(q) => format!("{path}/?{q}"),
        None => format!("{path}/"),
    };
    let Ok(pq) = fixed.parse::<PathAndQuery>() else { return };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = Some(pq);
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, auth: &str) -> Request<()> {
        Request::builder().uri(uri).header("authorization", auth).body(()).unwrap()
    }

    #[test]
    fn only_path_style_sigv2_bucket_requests_get_the_slash() {
        let mut r = req("/bkt?prefix=a", "AWS AKID:sig");
        add_bucket_slash(&mut r, false);
        assert_eq!(r.uri().to_string(), "/bkt/?prefix=a");
        for (uri, auth, vhost) in [
            ("/bkt/key", "AWS AKID:sig", false),
            ("/bkt/", "AWS AKID:sig", false),
            ("/key", "AWS AKID:sig", true),
            (
                "/bkt",
                "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0",
                false,
            ),
        ] {
            let mut r = req(uri, auth);
            add_bucket_slash(&mut r, vhost);
            assert_eq!(r.uri().to_string(), uri, "{uri} {auth}");
        }
    }
}
