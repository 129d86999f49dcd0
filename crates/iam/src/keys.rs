//! The global condition keys (`aws:*`) every API fills in, from the caller,
//! the connection and the clock. Each API adds its own keys (`s3:prefix`, ...)
//! to the same [`Context`].

use std::net::IpAddr;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::context::Context;
use crate::decide::Caller;

/// The global keys tandem supplies.
pub const GLOBAL: &[&str] = &[
    "aws:SourceIp",
    "aws:SecureTransport",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:username",
    "aws:userid",
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:PrincipalType",
];

/// The Cognito identity of identity-pool credentials (unset for any other caller).
pub const COGNITO_SUB: &str = "cognito-identity.amazonaws.com:sub";
/// The identity pool of identity-pool credentials.
pub const COGNITO_AUD: &str = "cognito-identity.amazonaws.com:aud";
/// `authenticated` for identity-pool credentials of a signed-in user.
pub const COGNITO_AMR: &str = "cognito-identity.amazonaws.com:amr";

/// Whether `key` is one of [`GLOBAL`] or the Cognito identity keys (case-insensitive).
pub fn is_global(key: &str) -> bool {
    GLOBAL
        .iter()
        .chain([COGNITO_SUB, COGNITO_AUD, COGNITO_AMR].iter())
        .any(|k| k.eq_ignore_ascii_case(key))
}

/// The client address of a request, left in its extensions by the server
/// (`aws:SourceIp` is its address; audit records keep the port too).
#[derive(Debug, Clone, Copy)]
pub struct SourceAddr(pub std::net::SocketAddr);

/// A context holding the global keys of one request.
pub fn global_context(caller: Option<&Caller>, source: Option<IpAddr>, secure: bool, now: OffsetDateTime) -> Context {
    let mut cx = Context::default();
    if let Some(ip) = source {
        cx.set("aws:SourceIp", ip.to_string());
    }
    cx.set("aws:SecureTransport", secure.to_string());
    if let Ok(t) = now.replace_nanosecond(0).unwrap_or(now).format(&Rfc3339) {
        cx.set("aws:CurrentTime", t);
    }
    cx.set("aws:EpochTime", now.unix_timestamp().to_string());
    if let Some(c) = caller {
        c.describe(&mut cx);
    }
    cx
}
