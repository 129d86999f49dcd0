//! Access keys and the callers they stand for. Implements s3s's `S3Auth`, so
//! every SigV4 signature is checked against the secrets known here, and hands
//! every API the [`Caller`] (principal, admin flag, identity policy) of a key.

use std::collections::HashMap;
use std::sync::Arc;

use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};
use tandem_iam::{Caller, Policy};

/// One configured access key.
#[derive(Clone)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Who the key acts as: owner of the buckets it creates, the name bucket
    /// policies and ACLs refer to.
    pub principal: String,
    /// Full access to every API, the control API included.
    pub admin: bool,
    /// The key's identity policy; `None` keeps each API's own rules
    /// (S3 ownership and ACLs, any table for DynamoDB, no control API).
    pub policy: Option<Arc<Policy>>,
}

impl std::fmt::Debug for AccessKey {
    // The secret never appears in logs or debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("principal", &self.principal)
            .field("admin", &self.admin)
            .field("policy", &self.policy.is_some())
            .finish()
    }
}

struct KeyEntry {
    secret: String,
    caller: Arc<Caller>,
}

/// All access keys of the deployment, by key id. Cheap to clone.
#[derive(Clone, Default)]
pub struct Principals {
    keys: Arc<HashMap<String, KeyEntry>>,
}

impl std::fmt::Debug for Principals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principals").field("keys", &self.keys.len()).finish()
    }
}

impl Principals {
    pub fn new(keys: impl IntoIterator<Item = AccessKey>) -> Self {
        let entries = keys.into_iter().map(|k| {
            let caller = Caller {
                access_key_id: k.access_key_id.clone(),
                arn: Caller::user_arn(&k.principal),
                userid: k.principal.clone(),
                principal: k.principal,
                admin: k.admin,
                policy: k.policy,
                session_policy: None,
                temporary: false,
            };
            (
                k.access_key_id,
                KeyEntry {
                    secret: k.secret_access_key,
                    caller: Arc::new(caller),
                },
            )
        });
        Self {
            keys: Arc::new(entries.collect()),
        }
    }

    /// The secret of an access key id (for verifying signatures outside s3s).
    pub fn secret_of(&self, access_key_id: &str) -> Option<String> {
        self.keys.get(access_key_id).map(|k| k.secret.clone())
    }

    /// The principal an access key id acts as.
    pub fn principal_of(&self, access_key_id: &str) -> Option<&str> {
        self.keys.get(access_key_id).map(|k| k.caller.principal.as_str())
    }

    /// The caller behind a (verified) access key id.
    pub fn caller(&self, access_key_id: &str) -> Option<Arc<Caller>> {
        self.keys.get(access_key_id).map(|k| k.caller.clone())
    }
}

#[async_trait::async_trait]
impl S3Auth for Principals {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.keys.get(access_key) {
            Some(k) => Ok(SecretKey::from(k.secret.as_str())),
            None => Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )),
        }
    }
}
