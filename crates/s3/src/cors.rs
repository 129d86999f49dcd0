//! CORS: the bucket configuration operations, and the rule matching the node uses
//! to answer browser preflight (`OPTIONS`) requests and to decorate actual
//! responses with `Access-Control-*` headers.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};
use tandem_store::{CorsRule, Store};

use crate::S3Api;
use crate::error::OrS3;
use tandem_iam::pattern::wildcard;

const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

impl S3Api {
    pub(crate) async fn op_put_bucket_cors(&self, req: S3Request<PutBucketCorsInput>) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let rules = req
            .input
            .cors_configuration
            .cors_rules
            .iter()
            .map(rule_from_dto)
            .collect::<S3Result<Vec<_>>>()?;
        if rules.is_empty() || rules.len() > 100 {
            return Err(s3_error!(MalformedXML, "A CORS configuration needs 1 to 100 rules"));
        }
        self.store
            .update_client_bucket(&req.input.bucket, move |b| {
                b.cors = Some(rules);
                Ok(())
            })
            .await
            .or_s3()?;
        Ok(S3Response::new(PutBucketCorsOutput {}))
    }

    pub(crate) async fn op_get_bucket_cors(&self, req: S3Request<GetBucketCorsInput>) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let record = self.bucket(&req.input.bucket)?;
        let rules = record
            .cors
            .ok_or_else(|| s3_error!(NoSuchCORSConfiguration, "The CORS configuration does not exist"))?;
        Ok(S3Response::new(GetBucketCorsOutput {
            cors_rules: Some(rules.iter().map(rule_to_dto).collect()),
        }))
    }

    pub(crate) async fn op_delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        self.store
            .update_client_bucket(&req.input.bucket, |b| {
                b.cors = None;
                Ok(())
            })
            .await
            .or_s3()?;
        Ok(S3Response::new(DeleteBucketCorsOutput {}))
    }
}

/// Validates one rule of a PutBucketCors body (public for the fuzz targets).
pub fn rule_from_dto(r: &CORSRule) -> S3Result<CorsRule> {
    if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
        return Err(s3_error!(MalformedXML, "Each CORSRule needs an AllowedOrigin and an AllowedMethod"));
    }
    if let Some(bad) = r.allowed_methods.iter().find(|m| !METHODS.contains(&m.as_str())) {
        return Err(s3_error!(
            InvalidRequest,
            "Found unsupported HTTP method in CORS config. Unsupported method is {bad}"
        ));
    }
    Ok(CorsRule {
        id: r.id.clone(),
        allowed_origins: r.allowed_origins.clone(),
        allowed_methods: r.allowed_methods.clone(),
        allowed_headers: r.allowed_headers.clone().unwrap_or_default(),
        expose_headers: r.expose_headers.clone().unwrap_or_default(),
        max_age_seconds: r.max_age_seconds,
    })
}

fn rule_to_dto(r: &CorsRule) -> CORSRule {
    CORSRule {
        id: r.id.clone(),
        allowed_origins: r.allowed_origins.clone(),
        allowed_methods: r.allowed_methods.clone(),
        allowed_headers: (!r.allowed_headers.is_empty()).then(|| r.allowed_headers.clone()),
        expose_headers: (!r.expose_headers.is_empty()).then(|| r.expose_headers.clone()),
        max_age_seconds: r.max_age_seconds,
    }
}

/// The first rule allowing `origin` to use `method` with `headers`.
fn matching_rule<'a>(rules: &'a [CorsRule], origin: &str, method: &str, headers: &[String]) -> Option<&'a CorsRule> {
    rules.iter().find(|r| {
        r.allowed_origins.iter().any(|o| wildcard(o, origin))
            && r.allowed_methods.iter().any(|m| m.eq_ignore_ascii_case(method))
            && headers.iter().all(|h| {
                r.allowed_headers
                    .iter()
                    .any(|a| wildcard(&a.to_ascii_lowercase(), &h.to_ascii_lowercase()))
            })
    })
}

/// Outcome of a CORS evaluation: headers to send, or why the request is refused.
pub enum CorsAnswer {
    Allowed(Vec<(&'static str, String)>),
    /// No bucket, no configuration, or no matching rule.
    Forbidden(&'static str),
}

/// Answers a preflight request for `bucket`.
pub fn preflight(store: &Store, bucket: &str, origin: &str, method: &str, request_headers: &[String]) -> CorsAnswer {
    let rules = match store.read().ok().and_then(|r| r.bucket(bucket).ok().flatten()) {
        Some(b) => match b.cors {
            Some(rules) => rules,
            None => return CorsAnswer::Forbidden("CORSResponse: CORS is not enabled for this bucket."),
        },
        None => return CorsAnswer::Forbidden("CORSResponse: Bucket not found"),
    };
    match matching_rule(&rules, origin, method, request_headers) {
        Some(rule) => {
            let mut h = allow_headers(rule, origin);
            if !request_headers.is_empty() {
                h.push(("access-control-allow-headers", request_headers.join(", ")));
            }
            CorsAnswer::Allowed(h)
        }
        None => CorsAnswer::Forbidden(
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
        ),
    }
}

/// Headers for an actual (non-preflight) request from `origin`.
pub fn response_headers(store: &Store, bucket: &str, origin: &str, method: &str) -> Vec<(&'static str, String)> {
    let Some(rules) = store.read().ok().and_then(|r| r.bucket(bucket).ok().flatten()).and_then(|b| b.cors) else {
        return vec![];
    };
    matching_rule(&rules, origin, method, &[])
        .map(|r| allow_headers(r, origin))
        .unwrap_or_default()
}

/// The headers S3 sends for a matching rule, on preflights and actual
/// responses alike: origin, methods, exposed headers, max age, and `Vary`.
fn allow_headers(rule: &CorsRule, origin: &str) -> Vec<(&'static str, String)> {
    let any = rule.allowed_origins.iter().any(|o| o == "*");
    let mut h = vec![
        (
            "access-control-allow-origin",
            if any { "*".to_string() } else { origin.to_string() },
        ),
        ("access-control-allow-methods", rule.allowed_methods.join(", ")),
        (
            "vary",
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".to_string(),
        ),
    ];
    if !any {
        h.push(("access-control-allow-credentials", "true".to_string()));
    }
    if !rule.expose_headers.is_empty() {
        h.push(("access-control-expose-headers", rule.expose_headers.join(", ")));
    }
    if let Some(age) = rule.max_age_seconds {
        h.push(("access-control-max-age", age.to_string()));
    }
    h
}
