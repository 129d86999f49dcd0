//! Access keys and the principals they stand for. Implements s3s's `S3Auth`, so
//! every SigV4 signature is checked against the secrets known here.

use std::collections::HashMap;
use std::sync::Arc;

use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};

/// One configured access key.
#[derive(Clone)]
pub struct AccessKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Who the key acts as: owner of the buckets it creates, the name bucket
    /// policies and ACLs refer to.
    pub principal: String,
}

impl std::fmt::Debug for AccessKey {
    // The secret never appears in logs or debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("principal", &self.principal)
            .finish()
    }
}

/// All access keys of the deployment, by key id. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Principals {
    keys: Arc<HashMap<String, AccessKey>>,
}

impl Principals {
    pub fn new(keys: impl IntoIterator<Item = AccessKey>) -> Self {
        Self {
            keys: Arc::new(keys.into_iter().map(|k| (k.access_key_id.clone(), k)).collect()),
        }
    }

    /// The secret of an access key id (for verifying signatures outside s3s).
    pub fn secret_of(&self, access_key_id: &str) -> Option<String> {
        self.keys.get(access_key_id).map(|k| k.secret_access_key.clone())
    }

    /// The principal an access key id acts as.
    pub fn principal_of(&self, access_key_id: &str) -> Option<&str> {
        self.keys.get(access_key_id).map(|k| k.principal.as_str())
    }
}

#[async_trait::async_trait]
impl S3Auth for Principals {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.keys.get(access_key) {
            Some(k) => Ok(SecretKey::from(k.secret_access_key.as_str())),
            None => Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )),
        }
    }
}
