//! Cognito-compatible identity on every region node: user pools (admin-created
//! users, password and SRP sign-in, RS256 tokens with a JWKS endpoint) and
//! identity pools (an ID token exchanged for temporary credentials scoped to
//! an app). Users, verifiers and revocations live in the store and replicate
//! through the change log like everything else.

pub mod admin;
pub mod config;
mod dispatch;
pub mod error;
pub mod fields;
pub mod filter;
pub mod identity_pool;
pub mod keys;
pub mod lockout;
pub mod ops;
pub mod password;
pub mod record;
pub mod replica;
pub mod service;
pub mod session;
pub mod sign_in;
pub mod srp;
mod srp_flow;
pub mod tokens;

pub use config::IdentityConfig;
pub use error::{CognitoError, CognitoResult};
pub use ops::{IdentityPoolOp, UserPoolOp};
pub use service::{Identity, Urls};
