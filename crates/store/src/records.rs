//! The records kept in the metadata store: buckets, object versions, multipart
//! uploads. They are plain data (serde), shared by the store, the API crates and
//! the change log, so one type carries a change from the store to a peer.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Versioning state of a bucket, as S3 defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Versioning {
    /// Never had versioning turned on: one `null` version per key.
    #[default]
    Unversioned,
    Enabled,
    /// Was enabled once; new writes get the `null` version id again.
    Suspended,
}

/// Who may do what, as S3's access-control lists say it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: Grantee,
    /// One of FULL_CONTROL, READ, WRITE, READ_ACP, WRITE_ACP.
    pub permission: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grantee {
    /// A principal known to the deployment (an access key's principal name).
    User(String),
    /// Everyone, signed or not (`http://acs.amazonaws.com/groups/global/AllUsers`).
    AllUsers,
    /// Any signed request (`http://acs.amazonaws.com/groups/global/AuthenticatedUsers`).
    AuthenticatedUsers,
}

/// A bucket and all of its configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketRecord {
    pub name: String,
    /// Principal that created the bucket.
    pub owner: String,
    /// Region that created the bucket.
    pub region: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: u64,
    pub versioning: Versioning,
    /// Grants beyond the owner's implicit full control.
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// Bucket policy JSON document, as the client sent it.
    #[serde(default)]
    pub policy: Option<String>,
    /// CORS rules.
    #[serde(default)]
    pub cors: Option<Vec<CorsRule>>,
    /// Replication configuration.
    #[serde(default)]
    pub replication: Option<ReplicationConfig>,
    /// Public access block and object ownership settings.
    #[serde(default, skip_serializing_if = "BucketAccess::is_unset")]
    pub access: BucketAccess,
    /// Hybrid-logical-clock time of the last change to this record.
    pub hlc: u64,
}

/// A bucket's public access block and object ownership (S3's
/// PutPublicAccessBlock and PutBucketOwnershipControls), replicated with the
/// rest of the bucket record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct BucketAccess {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_block: Option<PublicAccessBlock>,
    /// `BucketOwnerEnforced`, `BucketOwnerPreferred` or `ObjectWriter`; none when never set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_ownership: Option<String>,
}

impl BucketAccess {
    pub fn is_unset(&self) -> bool {
        self == &Self::default()
    }
}

/// The four switches of S3's `PublicAccessBlockConfiguration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// One CORS rule of a bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<i32>,
}

/// A bucket's replication configuration (S3's `ReplicationConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReplicationConfig {
    pub role: String,
    pub rules: Vec<ReplicationRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReplicationRule {
    pub id: Option<String>,
    pub priority: Option<i32>,
    /// `true` when Status is Enabled.
    pub enabled: bool,
    pub filter: ReplicationFilter,
    /// Destination bucket ARN (`arn:aws:s3:::NAME`).
    pub destination_bucket: String,
    pub destination_storage_class: Option<String>,
    pub delete_marker_replication: bool,
    pub existing_object_replication: bool,
    pub replica_modifications: bool,
    /// Which filter syntax the client used (V1 `Prefix` at rule level, or `Filter`),
    /// so the configuration reads back the way it was written.
    pub legacy_prefix: bool,
}

/// Which objects a replication rule selects: all conditions must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReplicationFilter {
    pub prefix: Option<String>,
    pub tags: Vec<(String, String)>,
    /// `true` when the filter was written with an `And` element.
    pub and: bool,
}

/// Where one piece of an object's body lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Blob id, unique for the life of the store (32 hex digits in JSON, which
    /// cannot carry 128-bit numbers everywhere).
    #[serde(with = "hex_id")]
    pub id: u128,
    pub len: u64,
    /// Small bodies live in the metadata store itself, large ones in files.
    pub inline: bool,
}

/// One version of an object (or a delete marker).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectVersion {
    /// `null` for unversioned writes, otherwise a generated id.
    pub version_id: String,
    pub delete_marker: bool,
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    pub content_type: Option<String>,
    #[serde(default)]
    pub content_encoding: Option<String>,
    #[serde(default)]
    pub content_disposition: Option<String>,
    #[serde(default)]
    pub content_language: Option<String>,
    #[serde(default)]
    pub cache_control: Option<String>,
    #[serde(default)]
    pub expires: Option<String>,
    /// User metadata (`x-amz-meta-*`), keys lowercased.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Checksums by algorithm (`CRC32`, `CRC32C`, `SHA1`, `SHA256`, `CRC64NVME`), base64.
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub grants: Vec<Grant>,
    /// Principal that wrote this version.
    pub owner: String,
    /// Last-modified time, milliseconds since the Unix epoch.
    pub modified_ms: u64,
    /// Hybrid-logical-clock time of the write; orders versions of a key.
    pub hlc: u64,
    /// Region where the write was accepted.
    pub origin: String,
    /// Where the body lives, in order.
    pub segments: Vec<Segment>,
    /// Part sizes for multipart objects (for `partNumber` reads and checksums).
    #[serde(default)]
    pub part_sizes: Vec<u64>,
    /// `x-amz-replication-status`: PENDING, COMPLETED or FAILED on a source
    /// version a replication rule selected, REPLICA on a replicated copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication_status: Option<ReplicationStatus>,
    /// When and where the metadata (tags, ACL) was last edited; edits made in
    /// two regions converge on the later one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited: Option<EditStamp>,
}

impl ObjectVersion {
    /// A version of `owner` with no body, metadata or tags, modified now; the
    /// id, clock time and origin are set when it is committed.
    pub fn empty(owner: &str, etag: String) -> Self {
        Self {
            version_id: String::new(),
            delete_marker: false,
            size: 0,
            etag,
            content_type: None,
            content_encoding: None,
            content_disposition: None,
            content_language: None,
            cache_control: None,
            expires: None,
            metadata: Default::default(),
            checksums: Default::default(),
            tags: vec![],
            grants: vec![],
            owner: owner.to_string(),
            modified_ms: crate::now_ms(),
            hlc: 0,
            origin: String::new(),
            segments: vec![],
            part_sizes: vec![],
            replication_status: None,
            edited: None,
        }
    }
}

/// A hybrid-logical-clock time and the region that made a change at it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EditStamp {
    pub hlc: u64,
    pub origin: String,
}

/// Where a version stands in cross-region replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReplicationStatus {
    Pending,
    Completed,
    Failed,
    Replica,
}

impl ReplicationStatus {
    /// The value of the `x-amz-replication-status` header.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Replica => "REPLICA",
        }
    }
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UploadRecord {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub initiated_ms: u64,
    pub owner: String,
    /// The object's metadata-to-be (body fields unused until completion).
    pub template: ObjectVersion,
    /// Checksum algorithm the client asked for at creation, if any.
    pub checksum_algorithm: Option<String>,
}

/// One uploaded part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartRecord {
    pub part_number: u32,
    pub etag: String,
    pub size: u64,
    pub modified_ms: u64,
    pub segment: Segment,
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
}

/// Serializes a 128-bit id as 32 lowercase hex digits.
mod hex_id {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{id:032x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let s = String::deserialize(d)?;
        u128::from_str_radix(&s, 16).map_err(serde::de::Error::custom)
    }
}
