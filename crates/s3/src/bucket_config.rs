//! Bucket configuration that is not CORS or replication: versioning, bucket
//! policy, bucket ACL.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};
use tandem_store::Versioning;

use crate::S3Api;
use crate::acl;
use crate::error::OrS3;

impl S3Api {
    pub(crate) async fn op_put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let status = req.input.versioning_configuration.status.as_ref().map(|s| s.as_str().to_string());
        let target = match status.as_deref() {
            Some(BucketVersioningStatus::ENABLED) => Versioning::Enabled,
            Some(BucketVersioningStatus::SUSPENDED) => Versioning::Suspended,
            _ => return Err(s3_error!(MalformedXML, "The versioning Status must be Enabled or Suspended")),
        };
        if target == Versioning::Suspended && self.bucket(&req.input.bucket)?.replication.is_some() {
            return Err(s3_error!(
                InvalidBucketState,
                "A replication configuration is present on this bucket, so the versioning state cannot be suspended"
            ));
        }
        self.store
            .update_client_bucket(&req.input.bucket, move |b| {
                // As S3: suspending a never-versioned bucket stores `Suspended`
                // (its writes are null versions either way).
                b.versioning = target;
                Ok(())
            })
            .await
            .or_s3()?;
        Ok(S3Response::new(PutBucketVersioningOutput {}))
    }

    pub(crate) async fn op_get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let record = self.bucket(&req.input.bucket)?;
        let status = match record.versioning {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some(BucketVersioningStatus::from_static(BucketVersioningStatus::ENABLED)),
            Versioning::Suspended => Some(BucketVersioningStatus::from_static(BucketVersioningStatus::SUSPENDED)),
        };
        Ok(S3Response::new(GetBucketVersioningOutput { status, mfa_delete: None }))
    }

    pub(crate) async fn op_put_bucket_policy(&self, req: S3Request<PutBucketPolicyInput>) -> S3Result<S3Response<PutBucketPolicyOutput>> {
        let bucket = req.input.bucket;
        let doc = req.input.policy;
        crate::policy::parse(&doc, &bucket).map_err(|why| s3s::S3Error::with_message(s3s::S3ErrorCode::MalformedPolicy, why))?;
        crate::public_access::check_new_policy(&self.bucket(&bucket)?, &doc)?;
        self.store
            .update_client_bucket(&bucket, move |b| {
                b.policy = Some(doc);
                Ok(())
            })
            .await
            .or_s3()?;
        Ok(S3Response::new(PutBucketPolicyOutput {}))
    }

    pub(crate) async fn op_get_bucket_policy(&self, req: S3Request<GetBucketPolicyInput>) -> S3Result<S3Response<GetBucketPolicyOutput>> {
        let record = self.bucket(&req.input.bucket)?;
        match record.policy {
            Some(policy) => Ok(S3Response::new(GetBucketPolicyOutput { policy: Some(policy) })),
            None => Err(s3_error!(NoSuchBucketPolicy, "The bucket policy does not exist")),
        }
    }

    pub(crate) async fn op_delete_bucket_policy(
        &self,
        req: S3Request<DeleteBucketPolicyInput>,
    ) -> S3Result<S3Response<DeleteBucketPolicyOutput>> {
        self.store
            .update_client_bucket(&req.input.bucket, |b| {
                b.policy = None;
                Ok(())
            })
            .await
            .or_s3()?;
        Ok(S3Response::new(DeleteBucketPolicyOutput {}))
    }

    pub(crate) async fn op_put_bucket_acl(&self, req: S3Request<PutBucketAclInput>) -> S3Result<S3Response<PutBucketAclOutput>> {
        let record = self.bucket(&req.input.bucket)?;
        let i = &req.input;
        let grants = new_grants(
            i.acl.as_ref().map(|a| a.as_str()),
            i.access_control_policy.as_ref(),
            &grant_headers!(i),
            &record,
            &self.principals,
        )?;
        self.store
            .update_client_bucket(&record.name, move |b| {
                b.grants = grants;
                Ok(())
            })
            .await
            .or_s3()?;
        Ok(S3Response::new(PutBucketAclOutput {}))
    }

    pub(crate) async fn op_get_bucket_acl(&self, req: S3Request<GetBucketAclInput>) -> S3Result<S3Response<GetBucketAclOutput>> {
        let record = self.bucket(&req.input.bucket)?;
        let (owner, grants) = acl::to_policy(&record.owner, &record.grants);
        Ok(S3Response::new(GetBucketAclOutput { owner, grants }))
    }
}

/// The five `x-amz-grant-*` headers of an input (CreateBucket, Put*Acl), by permission.
macro_rules! grant_headers {
    ($i:expr) => {
        [
            ($crate::acl::READ, $i.grant_read.as_ref()),
            ($crate::acl::WRITE, $i.grant_write.as_ref()),
            ($crate::acl::READ_ACP, $i.grant_read_acp.as_ref()),
            ($crate::acl::WRITE_ACP, $i.grant_write_acp.as_ref()),
            ($crate::acl::FULL_CONTROL, $i.grant_full_control.as_ref()),
        ]
    };
}
pub(crate) use grant_headers;

/// The grants a Put*Acl request asks for: exactly one of a canned ACL, grant
/// headers, or an `AccessControlPolicy` body.
pub(crate) fn new_grants(
    canned: Option<&str>,
    body: Option<&AccessControlPolicy>,
    headers: &[(&str, Option<&String>)],
    bucket: &tandem_store::BucketRecord,
    principals: &crate::Principals,
) -> S3Result<Vec<tandem_store::Grant>> {
    let grants = requested_grants(canned, body, headers, &bucket.owner)?;
    acl::check_grantees(&grants, &bucket.owner, principals)?;
    crate::public_access::check_new_acl(bucket, canned, &grants)?;
    Ok(grants)
}

fn requested_grants(
    canned: Option<&str>,
    body: Option<&AccessControlPolicy>,
    headers: &[(&str, Option<&String>)],
    owner: &str,
) -> S3Result<Vec<tandem_store::Grant>> {
    let has_headers = headers.iter().any(|(_, v)| v.is_some());
    match (canned, body, has_headers) {
        (Some(c), None, false) => acl::canned(c, owner),
        // The owner's own full control is implicit; an ACL listing only it is empty.
        (None, Some(p), false) => Ok(acl::from_policy(p)?
            .into_iter()
            .filter(|g| !(g.grantee == tandem_store::Grantee::User(owner.to_string()) && g.permission == acl::FULL_CONTROL))
            .collect()),
        (None, None, true) => acl::from_grant_headers(headers),
        (None, None, false) => Err(s3_error!(
            MissingSecurityHeader,
            "Your request was missing a required header: x-amz-acl or a grant"
        )),
        _ => Err(s3_error!(
            InvalidRequest,
            "Specify only one of a canned ACL, grant headers, or an AccessControlPolicy"
        )),
    }
}
