//! Every S3 operation tandem knows, as one typed enum parsed once per request
//! from s3s's operation name: its metrics label, the IAM action policies name,
//! which access-control list can grant it, and whether it writes. The access
//! check, metrics and the fencing test read this table; nothing else matches
//! operation names as strings.

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
    /// Only the owner, or a policy, can grant it.
    OwnerOnly,
}

/// An operation's row: IAM action, ACL gate, whether it writes.
#[derive(Debug, Clone, Copy)]
pub struct OpInfo {
    pub action: &'static str,
    /// The action when the request names a version (`?versionId=`), as IAM
    /// distinguishes them (`s3:GetObjectVersion`, `s3:DeleteObjectVersion`, ...).
    pub versioned_action: Option<&'static str>,
    pub gate: AclGate,
    pub writes: bool,
}

const fn op(action: &'static str, gate: AclGate, writes: bool) -> OpInfo {
    OpInfo {
        action,
        versioned_action: None,
        gate,
        writes,
    }
}

/// An object operation whose action differs when it names a version.
const fn vop(action: &'static str, versioned: &'static str, gate: AclGate, writes: bool) -> OpInfo {
    OpInfo {
        action,
        versioned_action: Some(versioned),
        gate,
        writes,
    }
}

use AclGate::*;

tandem_iam::operations! {
    /// One S3 operation. Anything s3s parses that tandem does not implement
    /// is `Unknown`: owner only, and answered NotImplemented.
    pub enum S3Op: OpInfo {
        ListBuckets => op("s3:ListAllMyBuckets", AnySigned, false),
        CreateBucket => op("s3:CreateBucket", AnySigned, true),
        HeadBucket => op("s3:ListBucket", BucketRead, false),
        ListObjects => op("s3:ListBucket", BucketRead, false),
        ListObjectsV2 => op("s3:ListBucket", BucketRead, false),
        ListObjectVersions => op("s3:ListBucketVersions", BucketRead, false),
        ListMultipartUploads => op("s3:ListBucketMultipartUploads", BucketRead, false),
        DeleteBucket => op("s3:DeleteBucket", OwnerOnly, true),
        GetBucketLocation => op("s3:GetBucketLocation", OwnerOnly, false),
        GetBucketVersioning => op("s3:GetBucketVersioning", OwnerOnly, false),
        PutBucketVersioning => op("s3:PutBucketVersioning", OwnerOnly, true),
        GetBucketCors => op("s3:GetBucketCORS", OwnerOnly, false),
        PutBucketCors => op("s3:PutBucketCORS", OwnerOnly, true),
        DeleteBucketCors => op("s3:PutBucketCORS", OwnerOnly, true),
        GetBucketPolicy => op("s3:GetBucketPolicy", OwnerOnly, false),
        PutBucketPolicy => op("s3:PutBucketPolicy", OwnerOnly, true),
        DeleteBucketPolicy => op("s3:DeleteBucketPolicy", OwnerOnly, true),
        GetBucketAcl => op("s3:GetBucketAcl", BucketReadAcp, false),
        PutBucketAcl => op("s3:PutBucketAcl", BucketWriteAcp, true),
        GetBucketReplication => op("s3:GetReplicationConfiguration", OwnerOnly, false),
        PutBucketReplication => op("s3:PutReplicationConfiguration", OwnerOnly, true),
        DeleteBucketReplication => op("s3:PutReplicationConfiguration", OwnerOnly, true),
        PutPublicAccessBlock => op("s3:PutBucketPublicAccessBlock", OwnerOnly, true),
        DeletePublicAccessBlock => op("s3:PutBucketPublicAccessBlock", OwnerOnly, true),
        GetPublicAccessBlock => op("s3:GetBucketPublicAccessBlock", OwnerOnly, false),
        GetBucketPolicyStatus => op("s3:GetBucketPolicyStatus", OwnerOnly, false),
        PutBucketOwnershipControls => op("s3:PutBucketOwnershipControls", OwnerOnly, true),
        DeleteBucketOwnershipControls => op("s3:PutBucketOwnershipControls", OwnerOnly, true),
        GetBucketOwnershipControls => op("s3:GetBucketOwnershipControls", OwnerOnly, false),
        GetObject => vop("s3:GetObject", "s3:GetObjectVersion", ObjectRead, false),
        HeadObject => vop("s3:GetObject", "s3:GetObjectVersion", ObjectRead, false),
        GetObjectAttributes => vop("s3:GetObjectAttributes", "s3:GetObjectVersionAttributes", ObjectRead, false),
        GetObjectAcl => vop("s3:GetObjectAcl", "s3:GetObjectVersionAcl", ObjectReadAcp, false),
        PutObjectAcl => vop("s3:PutObjectAcl", "s3:PutObjectVersionAcl", ObjectWriteAcp, true),
        GetObjectTagging => vop("s3:GetObjectTagging", "s3:GetObjectVersionTagging", ObjectRead, false),
        PutObjectTagging => vop("s3:PutObjectTagging", "s3:PutObjectVersionTagging", BucketWrite, true),
        DeleteObjectTagging => vop("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging", BucketWrite, true),
        PutObject => op("s3:PutObject", BucketWrite, true),
        CopyObject => op("s3:PutObject", BucketWrite, true),
        CreateMultipartUpload => op("s3:PutObject", BucketWrite, true),
        UploadPart => op("s3:PutObject", BucketWrite, true),
        UploadPartCopy => op("s3:PutObject", BucketWrite, true),
        CompleteMultipartUpload => op("s3:PutObject", BucketWrite, true),
        // Authorized as PutObject on the form's key (`post_form.rs`).
        PostObject => op("s3:PutObject", BucketWrite, true),
        AbortMultipartUpload => op("s3:AbortMultipartUpload", BucketWrite, true),
        ListParts => op("s3:ListMultipartUploadParts", BucketWrite, false),
        DeleteObject => vop("s3:DeleteObject", "s3:DeleteObjectVersion", BucketWrite, true),
        // Each key is authorized as DeleteObject (see `delete.rs`).
        DeleteObjects => op("s3:DeleteObject", BucketWrite, true),
    }
}

/// What an operation tandem does not implement counts as.
const UNKNOWN: OpInfo = op("s3:Unknown", OwnerOnly, true);

impl S3Op {
    fn row(self) -> OpInfo {
        self.info().unwrap_or(UNKNOWN)
    }

    /// The IAM action, as in policies.
    pub fn action(self) -> &'static str {
        self.row().action
    }

    /// The IAM action of a request that names a version or not.
    pub fn action_at(self, versioned: bool) -> &'static str {
        match (versioned, self.row().versioned_action) {
            (true, Some(action)) => action,
            _ => self.row().action,
        }
    }

    /// Which ACL permission can grant it to a non-owner.
    pub fn gate(self) -> AclGate {
        self.row().gate
    }

    /// Whether it changes state (fencing, metrics).
    pub fn writes(self) -> bool {
        self.row().writes
    }

    /// The operations that manage the bucket policy, which the bucket's
    /// owner may always perform, whatever the policy says (as in S3).
    pub fn manages_policy(self) -> bool {
        matches!(self, S3Op::GetBucketPolicy | S3Op::PutBucketPolicy | S3Op::DeleteBucketPolicy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_share_one_label() {
        for op in S3Op::ALL {
            assert_eq!(S3Op::from_name(op.name()), *op);
        }
        assert_eq!(S3Op::from_name("PutBucketLifecycleConfiguration"), S3Op::Unknown);
        assert_eq!(S3Op::from_name("anything at all").name(), "Unknown");
    }

    #[test]
    fn reads_do_not_write_and_puts_do() {
        assert!(!S3Op::GetObject.writes());
        assert!(S3Op::PutObject.writes());
        assert!(S3Op::DeleteObjects.writes());
        assert!(!S3Op::ListObjectsV2.writes());
        assert!(S3Op::Unknown.writes());
    }

    #[test]
    fn unknown_operations_are_owner_only() {
        assert_eq!(S3Op::Unknown.gate(), AclGate::OwnerOnly);
    }
}
