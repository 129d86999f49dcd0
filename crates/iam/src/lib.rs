//! IAM-style authorization shared by every tandem API (S3, DynamoDB and
//! Streams, STS, the control API): policy documents and their conditions
//! ([`policy`], [`condition`]), the request context they read ([`context`]),
//! and how the identity policy, a session policy and a resource policy
//! combine into one decision ([`decide`]).

pub mod condition;
pub mod context;
pub mod decide;
pub mod keys;
pub mod operations;
pub mod pattern;
pub mod policy;

pub use context::Context;
pub use decide::{Caller, Decision, Grant, WebIdentity, decide};
pub use keys::SourceAddr;
pub use policy::{Policy, Request, Rules, Verdict, Who};
