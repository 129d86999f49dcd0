//! Authentication of the node's JSON APIs (DynamoDB, Cognito): a buffered
//! request's SigV4 signature, its credential scope (this region, the API's
//! service) and its credentials (a key, or temporary credentials and their
//! token) become a caller and the request's condition keys. Every failure
//! is sorted into one [`Failure`] kind, which each API spells in its own
//! error format.

use std::sync::Arc;

use hyper::http::request::Parts;
use tandem_iam::{Caller, Context};
use tandem_s3::principals::{CredentialError, Principals};
use tandem_sigv4::SigError;

/// Why a request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No signature at all.
    Missing,
    /// An access key or session token this deployment does not know.
    UnknownKey,
    /// A signature that does not verify, is malformed or wrongly scoped.
    BadSignature,
    /// Temporary credentials past their expiry.
    Expired,
}

/// A refusal: its kind and the message for the caller.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub failure: Failure,
    pub message: String,
}

impl Refusal {
    fn new(failure: Failure, message: impl Into<String>) -> Self {
        Self {
            failure,
            message: message.into(),
        }
    }
}

impl From<SigError> for Refusal {
    fn from(e: SigError) -> Self {
        let failure = match e {
            SigError::Missing => Failure::Missing,
            SigError::UnknownKey => Failure::UnknownKey,
            SigError::Mismatch | SigError::Skewed | SigError::Malformed(_) | SigError::ScopeDate { .. } | SigError::HeadersNotSigned(_) => {
                Failure::BadSignature
            }
        };
        Refusal::new(failure, e.to_string())
    }
}

impl From<CredentialError> for Refusal {
    fn from(e: CredentialError) -> Self {
        match e {
            CredentialError::ExpiredToken => Refusal::new(Failure::Expired, "The security token included in the request is expired"),
            CredentialError::UnknownKey | CredentialError::InvalidToken => {
                Refusal::new(Failure::UnknownKey, "The security token included in the request is invalid.")
            }
        }
    }
}

/// Verifies a buffered request signed for `service` in `signing_region` and
/// returns its caller and condition keys.
pub(crate) fn authenticate(
    principals: &Principals,
    parts: &Parts,
    body: &[u8],
    service: &str,
    signing_region: &str,
) -> Result<(Arc<Caller>, Context), Refusal> {
    let now = time::OffsetDateTime::now_utc();
    let signer = tandem_sigv4::verify(&parts.method, &parts.uri, &parts.headers, body, now, |k| principals.secret_of(k))?;
    if let Some(message) = scope_error(&signer, service, signing_region) {
        return Err(Refusal::new(Failure::BadSignature, message));
    }
    Ok(principals.caller_context(&signer.access_key, &parts.uri, &parts.headers, &parts.extensions, now)?)
}

/// Why a verified signature is scoped wrongly for this API (`None`: it is right).
pub(crate) fn scope_error(signer: &tandem_sigv4::Signer, service: &str, signing_region: &str) -> Option<String> {
    if signer.region != signing_region {
        return Some(format!(
            "Credential should be scoped to a valid region, not '{}'. This region signs as '{signing_region}'.",
            signer.region
        ));
    }
    (signer.service != service).then(|| {
        format!(
            "Credential should be scoped to correct service: '{service}'. (it is scoped to '{}')",
            signer.service
        )
    })
}
