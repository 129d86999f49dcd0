//! The STS Query API (form-encoded `Action=...` bodies, XML answers) on the
//! node's port, so `aws sts ... --endpoint-url` works unchanged:
//! `AssumeRole` (with an inline session `Policy` and `DurationSeconds`),
//! `GetSessionToken` and `GetCallerIdentity`. The request's signature is
//! verified by the caller of [`handle`]; this module decides and mints.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use tandem_iam::decide::ACCOUNT;
use tandem_iam::{Caller, Context, Decision, Request, Verdict};

use crate::sessions::{Role, Sessions};
use crate::token::{Claims, Minted};

const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// Longest inline session policy (AWS: 2048 characters).
const MAX_SESSION_POLICY: usize = 2048;
/// GetSessionToken's bounds and default (AWS: 15 min to 36 h, 12 h).
const SESSION_TOKEN_SECS: (i64, i64, i64) = (900, 129_600, 43_200);
/// AssumeRole's shortest session and default.
const ASSUME_ROLE_MIN_SECS: i64 = 900;
const ASSUME_ROLE_DEFAULT_SECS: i64 = 3_600;

tandem_iam::operations! {
    /// One STS operation; its row is the IAM action.
    pub enum StsOp: &'static str {
        AssumeRole => "sts:AssumeRole",
        GetSessionToken => "sts:GetSessionToken",
        GetCallerIdentity => "sts:GetCallerIdentity",
    }
}

/// An STS answer: HTTP status and XML body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

/// An STS error: status, code, message.
struct Failure(u16, &'static str, String);

fn failure(status: u16, code: &'static str, message: impl Into<String>) -> Failure {
    Failure(status, code, message.into())
}

/// Escapes text for an XML element.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Serves one STS request of an authenticated `caller`, whose form
/// parameters are `params`.
pub fn handle(sessions: Option<&Sessions>, params: &[(String, String)], caller: &Caller, context: &Context, request_id: &str) -> Answer {
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let action = param("Action").unwrap_or_default();
    let result = match (StsOp::from_name(action), sessions) {
        (StsOp::GetCallerIdentity, _) => Ok(caller_identity(caller)),
        (StsOp::GetSessionToken | StsOp::AssumeRole, None) => Err(failure(
            400,
            "InvalidAction",
            "temporary credentials are not configured on this deployment: set [sts] signing_key in tandem.toml",
        )),
        (StsOp::GetSessionToken, Some(s)) => get_session_token(s, caller, param("DurationSeconds")),
        (StsOp::AssumeRole, Some(s)) => assume_role(s, caller, context, &param),
        (StsOp::Unknown, _) => Err(failure(
            400,
            "InvalidAction",
            format!("Could not find operation {} for version 2011-06-15", esc(action)),
        )),
    };
    match result {
        Ok(inner) => Answer {
            status: 200,
            body: format!(
                "<{action}Response xmlns=\"{XMLNS}\"><{action}Result>{inner}</{action}Result><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
            ),
        },
        Err(Failure(status, code, message)) => error(status, code, &message, request_id),
    }
}

/// An STS error document.
pub fn error(status: u16, code: &str, message: &str, request_id: &str) -> Answer {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    Answer {
        status,
        body: format!(
            "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            esc(message)
        ),
    }
}

fn caller_identity(caller: &Caller) -> String {
    format!(
        "<Arn>{}</Arn><UserId>{}</UserId><Account>{ACCOUNT}</Account>",
        esc(&caller.arn),
        esc(&caller.userid)
    )
}

/// `DurationSeconds` within bounds, or the default.
fn duration(raw: Option<&str>, min: i64, max: i64, default: i64) -> Result<i64, Failure> {
    let Some(raw) = raw else { return Ok(default) };
    match raw.parse::<i64>() {
        Ok(secs) if (min..=max).contains(&secs) => Ok(secs),
        _ => Err(failure(
            400,
            "ValidationError",
            format!(
                "1 validation error detected: Value '{raw}' at 'durationSeconds' failed to satisfy constraint: Member must be between {min} and {max}"
            ),
        )),
    }
}

fn credentials_xml(minted: &Minted) -> String {
    let expiration = OffsetDateTime::from_unix_timestamp(minted.claims.exp)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
    format!(
        "<Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken><Expiration>{expiration}</Expiration></Credentials>",
        minted.access_key_id,
        esc(&minted.secret_access_key),
        minted.session_token
    )
}

fn now_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn get_session_token(sessions: &Sessions, caller: &Caller, raw_duration: Option<&str>) -> Result<String, Failure> {
    if caller.temporary {
        return Err(failure(403, "AccessDenied", "Cannot call GetSessionToken with session credentials"));
    }
    let (min, max, default) = SESSION_TOKEN_SECS;
    let secs = duration(raw_duration, min, max, default)?;
    let minted = sessions.key().mint(Claims {
        v: 1,
        ak: String::new(),
        parent: caller.access_key_id.clone(),
        role: None,
        name: caller.principal.clone(),
        exp: now_secs() + secs,
        policy: None,
        web: None,
    });
    Ok(credentials_xml(&minted))
}

fn valid_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

fn assume_role<'a>(
    sessions: &Sessions,
    caller: &Caller,
    context: &Context,
    param: &dyn Fn(&str) -> Option<&'a str>,
) -> Result<String, Failure> {
    let role_arn = param("RoleArn").ok_or_else(|| failure(400, "MissingParameter", "The request must contain the parameter RoleArn"))?;
    let name = param("RoleSessionName")
        .ok_or_else(|| failure(400, "MissingParameter", "The request must contain the parameter RoleSessionName"))?;
    if !valid_session_name(name) {
        return Err(failure(
            400,
            "ValidationError",
            "RoleSessionName must be 2 to 64 characters of letters, digits and +=,.@_-",
        ));
    }
    let role = authorize_assume(caller, context, role_arn, sessions.role_by_arn(role_arn))?;
    let secs = duration(
        param("DurationSeconds"),
        ASSUME_ROLE_MIN_SECS,
        role.max_session_secs,
        ASSUME_ROLE_DEFAULT_SECS.min(role.max_session_secs),
    )?;
    let policy = match param("Policy") {
        Some(doc) if doc.len() > MAX_SESSION_POLICY => {
            return Err(failure(
                400,
                "PackedPolicyTooLarge",
                format!(
                    "The session policy is {} bytes; at most {MAX_SESSION_POLICY} are allowed",
                    doc.len()
                ),
            ));
        }
        Some(doc) => {
            sessions
                .parse_session_policy(doc)
                .map_err(|why| failure(400, "MalformedPolicyDocument", why))?;
            Some(doc.to_string())
        }
        None => None,
    };
    let packed = policy.as_ref().map_or(0, |p| p.len() * 100 / MAX_SESSION_POLICY);
    let minted = sessions.key().mint(Claims {
        v: 1,
        ak: String::new(),
        parent: caller.access_key_id.clone(),
        role: Some(role.name.clone()),
        name: name.to_string(),
        exp: now_secs() + secs,
        policy,
        web: None,
    });
    Ok(format!(
        "{}<AssumedRoleUser><AssumedRoleId>{}:{}</AssumedRoleId><Arn>arn:aws:sts::{ACCOUNT}:assumed-role/{}/{}</Arn></AssumedRoleUser><PackedPolicySize>{packed}</PackedPolicySize>",
        credentials_xml(&minted),
        esc(&role.name),
        esc(name),
        esc(&role.name),
        esc(name)
    ))
}

/// The caller may assume the role when the role trusts it and the caller's
/// own policies allow `sts:AssumeRole` on it (keys without a policy: trust alone).
fn authorize_assume<'r>(caller: &Caller, context: &Context, role_arn: &str, role: Option<&'r Role>) -> Result<&'r Role, Failure> {
    let denied = || {
        failure(
            403,
            "AccessDenied",
            format!(
                "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                caller.arn
            ),
        )
    };
    let role = role.ok_or_else(denied)?;
    if caller.temporary || !role.trusts(caller) {
        return Err(denied());
    }
    let request = Request {
        action: "sts:AssumeRole",
        resource: role_arn,
        who: caller.who(),
        context,
    };
    match tandem_iam::decide(Some(caller), &request, Verdict::Silent, || true) {
        Decision::Allow => Ok(role),
        Decision::Deny { .. } => Err(denied()),
    }
}
