//! Authorization of every S3 request after its signature was verified, on the
//! shared policy engine: an explicit Deny (bucket, identity or session
//! policy) wins; then an Allow from the caller's identity policy or the bucket
//! policy; then, for keys without an identity policy and anonymous requests,
//! S3's own rules: ownership and ACLs. Buckets are private by default. The
//! bucket's owner (and an admin) may always manage the bucket policy, so a
//! Deny-all policy cannot lock the bucket out for good.

use std::sync::Arc;

use s3s::S3Result;
use s3s::access::{S3Access, S3AccessContext};
use s3s::path::S3Path;
use tandem_iam::{Caller, Context, Decision, Request, SourceAddr, Verdict};
use tandem_store::{BucketRecord, ObjectVersion, Store};

use crate::acl::{self, grants_permit};
use crate::conditions;
use crate::error::OrS3;
use crate::ops::{AclGate, S3Op};
use crate::policy::PolicyCache;
use crate::principals::Principals;

/// Name of the operation being served, left in the request's extensions for
/// the node's metrics (set during the access check, which every request passes).
#[derive(Clone, Default)]
pub struct OpSlot(pub Arc<std::sync::Mutex<Option<&'static str>>>);

impl OpSlot {
    pub fn get(&self) -> Option<&'static str> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The access checker plugged into s3s. Cheap to clone.
#[derive(Clone)]
pub struct AccessControl {
    pub store: Store,
    pub principals: Principals,
    pub policies: PolicyCache,
}

/// Who is asking, for which operation, with the request's condition keys.
/// Left in the request's extensions by the access check, for the handlers
/// that authorize more than the request's own resource (CopyObject's source,
/// each key of DeleteObjects).
#[derive(Clone)]
pub struct Ask {
    pub caller: Option<Arc<Caller>>,
    pub op: S3Op,
    /// Whether the request names a version (its IAM action then differs).
    pub versioned: bool,
    pub context: Arc<Context>,
}

impl Ask {
    /// The same caller and request keys, for another operation.
    pub fn for_op(&self, op: S3Op) -> Ask {
        Ask {
            op,
            versioned: false,
            ..self.clone()
        }
    }

    /// The same question about the version named (or the current one).
    pub fn at_version(self, version: Option<&str>) -> Ask {
        Ask {
            versioned: version.is_some(),
            ..self
        }
    }

    /// The IAM action asked for.
    pub fn action(&self) -> &'static str {
        self.op.action_at(self.versioned)
    }
}

/// The ARN of a bucket or an object.
pub fn arn(bucket: &str, key: Option<&str>) -> String {
    match key {
        Some(k) => format!("arn:aws:s3:::{bucket}/{k}"),
        None => format!("arn:aws:s3:::{bucket}"),
    }
}

/// The refusal of `action` on `resource`, saying which action was denied.
fn denied(action: &str, resource: &str) -> s3s::S3Error {
    s3s::S3Error::with_message(
        s3s::S3ErrorCode::AccessDenied,
        format!("Access Denied: not authorized to perform {action} on {resource}"),
    )
}

fn verdict_to_result(decision: Decision, req: &Request<'_>) -> S3Result<()> {
    match decision {
        Decision::Allow => Ok(()),
        Decision::Deny { .. } => Err(denied(req.action, req.resource)),
    }
}

/// Decides whether `ask` may act on `bucket` (and on `object` when the request
/// names one). Shared by the access check, CopyObject's source check and
/// DeleteObjects' per-key check.
pub fn authorize(
    ask: &Ask,
    policies: &PolicyCache,
    bucket: &BucketRecord,
    key: Option<&str>,
    object: Option<&ObjectVersion>,
) -> S3Result<()> {
    let resource = arn(&bucket.name, key);
    let tagged;
    let context = match object.filter(|o| !o.tags.is_empty()) {
        Some(o) => {
            let mut cx = (*ask.context).clone();
            conditions::add_object_tags(&mut cx, &o.tags);
            tagged = cx;
            &tagged
        }
        None => &*ask.context,
    };
    let caller = ask.caller.as_deref();
    let req = Request {
        action: ask.action(),
        resource: &resource,
        who: caller.map(Caller::who).unwrap_or_default(),
        context,
    };
    let principal = caller.map(|c| c.principal.as_str());
    let owner = principal == Some(bucket.owner.as_str());
    let policy_escape = ask.op.manages_policy() && (owner || caller.is_some_and(|c| c.admin));
    let verdict = match (&bucket.policy, policy_escape) {
        (Some(doc), false) => policies.get(&bucket.name, doc).map_or(Verdict::Silent, |p| p.evaluate(&req)),
        _ => Verdict::Silent,
    };
    let verdict = crate::public_access::restrict_public_policy(bucket, caller.is_some(), verdict);
    let object_owner = principal.is_some() && object.is_some_and(|o| Some(o.owner.as_str()) == principal);
    let api_rules = || owner || object_owner || acl_grants(ask.op, principal, bucket, object);
    verdict_to_result(tandem_iam::decide(caller, &req, verdict, api_rules), &req)
}

/// Authorizes an operation that has no bucket to read a policy from: the
/// service itself (ListBuckets), CreateBucket, or a bucket that does not exist
/// (whose operation then answers NoSuchBucket). Signed callers without an
/// identity policy pass, as before policies existed.
fn authorize_without_bucket(ask: &Ask, resource: &str) -> S3Result<()> {
    let caller = ask.caller.as_deref();
    let req = Request {
        action: ask.action(),
        resource,
        who: caller.map(Caller::who).unwrap_or_default(),
        context: &ask.context,
    };
    let signed = caller.is_some();
    verdict_to_result(tandem_iam::decide(caller, &req, Verdict::Silent, || signed), &req)
}

fn acl_grants(op: S3Op, principal: Option<&str>, bucket: &BucketRecord, object: Option<&ObjectVersion>) -> bool {
    // Block Public Access and Object Ownership decide which grants count.
    let object_grants = object.map(|o| crate::public_access::counted_grants(bucket, &o.grants));
    let bucket_grants = crate::public_access::counted_grants(bucket, &bucket.grants);
    let on_object = |permission| object_grants.as_deref().is_some_and(|g| grants_permit(g, principal, permission));
    match op.gate() {
        AclGate::AnySigned => principal.is_some(),
        AclGate::OwnerOnly => false,
        AclGate::BucketRead => grants_permit(&bucket_grants, principal, acl::READ),
        AclGate::BucketWrite => grants_permit(&bucket_grants, principal, acl::WRITE),
        AclGate::BucketReadAcp => grants_permit(&bucket_grants, principal, acl::READ_ACP),
        AclGate::BucketWriteAcp => grants_permit(&bucket_grants, principal, acl::WRITE_ACP),
        AclGate::ObjectRead => on_object(acl::READ),
        AclGate::ObjectReadAcp => on_object(acl::READ_ACP),
        AclGate::ObjectWriteAcp => on_object(acl::WRITE_ACP),
    }
}

/// The `versionId` query parameter, if any.
fn version_param(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "versionId")
        .map(|(_, v)| v.into_owned())
}

impl AccessControl {
    /// Whether authorizing needs the stored object: its ACL, or its tags
    /// because a policy reads `s3:ExistingObjectTag/...`.
    fn needs_object(&self, ask: &Ask, bucket: &BucketRecord) -> bool {
        const TAG_KEY: &str = "s3:ExistingObjectTag/";
        let acl = matches!(
            ask.op.gate(),
            AclGate::ObjectRead | AclGate::ObjectReadAcp | AclGate::ObjectWriteAcp
        );
        let caller_reads_tags = ask
            .caller
            .as_deref()
            .is_some_and(|c| [&c.policy, &c.session_policy].into_iter().flatten().any(|p| p.reads_key(TAG_KEY)));
        let bucket_reads_tags = bucket
            .policy
            .as_deref()
            .and_then(|doc| self.policies.get(&bucket.name, doc))
            .is_some_and(|p| p.reads_key(TAG_KEY));
        acl || caller_reads_tags || bucket_reads_tags
    }
}

impl AccessControl {
    /// Authorizes `ask` on a bucket, or on one of its objects (the version
    /// named, whose action is then the version action, else the current one),
    /// reading what the decision needs.
    pub fn authorize_at(&self, ask: &Ask, bucket: &str, key: Option<&str>, version: Option<&str>) -> S3Result<()> {
        let ask = &ask.clone().at_version(version);
        let read = self.store.read().or_s3()?;
        let Some(record) = read.bucket(bucket).or_s3()? else {
            return authorize_without_bucket(ask, &arn(bucket, key));
        };
        let object = match key {
            Some(k) if self.needs_object(ask, &record) => read.object(bucket, k, version).ok(),
            _ => None,
        };
        authorize(ask, &self.policies, &record, key, object.as_ref())
    }
}

#[async_trait::async_trait]
impl S3Access for AccessControl {
    async fn post_object(&self, req: &mut s3s::S3Request<s3s::dto::PostObjectInput>) -> S3Result<()> {
        crate::post_form::prepare(self, req)
    }

    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let op = S3Op::from_name(cx.s3_op().name());
        if let Some(slot) = cx.extensions_mut().get::<OpSlot>() {
            *slot.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(op.name());
        }
        let now = time::OffsetDateTime::now_utc();
        let caller = match cx.credentials() {
            Some(c) => {
                let token = crate::principals::session_token(cx.uri(), cx.headers());
                Some(
                    self.principals
                        .resolve(&c.access_key, token.as_deref(), now.unix_timestamp())
                        .map_err(|e| e.s3())?,
                )
            }
            None => None,
        };
        let source = cx.extensions_mut().get::<SourceAddr>().map(|s| s.0.ip());
        let mut context = tandem_iam::keys::global_context(caller.as_deref(), source, false, now);
        conditions::add_request_keys(&mut context, cx.uri(), cx.headers());
        let version = version_param(cx.uri().query());
        let ask = Ask {
            caller,
            op,
            versioned: false,
            context: Arc::new(context),
        };
        cx.extensions_mut().insert(ask.clone());
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => return authorize_without_bucket(&ask, "arn:aws:s3:::*"),
            S3Path::Bucket { bucket } => (bucket.to_string(), None),
            S3Path::Object { bucket, key } => (bucket.to_string(), Some(key.to_string())),
        };
        crate::public_access::check_expected_owner(&self.store, cx.headers(), &bucket)?;
        match op {
            // Each key is authorized as DeleteObject by the operation itself.
            S3Op::DeleteObjects => Ok(()),
            // Authorized in `post_object` above, once the form's key is known.
            S3Op::PostObject => Ok(()),
            _ if op.gate() == AclGate::AnySigned => authorize_without_bucket(&ask, &arn(&bucket, key.as_deref())),
            _ => self.authorize_at(&ask, &bucket, key.as_deref(), version.as_deref()),
        }
    }
}
