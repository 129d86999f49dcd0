//! The `USER_SRP_AUTH` flow (Amplify's default sign-in).

use serde_json::Value;

use crate::config::UserPoolConfig;
use crate::error::{CognitoError, CognitoResult};
use crate::service::Identity;

impl Identity {
    pub(crate) fn srp_start(&self, _pool: &UserPoolConfig, _params: &[(&str, &str)]) -> CognitoResult<Value> {
        Err(CognitoError::invalid("Initiate Auth method not supported: USER_SRP_AUTH"))
    }

    pub(crate) async fn srp_verify(&self, _pool: &UserPoolConfig, _client: &str, _responses: &[(&str, &str)]) -> CognitoResult<Value> {
        Err(CognitoError::invalid("Challenge not supported: PASSWORD_VERIFIER"))
    }
}
