//! The SRP verifier kept with a user's password, for the `USER_SRP_AUTH`
//! flow; the SRP arithmetic itself lives in [`crate::srp`].

use crate::record::SrpVerifier;

/// The verifier of a password (`None` until the SRP flow is built).
pub fn verifier(_srp_pool_name: &str, _username: &str, _password: &str) -> Option<SrpVerifier> {
    None
}
