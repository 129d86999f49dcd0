//! Every S3 operation tandem knows, named in one place: the IAM action a bucket
//! policy refers to, which access-control list can grant it, and whether it
//! writes. Access checks, metrics and (later) fencing read this table instead of
//! guessing from the request.

/// Which ACL permission, if any, can grant an operation to a non-owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclGate {
    /// Any signed request (ListBuckets, CreateBucket).
    AnySigned,
    /// READ on the bucket (listings).
    BucketRead,
    /// WRITE on the bucket (creating and deleting objects).
    BucketWrite,
    BucketReadAcp,
    BucketWriteAcp,
    /// READ on the object.
    ObjectRead,
    ObjectReadAcp,
    ObjectWriteAcp,
    /// Only the owner, or a bucket policy, can grant it.
    OwnerOnly,
}

/// What the access check and the rest of the node need to know about an operation.
#[derive(Debug, Clone, Copy)]
pub struct OpInfo {
    /// IAM action name, as in bucket policies.
    pub action: &'static str,
    pub gate: AclGate,
    /// Whether the operation changes state.
    pub writes: bool,
}

const fn op(action: &'static str, gate: AclGate, writes: bool) -> OpInfo {
    OpInfo { action, gate, writes }
}

/// Looks up an operation by its s3s name (e.g. `GetObject`).
pub fn lookup(name: &str) -> OpInfo {
    use AclGate::*;
    match name {
        "ListBuckets" => op("s3:ListAllMyBuckets", AnySigned, false),
        "CreateBucket" => op("s3:CreateBucket", AnySigned, true),
        "HeadBucket" | "ListObjects" | "ListObjectsV2" => op("s3:ListBucket", BucketRead, false),
        "ListObjectVersions" => op("s3:ListBucketVersions", BucketRead, false),
        "ListMultipartUploads" => op("s3:ListBucketMultipartUploads", BucketRead, false),
        "DeleteBucket" => op("s3:DeleteBucket", OwnerOnly, true),
        "GetBucketLocation" => op("s3:GetBucketLocation", OwnerOnly, false),
        "GetBucketVersioning" => op("s3:GetBucketVersioning", OwnerOnly, false),
        "PutBucketVersioning" => op("s3:PutBucketVersioning", OwnerOnly, true),
        "GetBucketCors" => op("s3:GetBucketCORS", OwnerOnly, false),
        "PutBucketCors" | "DeleteBucketCors" => op("s3:PutBucketCORS", OwnerOnly, true),
        "GetBucketPolicy" => op("s3:GetBucketPolicy", OwnerOnly, false),
        "PutBucketPolicy" => op("s3:PutBucketPolicy", OwnerOnly, true),
        "DeleteBucketPolicy" => op("s3:DeleteBucketPolicy", OwnerOnly, true),
        "GetBucketAcl" => op("s3:GetBucketAcl", BucketReadAcp, false),
        "PutBucketAcl" => op("s3:PutBucketAcl", BucketWriteAcp, true),
        "GetBucketReplication" => op("s3:GetReplicationConfiguration", OwnerOnly, false),
        "PutBucketReplication" | "DeleteBucketReplication" => op("s3:PutReplicationConfiguration", OwnerOnly, true),
        "GetObject" | "HeadObject" => op("s3:GetObject", ObjectRead, false),
        "GetObjectAcl" => op("s3:GetObjectAcl", ObjectReadAcp, false),
        "PutObjectAcl" => op("s3:PutObjectAcl", ObjectWriteAcp, true),
        "GetObjectTagging" => op("s3:GetObjectTagging", ObjectRead, false),
        "PutObjectTagging" => op("s3:PutObjectTagging", BucketWrite, true),
        "DeleteObjectTagging" => op("s3:DeleteObjectTagging", BucketWrite, true),
        "PutObject" | "CopyObject" | "CreateMultipartUpload" | "UploadPart" | "UploadPartCopy" | "CompleteMultipartUpload" => {
            op("s3:PutObject", BucketWrite, true)
        }
        "AbortMultipartUpload" => op("s3:AbortMultipartUpload", BucketWrite, true),
        "ListParts" => op("s3:ListMultipartUploadParts", BucketWrite, false),
        "DeleteObject" | "DeleteObjects" => op("s3:DeleteObject", BucketWrite, true),
        // Operations tandem does not implement answer NotImplemented; only the
        // owner gets that far.
        _ => op("s3:Unknown", OwnerOnly, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_do_not_write_and_puts_do() {
        assert!(!lookup("GetObject").writes);
        assert!(lookup("PutObject").writes);
        assert!(lookup("DeleteObjects").writes);
        assert!(!lookup("ListObjectsV2").writes);
    }

    #[test]
    fn unknown_operations_are_owner_only() {
        assert_eq!(lookup("PutBucketLifecycleConfiguration").gate, AclGate::OwnerOnly);
    }
}
