//! Bucket lifecycle: CreateBucket, HeadBucket, DeleteBucket, ListBuckets,
//! GetBucketLocation.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, s3_error};
use tandem_store::{BucketRecord, StoreError, Versioning};

use crate::S3Api;
use crate::acl;
use crate::bucket_config::grant_headers;
use crate::convert::timestamp;
use crate::error::{OrS3, s3_err};
use crate::list::{decode_token, encode_token};

/// Largest `max-buckets` S3 accepts.
const MAX_BUCKETS_PAGE: i32 = 10_000;

impl S3Api {
    pub(crate) async fn op_create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        let owner = self.principal(&req)?;
        let legacy_region = req.region.as_ref().is_none_or(|r| r.as_str() == "us-east-1");
        let input = req.input;
        let mut grants = match &input.acl {
            Some(canned) => acl::canned(canned.as_str(), &owner)?,
            None => vec![],
        };
        grants.extend(acl::from_grant_headers(&grant_headers!(input))?);
        acl::check_grantees(&grants, &owner, &self.principals)?;
        let record = BucketRecord {
            name: input.bucket.clone(),
            owner: owner.clone(),
            region: self.store.region().to_string(),
            created_ms: tandem_store::now_ms(),
            versioning: Versioning::Unversioned,
            grants,
            policy: None,
            cors: None,
            replication: None,
            access: Default::default(),
            hlc: 0,
        };
        match self.store.create_client_bucket(record).await {
            Ok(_) => Ok(S3Response::new(CreateBucketOutput {
                location: Some(format!("/{}", input.bucket)),
            })),
            // S3's legacy rule in us-east-1: re-creating a bucket you own
            // there answers 200. Elsewhere (or a bucket of another region) it is 409.
            Err(StoreError::BucketExists { owner: existing }) if existing == owner && legacy_region && self.local_bucket(&input.bucket) => {
                Ok(S3Response::new(CreateBucketOutput {
                    location: Some(format!("/{}", input.bucket)),
                }))
            }
            Err(StoreError::BucketExists { owner: existing }) if existing == owner => Err(s3_error!(
                BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it."
            )),
            Err(e) => Err(s3_err(e)),
        }
    }

    /// Whether the bucket was created in this region (not a peer's name claim).
    fn local_bucket(&self, name: &str) -> bool {
        self.bucket(name).is_ok_and(|b| b.region == self.store.region())
    }

    pub(crate) async fn op_head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        let record = self.bucket(&req.input.bucket)?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(record.region),
            ..Default::default()
        }))
    }

    pub(crate) async fn op_delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.store.delete_bucket(&req.input.bucket).await.or_s3()?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    pub(crate) async fn op_list_buckets(&self, req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        let principal = self.principal(&req)?;
        let i = req.input;
        let max = match i.max_buckets {
            None => usize::MAX,
            Some(n) if (1..=MAX_BUCKETS_PAGE).contains(&n) => n as usize,
            Some(_) => return Err(s3_error!(InvalidArgument, "MaxBuckets must be between 1 and 10000")),
        };
        let after = i.continuation_token.as_deref().map(decode_token).transpose()?.unwrap_or_default();
        let prefix = i.prefix.clone().unwrap_or_default();
        let mut rest = self
            .store
            .read()
            .or_s3()?
            .buckets()
            .or_s3()?
            .into_iter()
            .filter(|b| b.owner == principal && b.name.starts_with(&prefix) && b.name > after)
            .filter(|b| i.bucket_region.as_ref().is_none_or(|r| *r == b.region))
            .peekable();
        let page: Vec<Bucket> = rest
            .by_ref()
            .take(max)
            .map(|b| Bucket {
                name: Some(b.name),
                creation_date: Some(timestamp(b.created_ms)),
                bucket_region: Some(b.region),
            })
            .collect();
        let next = rest
            .peek()
            .is_some()
            .then(|| page.last().and_then(|b| b.name.as_deref()).map(encode_token))
            .flatten();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(page),
            owner: Some(acl::owner_dto(&principal)),
            prefix: i.prefix,
            continuation_token: next,
        }))
    }

    pub(crate) async fn op_get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        let record = self.bucket(&req.input.bucket)?;
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint: Some(BucketLocationConstraint::from(record.region)),
        }))
    }
}
