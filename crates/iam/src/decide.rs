//! Who is calling ([`Caller`]) and how the policies that apply to a request
//! combine into one [`Decision`], as AWS evaluates a request within one
//! account:
//! 1. an explicit Deny in any policy (identity, session, resource) denies;
//! 2. a caller on temporary credentials needs an Allow from its session
//!    policy too (the session can only narrow its parent's rights);
//! 3. an Allow from the identity policy or from the resource policy allows;
//! 4. otherwise the request is denied, except that callers without an
//!    identity policy (and anonymous requests) keep the API's own rules: S3's
//!    ownership and ACLs, DynamoDB's "any signed key". An admin key allows
//!    everything step 1 does not deny.

use std::sync::Arc;

use crate::context::Context;
use crate::policy::{Policy, Request, Verdict, Who};

/// The account id in every ARN tandem builds (one deployment, one account).
pub const ACCOUNT: &str = "000000000000";

/// An authenticated caller: an access key of `tandem.toml`, or temporary
/// credentials minted from one.
#[derive(Debug, Clone)]
pub struct Caller {
    pub access_key_id: String,
    /// The principal the key acts as (owner of what it creates).
    pub principal: String,
    /// `arn:aws:iam::ACCOUNT:user/NAME`, or `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub arn: String,
    /// `aws:userid`: the principal, or `ROLE:SESSION` for an assumed role.
    pub userid: String,
    pub admin: bool,
    /// The identity policy; `None`: an unscoped key (the API's own rules).
    pub policy: Option<Arc<Policy>>,
    /// The session policy of temporary credentials.
    pub session_policy: Option<Arc<Policy>>,
    /// Whether these are temporary credentials.
    pub temporary: bool,
    /// The Cognito identity behind credentials from an identity pool.
    pub web_identity: Option<WebIdentity>,
}

/// A Cognito identity (GetCredentialsForIdentity): what the policy variables
/// `${cognito-identity.amazonaws.com:sub}` and `:aud` stand for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    /// The identity id, `REGION:UUID`.
    pub identity_id: String,
    /// The identity pool id.
    pub identity_pool: String,
}

/// What the caller's own policies say about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    Admin,
    /// No identity policy: the API's own rules decide.
    Unscoped,
    Scoped(Verdict),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Denied; `explicit` when a Deny statement matched.
    Deny {
        explicit: bool,
    },
}

impl Decision {
    pub fn allowed(self) -> bool {
        self == Decision::Allow
    }
}

impl Caller {
    /// The ARN of a long-term key's principal.
    pub fn user_arn(principal: &str) -> String {
        format!("arn:aws:iam::{ACCOUNT}:user/{principal}")
    }

    /// The caller as resource policies see it.
    pub fn who(&self) -> Who<'_> {
        Who {
            name: Some(&self.principal),
            access_key_id: Some(&self.access_key_id),
            arn: Some(&self.arn),
        }
    }

    /// Adds the global condition keys that describe the caller.
    pub fn describe(&self, cx: &mut Context) {
        cx.set("aws:username", self.principal.clone());
        cx.set("aws:userid", self.userid.clone());
        cx.set("aws:PrincipalArn", self.arn.clone());
        cx.set("aws:PrincipalAccount", ACCOUNT);
        cx.set("aws:PrincipalType", if self.temporary { "AssumedRole" } else { "User" });
        if let Some(web) = &self.web_identity {
            cx.set(crate::keys::COGNITO_SUB, web.identity_id.clone());
            cx.set(crate::keys::COGNITO_AUD, web.identity_pool.clone());
            cx.set(crate::keys::COGNITO_AMR, "authenticated");
        }
    }

    /// What the identity policy says (admin keys and unscoped keys aside).
    pub fn grant(&self, req: &Request<'_>) -> Grant {
        match (&self.policy, self.admin) {
            (_, true) => Grant::Admin,
            (None, false) => Grant::Unscoped,
            (Some(p), false) => Grant::Scoped(p.evaluate(req)),
        }
    }
}

/// Decides one request. `resource` is what the resource policy says
/// (`Silent` when there is none); `api_rules` is the API's own answer for
/// unscoped callers and anonymous requests (ownership, ACLs), asked only
/// when nothing else decided.
pub fn decide(caller: Option<&Caller>, req: &Request<'_>, resource: Verdict, api_rules: impl FnOnce() -> bool) -> Decision {
    if resource == Verdict::Deny {
        return Decision::Deny { explicit: true };
    }
    let Some(caller) = caller else {
        return match resource == Verdict::Allow || api_rules() {
            true => Decision::Allow,
            false => Decision::Deny { explicit: false },
        };
    };
    let grant = caller.grant(req);
    if grant == Grant::Scoped(Verdict::Deny) {
        return Decision::Deny { explicit: true };
    }
    if let Some(session) = &caller.session_policy {
        match session.evaluate(req) {
            Verdict::Allow => {}
            Verdict::Deny => return Decision::Deny { explicit: true },
            Verdict::Silent => return Decision::Deny { explicit: false },
        }
    }
    let allowed = match grant {
        Grant::Admin | Grant::Scoped(Verdict::Allow) => true,
        Grant::Scoped(_) => resource == Verdict::Allow,
        Grant::Unscoped => resource == Verdict::Allow || api_rules(),
    };
    match allowed {
        true => Decision::Allow,
        false => Decision::Deny { explicit: false },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Rules;

    fn identity(doc: &str) -> Arc<Policy> {
        let rules = Rules {
            resource_policy: false,
            max_bytes: 1 << 20,
            action_prefixes: &["s3:", "dynamodb:"],
            check_resource: &|_| Ok(()),
            known_key: &|_| true,
        };
        Arc::new(Policy::parse(doc, &rules).unwrap())
    }

    fn caller(policy: Option<Arc<Policy>>, admin: bool) -> Caller {
        Caller {
            access_key_id: "AK".into(),
            principal: "alice".into(),
            arn: Caller::user_arn("alice"),
            userid: "alice".into(),
            admin,
            policy,
            session_policy: None,
            temporary: false,
            web_identity: None,
        }
    }

    fn run(c: Option<&Caller>, action: &str, resource_verdict: Verdict, api: bool) -> Decision {
        let cx = Context::default();
        let who = c.map(Caller::who).unwrap_or_default();
        let req = Request {
            action,
            resource: "arn:aws:s3:::b/k",
            who,
            context: &cx,
        };
        decide(c, &req, resource_verdict, || api)
    }

    #[test]
    fn explicit_deny_wins_over_everything() {
        let admin = caller(None, true);
        assert_eq!(
            run(Some(&admin), "s3:GetObject", Verdict::Deny, true),
            Decision::Deny { explicit: true }
        );
        let scoped = caller(
            Some(identity(
                r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"},{"Effect":"Deny","Action":"s3:Delete*","Resource":"*"}]}"#,
            )),
            false,
        );
        assert_eq!(
            run(Some(&scoped), "s3:DeleteObject", Verdict::Allow, true),
            Decision::Deny { explicit: true }
        );
        assert!(run(Some(&scoped), "s3:GetObject", Verdict::Silent, false).allowed());
    }

    #[test]
    fn scoped_keys_need_an_allow_and_ignore_the_api_rules() {
        let scoped = caller(
            Some(identity(
                r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
            )),
            false,
        );
        assert!(run(Some(&scoped), "s3:GetObject", Verdict::Silent, false).allowed());
        assert!(!run(Some(&scoped), "s3:PutObject", Verdict::Silent, true).allowed());
        assert!(
            run(Some(&scoped), "s3:PutObject", Verdict::Allow, false).allowed(),
            "a bucket policy may grant"
        );
    }

    #[test]
    fn unscoped_keys_and_anonymous_requests_keep_the_api_rules() {
        let unscoped = caller(None, false);
        assert!(run(Some(&unscoped), "s3:PutObject", Verdict::Silent, true).allowed());
        assert!(!run(Some(&unscoped), "s3:PutObject", Verdict::Silent, false).allowed());
        assert!(run(None, "s3:GetObject", Verdict::Allow, false).allowed());
        assert!(!run(None, "s3:GetObject", Verdict::Silent, false).allowed());
    }

    #[test]
    fn a_session_policy_narrows_but_never_widens() {
        let mut session = caller(
            Some(identity(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#)),
            false,
        );
        session.session_policy = Some(identity(
            r#"{"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
        ));
        assert!(run(Some(&session), "s3:GetObject", Verdict::Silent, false).allowed());
        assert!(!run(Some(&session), "s3:PutObject", Verdict::Silent, true).allowed());
        let mut narrow_parent = caller(
            Some(identity(
                r#"{"Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}"#,
            )),
            false,
        );
        narrow_parent.session_policy = Some(identity(r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#));
        assert!(!run(Some(&narrow_parent), "s3:GetObject", Verdict::Silent, false).allowed());
    }
}
