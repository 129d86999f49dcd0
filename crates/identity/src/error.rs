//! Errors of the Cognito APIs, in their own wire form: HTTP 400 (500 for a
//! fault of the node) with `{"__type": CODE, "message": ...}`.

use serde_json::json;

/// One Cognito error: its `__type` code and a message for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoError {
    pub code: &'static str,
    pub message: String,
}

pub type CognitoResult<T> = Result<T, CognitoError>;

impl CognitoError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", message)
    }

    pub fn not_authorized(message: impl Into<String>) -> Self {
        Self::new("NotAuthorizedException", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", message)
    }

    pub fn user_not_found() -> Self {
        Self::new("UserNotFoundException", "User does not exist.")
    }

    /// The answer to a sign-in that failed for any reason a caller must not
    /// tell apart (unknown user or wrong password).
    pub fn bad_credentials() -> Self {
        Self::not_authorized("Incorrect username or password.")
    }

    /// A fault of this node (the store failed); details go to the log, not the caller.
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "identity request failed");
        Self::new("InternalErrorException", "An internal error occurred; try again.")
    }

    pub fn status(&self) -> u16 {
        match self.code {
            "InternalErrorException" => 500,
            _ => 400,
        }
    }

    /// The JSON body of the error.
    pub fn body(&self) -> String {
        json!({ "__type": self.code, "message": self.message }).to_string()
    }
}

impl From<tandem_store::StoreError> for CognitoError {
    fn from(e: tandem_store::StoreError) -> Self {
        Self::internal(e)
    }
}
