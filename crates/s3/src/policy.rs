//! Bucket policies on the shared policy engine (`tandem-iam`): what S3 accepts
//! at PutBucketPolicy (20 KB, S3 actions, this bucket's resources or `*`
//! wildcards, the condition keys of [`crate::conditions`]), and a cache of
//! compiled policies so a request never parses its bucket's policy again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tandem_iam::{Policy, Rules};

/// S3's limit on a bucket policy document.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;
/// Compiled policies kept at most (then the cache starts over).
const MAX_CACHED: usize = 10_000;

/// Parses and validates a bucket policy for `bucket`.
pub fn parse(doc: &str, bucket: &str) -> Result<Policy, String> {
    let own = format!("arn:aws:s3:::{bucket}");
    let check_resource = |r: &str| {
        // `*` wildcards may widen the ARN (`arn:aws:s3:::*`), but what comes
        // before the first one must lead to this bucket.
        let literal = r.split(['*', '?']).next().unwrap_or_default();
        let wild = literal.len() < r.len();
        let ours = r == "*"
            || r == own
            || r.starts_with(&format!("{own}/"))
            || wild && literal.starts_with("arn:aws:s3:::") && own.starts_with(literal);
        match ours {
            true => Ok(()),
            false => Err(format!("Policy has invalid resource: {r}")),
        }
    };
    let rules = Rules {
        resource_policy: true,
        max_bytes: MAX_POLICY_BYTES,
        action_prefixes: &["s3:"],
        check_resource: &check_resource,
        known_key: &crate::conditions::is_known,
    };
    Policy::parse(doc, &rules)
}

/// A compiled policy and the document it came from.
type Compiled = (Arc<str>, Arc<Policy>);

/// Compiled bucket policies by bucket.
#[derive(Clone, Default)]
pub struct PolicyCache {
    entries: Arc<Mutex<HashMap<String, Compiled>>>,
}

impl PolicyCache {
    /// The compiled form of `bucket`'s policy `doc`; `None` if the stored
    /// document does not parse (it was accepted by an older version): such a
    /// policy grants nothing and denies nothing.
    pub fn get(&self, bucket: &str, doc: &str) -> Option<Arc<Policy>> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((cached, policy)) = entries.get(bucket)
            && **cached == *doc
        {
            return Some(policy.clone());
        }
        let policy = match parse(doc, bucket) {
            Ok(p) => Arc::new(p),
            Err(why) => {
                tracing::warn!(bucket, %why, "stored bucket policy does not parse; it is ignored");
                return None;
            }
        };
        if entries.len() >= MAX_CACHED {
            entries.clear();
        }
        entries.insert(bucket.to_string(), (Arc::from(doc), policy.clone()));
        Some(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_must_be_this_buckets_or_wildcards_covering_it() {
        let doc = |r: &str| format!(r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"{r}"}}]}}"#);
        assert!(parse(&doc("arn:aws:s3:::b/*"), "b").is_ok());
        assert!(parse(&doc("arn:aws:s3:::*"), "b").is_ok());
        assert!(parse(&doc("arn:aws:s3:::b*"), "b").is_ok());
        assert!(parse(&doc("*"), "b").is_ok());
        assert!(parse(&doc("arn:aws:s3:::other/*"), "b").unwrap_err().contains("resource"));
        assert!(parse(&doc("arn:aws:dynamodb:::b"), "b").is_err());
    }

    #[test]
    fn the_cache_recompiles_when_the_document_changes() {
        let cache = PolicyCache::default();
        let allow = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
        let deny = r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#;
        let a = cache.get("b", allow).unwrap();
        assert!(Arc::ptr_eq(&a, &cache.get("b", allow).unwrap()));
        assert!(!Arc::ptr_eq(&a, &cache.get("b", deny).unwrap()));
        assert!(cache.get("b", "not json").is_none());
    }
}
