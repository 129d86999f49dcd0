//! Authorization of every S3 request after its signature was verified: bucket
//! policy (explicit Deny wins), then ownership, then policy Allow, then ACLs.
//! Buckets are private by default.

use s3s::access::{S3Access, S3AccessContext};
use s3s::path::S3Path;
use s3s::{S3Result, s3_error};
use tandem_store::{BucketRecord, ObjectVersion, Store};

use crate::acl::{self, grants_permit};
use crate::error::OrS3;
use crate::ops::{self, AclGate, OpInfo};
use crate::policy::{Policy, Requester, Verdict};
use crate::principals::Principals;

/// Name of the operation being served, left in the request's extensions for
/// the node's metrics (set during the access check, which every request passes).
#[derive(Clone, Default)]
pub struct OpSlot(pub std::sync::Arc<std::sync::Mutex<Option<String>>>);

impl OpSlot {
    pub fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// The access checker plugged into s3s.
pub struct AccessControl {
    pub store: Store,
    pub principals: Principals,
}

/// Who is asking and what for, resolved from one request.
pub struct Ask<'a> {
    pub principal: Option<&'a str>,
    pub access_key_id: Option<&'a str>,
    pub op: OpInfo,
}

impl Ask<'_> {
    fn requester(&self) -> Requester<'_> {
        Requester {
            principal: self.principal,
            access_key_id: self.access_key_id,
        }
    }
}

/// Decides whether `ask` may act on `bucket` (and on `object` when the request
/// names one). Shared by the access check and CopyObject's source check.
pub fn authorize(ask: &Ask<'_>, bucket: &BucketRecord, key: Option<&str>, object: Option<&ObjectVersion>) -> S3Result<()> {
    let resource = match key {
        Some(k) => format!("arn:aws:s3:::{}/{k}", bucket.name),
        None => format!("arn:aws:s3:::{}", bucket.name),
    };
    let verdict = match &bucket.policy {
        Some(doc) => Policy::parse(doc, &bucket.name)
            .map(|p| p.evaluate(&ask.requester(), ask.op.action, &resource))
            .unwrap_or(Verdict::Silent),
        None => Verdict::Silent,
    };
    let owner = ask.principal.is_some() && ask.principal == Some(bucket.owner.as_str());
    let object_owner = ask.principal.is_some() && object.is_some_and(|o| Some(o.owner.as_str()) == ask.principal);
    let granted = match verdict {
        Verdict::Deny => false,
        Verdict::Allow => true,
        Verdict::Silent => owner || object_owner || acl_grants(ask, bucket, object),
    };
    if granted {
        Ok(())
    } else {
        Err(s3_error!(AccessDenied, "Access Denied"))
    }
}

fn acl_grants(ask: &Ask<'_>, bucket: &BucketRecord, object: Option<&ObjectVersion>) -> bool {
    let (grants, permission) = match ask.op.gate {
        AclGate::AnySigned => return ask.principal.is_some(),
        AclGate::OwnerOnly => return false,
        AclGate::BucketRead => (&bucket.grants, acl::READ),
        AclGate::BucketWrite => (&bucket.grants, acl::WRITE),
        AclGate::BucketReadAcp => (&bucket.grants, acl::READ_ACP),
        AclGate::BucketWriteAcp => (&bucket.grants, acl::WRITE_ACP),
        AclGate::ObjectRead => return object.is_some_and(|o| grants_permit(&o.grants, ask.principal, acl::READ)),
        AclGate::ObjectReadAcp => return object.is_some_and(|o| grants_permit(&o.grants, ask.principal, acl::READ_ACP)),
        AclGate::ObjectWriteAcp => return object.is_some_and(|o| grants_permit(&o.grants, ask.principal, acl::WRITE_ACP)),
    };
    grants_permit(grants, ask.principal, permission)
}

/// The `versionId` query parameter, if any.
fn version_param(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("versionId="))
        .map(|v| v.replace("%2F", "/").replace("%2B", "+").replace("%3D", "="))
}

#[async_trait::async_trait]
impl S3Access for AccessControl {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let name = cx.s3_op().name().to_string();
        if let Some(slot) = cx.extensions_mut().get::<OpSlot>() {
            *slot.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(name.clone());
        }
        let access_key_id = cx.credentials().map(|c| c.access_key.clone());
        let principal = access_key_id
            .as_deref()
            .and_then(|k| self.principals.principal_of(k))
            .map(str::to_string);
        let ask = Ask {
            principal: principal.as_deref(),
            access_key_id: access_key_id.as_deref(),
            op: ops::lookup(&name),
        };
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => {
                return if ask.principal.is_some() {
                    Ok(())
                } else {
                    Err(s3_error!(AccessDenied, "Access Denied"))
                };
            }
            S3Path::Bucket { bucket } => (bucket.to_string(), None),
            S3Path::Object { bucket, key } => (bucket.to_string(), Some(key.to_string())),
        };
        if ask.op.gate == AclGate::AnySigned {
            return if ask.principal.is_some() {
                Ok(())
            } else {
                Err(s3_error!(AccessDenied, "Access Denied"))
            };
        }
        let read = self.store.read().or_s3()?;
        // A missing bucket is reported by the operation itself (NoSuchBucket).
        let Some(record) = read.bucket(&bucket).or_s3()? else {
            return Ok(());
        };
        let needs_object = matches!(ask.op.gate, AclGate::ObjectRead | AclGate::ObjectReadAcp | AclGate::ObjectWriteAcp);
        let object = match (&key, needs_object) {
            (Some(k), true) => read.object(&bucket, k, version_param(cx.uri().query()).as_deref()).ok(),
            _ => None,
        };
        authorize(&ask, &record, key.as_deref(), object.as_ref())
    }
}
