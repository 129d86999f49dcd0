//! Object metadata that changes without a new version: tagging and object ACLs.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use crate::S3Api;
use crate::acl;
use crate::bucket_config::{grant_headers, new_grants};
use crate::convert::{tags_from_dto, tags_to_dto};
use crate::error::OrS3;

impl S3Api {
    pub(crate) async fn op_put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let i = req.input;
        let tags = tags_from_dto(&i.tagging.tag_set)?;
        let v = self
            .store
            .update_version(&i.bucket, &i.key, i.version_id, move |v| {
                v.tags = tags;
                Ok(())
            })
            .await
            .or_s3()?;
        Ok(S3Response::new(PutObjectTaggingOutput {
            version_id: (v.version_id != "null").then_some(v.version_id),
        }))
    }

    pub(crate) async fn op_get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let i = req.input;
        let v = self.resolve(&i.bucket, &i.key, i.version_id.as_deref())?;
        Ok(S3Response::new(GetObjectTaggingOutput {
            tag_set: tags_to_dto(&v.tags),
            version_id: (v.version_id != "null").then_some(v.version_id),
        }))
    }

    pub(crate) async fn op_delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let i = req.input;
        let v = self
            .store
            .update_version(&i.bucket, &i.key, i.version_id, |v| {
                v.tags.clear();
                Ok(())
            })
            .await
            .or_s3()?;
        Ok(S3Response::new(DeleteObjectTaggingOutput {
            version_id: (v.version_id != "null").then_some(v.version_id),
        }))
    }

    pub(crate) async fn op_put_object_acl(&self, req: S3Request<PutObjectAclInput>) -> S3Result<S3Response<PutObjectAclOutput>> {
        let record = self.bucket(&req.input.bucket)?;
        let i = req.input;
        self.resolve(&i.bucket, &i.key, i.version_id.as_deref())?;
        let grants = new_grants(
            i.acl.as_ref().map(|a| a.as_str()),
            i.access_control_policy.as_ref(),
            &grant_headers!(i),
            &record,
            &self.principals,
        )?;
        self.store
            .update_version(&i.bucket, &i.key, i.version_id, move |v| {
                v.grants = grants;
                Ok(())
            })
            .await
            .or_s3()?;
        Ok(S3Response::new(PutObjectAclOutput::default()))
    }

    pub(crate) async fn op_get_object_acl(&self, req: S3Request<GetObjectAclInput>) -> S3Result<S3Response<GetObjectAclOutput>> {
        let i = req.input;
        let v = self.resolve(&i.bucket, &i.key, i.version_id.as_deref())?;
        let (owner, grants) = acl::to_policy(&v.owner, &v.grants);
        Ok(S3Response::new(GetObjectAclOutput {
            owner,
            grants,
            request_charged: None,
        }))
    }
}
