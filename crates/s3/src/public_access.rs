//! Block Public Access and Object Ownership: the bucket operations
//! (Put/Get/DeletePublicAccessBlock, GetBucketPolicyStatus,
//! Put/Get/DeleteBucketOwnershipControls) and their enforcement, which the
//! ACL and policy paths and the access check call:
//!
//! - `BlockPublicAcls`: a new ACL (canned, grant headers or document, on a
//!   bucket or an object, at upload or later) granting `AllUsers` or
//!   `AuthenticatedUsers` is refused, 403 `AccessDenied`;
//! - `IgnorePublicAcls`: such grants are ignored by the access check;
//! - `BlockPublicPolicy`: a public bucket policy is refused, 403 `AccessDenied`;
//! - `RestrictPublicBuckets`: while the policy is public, its Allows count
//!   for signed requests only;
//! - `BucketOwnerEnforced`: ACLs are disabled: an ACL other than `private` /
//!   `bucket-owner-full-control` is 400 `AccessControlListNotSupported`, and
//!   grants give nothing (the bucket owner and the policy decide).
//!
//! A policy is public when a statement allows `*` (or `{"AWS": "*"}`)
//! without a `Condition`.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use tandem_store::{BucketRecord, Grant, Grantee};

use crate::S3Api;
use crate::error::OrS3;

/// S3's Object Ownership values.
const OWNERSHIP: [&str; 3] = [
    ObjectOwnership::BUCKET_OWNER_ENFORCED,
    ObjectOwnership::BUCKET_OWNER_PREFERRED,
    ObjectOwnership::OBJECT_WRITER,
];

fn block(b: &BucketRecord) -> tandem_store::PublicAccessBlock {
    b.access.public_access_block.unwrap_or_default()
}

/// Whether ACLs are disabled (`BucketOwnerEnforced`).
pub fn acls_disabled(b: &BucketRecord) -> bool {
    b.access.object_ownership.as_deref() == Some(ObjectOwnership::BUCKET_OWNER_ENFORCED)
}

fn is_public_grant(g: &Grant) -> bool {
    matches!(g.grantee, Grantee::AllUsers | Grantee::AuthenticatedUsers)
}

/// The grants the access check may count on this bucket.
pub fn counted_grants(b: &BucketRecord, grants: &[Grant]) -> Vec<Grant> {
    if acls_disabled(b) {
        return vec![];
    }
    let ignore_public = block(b).ignore_public_acls;
    grants.iter().filter(|g| !(ignore_public && is_public_grant(g))).cloned().collect()
}

/// Who owns a new object: the bucket owner when ACLs are disabled, else the writer.
pub fn new_object_owner(b: &BucketRecord, writer: String) -> String {
    if acls_disabled(b) { b.owner.clone() } else { writer }
}

/// Refuses a new ACL the bucket's settings do not allow. `canned` is the
/// canned ACL asked for, if any; `grants` what it and any grant headers or
/// document amount to.
pub fn check_new_acl(b: &BucketRecord, canned: Option<&str>, grants: &[Grant]) -> S3Result<()> {
    if acls_disabled(b) {
        let owner_only = grants.iter().all(|g| matches!(&g.grantee, Grantee::User(u) if *u == b.owner));
        let allowed_canned = canned.is_none_or(|c| c == "private" || c == "bucket-owner-full-control");
        if !(owner_only && allowed_canned) {
            let mut e = S3Error::with_message(
                S3ErrorCode::Custom("AccessControlListNotSupported".into()),
                "The bucket does not allow ACLs",
            );
            e.set_status_code(http::StatusCode::BAD_REQUEST);
            return Err(e);
        }
    }
    if block(b).block_public_acls && grants.iter().any(is_public_grant) {
        return Err(s3_error!(AccessDenied, "Access Denied"));
    }
    Ok(())
}

/// Whether a policy document allows anyone without a condition.
pub fn is_public_policy(doc: &str) -> bool {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(doc) else {
        return false;
    };
    let statements = match &v["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        s @ serde_json::Value::Object(_) => vec![s.clone()],
        _ => return false,
    };
    let anyone = |p: &serde_json::Value| match p {
        serde_json::Value::String(s) => s == "*",
        serde_json::Value::Array(a) => a.iter().any(|x| x == "*"),
        _ => false,
    };
    statements.iter().any(|s| {
        s["Effect"] == "Allow"
            && s.get("Condition").is_none()
            && match &s["Principal"] {
                serde_json::Value::Object(m) => m.get("AWS").is_some_and(anyone),
                p => anyone(p),
            }
    })
}

/// Refuses a bucket policy the bucket's settings do not allow.
pub fn check_new_policy(b: &BucketRecord, doc: &str) -> S3Result<()> {
    if block(b).block_public_policy && is_public_policy(doc) {
        return Err(s3_error!(AccessDenied, "Access Denied"));
    }
    Ok(())
}

/// `RestrictPublicBuckets`: while the bucket policy is public, its Allow
/// counts for signed requests only (an anonymous one falls to the ACLs).
pub fn restrict_public_policy(b: &BucketRecord, signed: bool, verdict: tandem_iam::Verdict) -> tandem_iam::Verdict {
    let restricted = !signed && block(b).restrict_public_buckets && b.policy.as_deref().is_some_and(is_public_policy);
    match verdict {
        tandem_iam::Verdict::Allow if restricted => tandem_iam::Verdict::Silent,
        v => v,
    }
}

/// `x-amz-expected-bucket-owner`: a bucket owned by someone else is 403
/// (the bucket is read only when the header is sent).
pub fn check_expected_owner(store: &tandem_store::Store, headers: &http::HeaderMap, bucket: &str) -> S3Result<()> {
    let Some(expected) = headers.get("x-amz-expected-bucket-owner") else {
        return Ok(());
    };
    let owner = store.read().or_s3()?.bucket(bucket).or_s3()?.map(|b| b.owner);
    match owner {
        Some(owner) if expected.to_str().ok() != Some(owner.as_str()) => Err(s3_error!(AccessDenied, "Access Denied")),
        _ => Ok(()),
    }
}

/// A 404 with an error code s3s does not name.
fn not_found(code: &'static str, message: &'static str) -> S3Error {
    let mut e = S3Error::with_message(S3ErrorCode::Custom(code.into()), message);
    e.set_status_code(http::StatusCode::NOT_FOUND);
    e
}

fn setting(v: Option<bool>) -> bool {
    v.unwrap_or(false)
}

impl S3Api {
    pub(crate) async fn op_put_public_access_block(
        &self,
        req: S3Request<PutPublicAccessBlockInput>,
    ) -> S3Result<S3Response<PutPublicAccessBlockOutput>> {
        let c = &req.input.public_access_block_configuration;
        let pab = tandem_store::PublicAccessBlock {
            block_public_acls: setting(c.block_public_acls),
            ignore_public_acls: setting(c.ignore_public_acls),
            block_public_policy: setting(c.block_public_policy),
            restrict_public_buckets: setting(c.restrict_public_buckets),
        };
        self.store
            .update_client_bucket(&req.input.bucket, move |b| {
                b.access.public_access_block = Some(pab);
                Ok(())
            })
            .await
            .or_s3()?;
        Ok(S3Response::new(PutPublicAccessBlockOutput {}))
    }

    pub(crate) async fn op_get_public_access_block(
        &self,
        req: S3Request<GetPublicAccessBlockInput>,
    ) -> S3Result<S3Response<GetPublicAccessBlockOutput>> {
        let record = self.bucket(&req.input.bucket)?;
        let Some(p) = record.access.public_access_block else {
            return Err(not_found(
                "NoSuchPublicAccessBlockConfiguration",
                "The public access block configuration was not found",
            ));
        };
        Ok(S3Response::new(GetPublicAccessBlockOutput {
            public_access_block_configuration: Some(PublicAccessBlockConfiguration {
                block_public_acls: Some(p.block_public_acls),
                ignore_public_acls: Some(p.ignore_public_acls),
                block_public_policy: Some(p.block_public_policy),
                restrict_public_buckets: Some(p.restrict_public_buckets),
            }),
        }))
    }

    pub(crate) async fn op_delete_public_access_block(
        &self,
        req: S3Request<DeletePublicAccessBlockInput>,
    ) -> S3Result<S3Response<DeletePublicAccessBlockOutput>> {
        self.store
            .update_client_bucket(&req.input.bucket, |b| {
                b.access.public_access_block = None;
                Ok(())
            })
            .await
            .or_s3()?;
        Ok(S3Response::new(DeletePublicAccessBlockOutput {}))
    }

    pub(crate) async fn op_get_bucket_policy_status(
        &self,
        req: S3Request<GetBucketPolicyStatusInput>,
    ) -> S3Result<S3Response<GetBucketPolicyStatusOutput>> {
        let record = self.bucket(&req.input.bucket)?;
        let doc = record
            .policy
            .ok_or_else(|| s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist"))?;
        Ok(S3Response::new(GetBucketPolicyStatusOutput {
            policy_status: Some(PolicyStatus {
                is_public: Some(is_public_policy(&doc)),
            }),
        }))
    }

    pub(crate) async fn op_put_bucket_ownership_controls(
        &self,
        req: S3Request<PutBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<PutBucketOwnershipControlsOutput>> {
        let rules = &req.input.ownership_controls.rules;
        let [rule] = rules.as_slice() else {
            return Err(s3_error!(MalformedXML, "OwnershipControls needs exactly one Rule"));
        };
        let value = rule.object_ownership.as_str().to_string();
        if !OWNERSHIP.contains(&value.as_str()) {
            return Err(s3_error!(MalformedXML, "Invalid ObjectOwnership: {value}"));
        }
        self.store
            .update_client_bucket(&req.input.bucket, move |b| {
                b.access.object_ownership = Some(value);
                Ok(())
            })
            .await
            .or_s3()?;
        Ok(S3Response::new(PutBucketOwnershipControlsOutput {}))
    }

    pub(crate) async fn op_get_bucket_ownership_controls(
        &self,
        req: S3Request<GetBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<GetBucketOwnershipControlsOutput>> {
        let record = self.bucket(&req.input.bucket)?;
        let Some(value) = record.access.object_ownership else {
            return Err(not_found(
                "OwnershipControlsNotFoundError",
                "The bucket ownership controls were not found",
            ));
        };
        Ok(S3Response::new(GetBucketOwnershipControlsOutput {
            ownership_controls: Some(OwnershipControls {
                rules: vec![OwnershipControlsRule {
                    object_ownership: ObjectOwnership::from(value),
                }],
            }),
        }))
    }

    pub(crate) async fn op_delete_bucket_ownership_controls(
        &self,
        req: S3Request<DeleteBucketOwnershipControlsInput>,
    ) -> S3Result<S3Response<DeleteBucketOwnershipControlsOutput>> {
        self.store
            .update_client_bucket(&req.input.bucket, |b| {
                b.access.object_ownership = None;
                Ok(())
            })
            .await
            .or_s3()?;
        Ok(S3Response::new(DeleteBucketOwnershipControlsOutput {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_is_public_when_it_allows_anyone_without_a_condition() {
        let allow = |p: &str, cond: &str| {
            format!(r#"{{"Statement":[{{"Effect":"Allow","Principal":{p},"Action":"s3:GetObject","Resource":"*"{cond}}}]}}"#)
        };
        assert!(is_public_policy(&allow("\"*\"", "")));
        assert!(is_public_policy(&allow(r#"{"AWS":"*"}"#, "")));
        assert!(is_public_policy(&allow(r#"{"AWS":["bob","*"]}"#, "")));
        assert!(!is_public_policy(&allow(r#"{"AWS":"bob"}"#, "")));
        assert!(!is_public_policy(&allow(
            "\"*\"",
            r#","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#
        )));
        assert!(!is_public_policy(&allow("\"*\"", "").replace("Allow", "Deny")));
        assert!(!is_public_policy("not json"));
    }
}
