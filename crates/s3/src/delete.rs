//! DeleteObject and DeleteObjects (batch, quiet mode, per-key errors).

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};

use crate::S3Api;
use crate::convert::validate_key;
use crate::error::{OrS3, s3_err};
use crate::ops::S3Op;

/// Most keys one DeleteObjects request may name, as in S3.
const MAX_BATCH_DELETE: usize = 1000;

impl S3Api {
    pub(crate) async fn op_delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let owner = self.principal_or_anonymous(&req);
        let i = req.input;
        validate_key(&i.key)?;
        let out = self.store.delete_object(&i.bucket, &i.key, i.version_id, &owner).await.or_s3()?;
        Ok(S3Response::new(DeleteObjectOutput {
            delete_marker: out.delete_marker.then_some(true),
            version_id: out.version_id.filter(|v| v != "null" || out.delete_marker),
            request_charged: None,
        }))
    }

    pub(crate) async fn op_delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let owner = self.principal_or_anonymous(&req);
        let ask = self.ask(&req)?.for_op(S3Op::DeleteObject);
        let i = req.input;
        if i.delete.objects.len() > MAX_BATCH_DELETE {
            return Err(s3_error!(MalformedXML, "A DeleteObjects request may name at most 1000 keys"));
        }
        self.bucket(&i.bucket)?;
        let quiet = i.delete.quiet.unwrap_or(false);
        let (mut deleted, mut errors) = (Vec::new(), Vec::new());
        for obj in i.delete.objects {
            // Each key is authorized on its own, as a DeleteObject would be.
            let result = match validate_key(&obj.key)
                .and_then(|()| self.access.authorize_at(&ask, &i.bucket, Some(&obj.key), obj.version_id.as_deref()))
            {
                Ok(()) => self
                    .store
                    .delete_object(&i.bucket, &obj.key, obj.version_id.clone(), &owner)
                    .await
                    .map_err(s3_err),
                Err(e) => Err(e),
            };
            match result {
                Ok(out) if !quiet => deleted.push(DeletedObject {
                    key: Some(obj.key),
                    version_id: obj.version_id.clone(),
                    delete_marker: out.delete_marker.then_some(true),
                    delete_marker_version_id: if obj.version_id.is_none() && out.delete_marker {
                        out.version_id
                    } else {
                        None
                    },
                }),
                Ok(_) => {}
                Err(e) => errors.push(Error {
                    code: Some(e.code().as_str().to_string()),
                    key: Some(obj.key),
                    message: e.message().map(str::to_string),
                    version_id: obj.version_id,
                }),
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: Some(errors),
            request_charged: None,
        }))
    }
}
