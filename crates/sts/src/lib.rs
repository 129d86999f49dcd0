//! Temporary credentials for every tandem API: self-contained session tokens
//! signed with a key all regions share ([`token`]), roles and the callers
//! behind sessions ([`sessions`]), and the STS API served on the node's port
//! (`AssumeRole`, `GetSessionToken`, `GetCallerIdentity`; [`api`]).

pub mod api;
pub mod sessions;
pub mod token;

pub use sessions::{Role, Sessions};
pub use token::{Minted, SessionKey, TokenError, WebClaims};
