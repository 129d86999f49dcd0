//! Policy documents (IAM JSON: `Version`, `Statement` with `Effect`,
//! `Principal`/`NotPrincipal`, `Action`/`NotAction`, `Resource`/`NotResource`,
//! `Condition`), parsed and validated once into a [`Policy`] that evaluates a
//! request without allocating for statements that cannot apply.
//!
//! The same type serves identity policies (attached to an access key or a
//! session; no principal element) and resource policies (bucket policies;
//! a principal element is required). [`Rules`] says which form, and which
//! actions, resources and condition keys the API behind it knows.

use serde_json::Value;

use crate::condition::{self, Condition};
use crate::context::Context;
use crate::pattern::{self, wildcard};

/// What one policy says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// An explicit Deny matched: nothing else can grant access.
    Deny,
    Allow,
    /// No statement matched (an implicit deny, unless something else allows).
    Silent,
}

/// Who is asking, as a resource policy's `Principal` sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Who<'a> {
    /// Principal name; `None` for anonymous requests.
    pub name: Option<&'a str>,
    pub access_key_id: Option<&'a str>,
    /// The principal's ARN (`arn:aws:iam::ACCOUNT:user/NAME`, or the session's).
    pub arn: Option<&'a str>,
}

/// One request as policies see it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// IAM action, e.g. `s3:GetObject`.
    pub action: &'a str,
    /// Resource ARN, e.g. `arn:aws:s3:::bucket/key`.
    pub resource: &'a str,
    pub who: Who<'a>,
    pub context: &'a Context,
}

/// Which policy form is parsed and what the API behind it can evaluate.
pub struct Rules<'a> {
    /// Resource policies name principals; identity policies must not.
    pub resource_policy: bool,
    /// Largest document accepted, in bytes.
    pub max_bytes: usize,
    /// Action prefixes the policy may name (`s3:`); `*` is always allowed.
    pub action_prefixes: &'a [&'a str],
    /// Checks a resource pattern; the error is the message to show.
    pub check_resource: &'a dyn Fn(&str) -> Result<(), String>,
    /// Condition keys the API supplies.
    pub known_key: &'a dyn Fn(&str) -> bool,
}

/// A list of patterns, possibly negated (`NotAction`, ...).
#[derive(Debug, Clone)]
struct Match {
    patterns: Vec<String>,
    /// Per pattern, what is known before any request: see [`Shape`].
    shapes: Vec<Shape>,
    negated: bool,
}

/// What matching one pattern can skip: the literal bytes it starts with (up
/// to its first wildcard or variable) and ends with (after its last one),
/// which a value must start and end with too — most patterns of a policy are
/// rejected by those two comparisons, before any wildcard matching — and
/// whether it has policy variables at all (then only the start is literal).
#[derive(Debug, Clone, Copy)]
struct Shape {
    literal: usize,
    /// Where the literal end starts (`len` when the pattern ends in a wildcard).
    tail: usize,
    variables: bool,
}

impl Shape {
    fn of(p: &str) -> Shape {
        let variables = pattern::has_variables(p);
        let literal = p.find(['*', '?', '$']).unwrap_or(p.len());
        let tail = match variables {
            true => p.len(),
            false => p.rfind(['*', '?']).map_or(p.len(), |i| i + 1),
        };
        Shape { literal, tail, variables }
    }

    /// Whether `value` can match `p` at all, judged on the literal ends.
    fn admits(&self, p: &str, value: &str) -> bool {
        let (p, v) = (p.as_bytes(), value.as_bytes());
        let (head, tail) = (&p[..self.literal], &p[self.tail.max(self.literal)..]);
        v.len() >= head.len() + tail.len() && v.starts_with(head) && v.ends_with(tail)
    }
}

impl Match {
    fn new(patterns: Vec<String>, negated: bool) -> Self {
        let shapes = patterns.iter().map(|p| Shape::of(p)).collect();
        Match { patterns, shapes, negated }
    }
}

#[derive(Debug, Clone)]
struct Statement {
    allow: bool,
    /// `None` in identity policies.
    principals: Option<Match>,
    actions: Match,
    resources: Match,
    conditions: Vec<Condition>,
}

/// A parsed, validated policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    statements: Vec<Statement>,
    /// Policy variables are only expanded in version 2012-10-17 documents.
    variables: bool,
}

/// The most statements a document may have (a 20 KB bucket policy holds far fewer).
const MAX_STATEMENTS: usize = 1000;
/// The deepest JSON a policy document may nest (policies need 5 levels).
const MAX_DEPTH: usize = 16;

/// Largest identity or session policy accepted, in bytes.
pub const MAX_IDENTITY_POLICY_BYTES: usize = 20 * 1024;

impl Policy {
    /// Parses an identity policy (a key's in `tandem.toml`, a role's, or a
    /// session's): no principal, actions of any tandem API, resources as
    /// ARNs or `*`, condition keys that `known_key` accepts.
    pub fn parse_identity(doc: &str, known_key: &dyn Fn(&str) -> bool) -> Result<Self, String> {
        let check_resource = |r: &str| match r == "*" || r.starts_with("arn:aws:") {
            true => Ok(()),
            false => Err(format!(
                "Policy has invalid resource: {r} (use an ARN such as arn:aws:s3:::bucket/* or *)"
            )),
        };
        let rules = Rules {
            resource_policy: false,
            max_bytes: MAX_IDENTITY_POLICY_BYTES,
            action_prefixes: &["s3:", "dynamodb:", "tandem:", "sts:", "cognito-idp:", "cognito-identity:"],
            check_resource: &check_resource,
            known_key,
        };
        Self::parse(doc, &rules)
    }

    /// Parses and validates a policy document.
    pub fn parse(doc: &str, rules: &Rules<'_>) -> Result<Self, String> {
        if doc.len() > rules.max_bytes {
            return Err(format!(
                "Policies must be at most {} bytes; this one is {} bytes",
                rules.max_bytes,
                doc.len()
            ));
        }
        let v: Value = serde_json::from_str(doc).map_err(|e| format!("Policies must be valid JSON: {e}"))?;
        if depth(&v) > MAX_DEPTH {
            return Err("Policies must not nest this deep".into());
        }
        let Value::Object(top) = &v else {
            return Err("Policies must be a JSON object".into());
        };
        if let Some(bad) = top.keys().find(|k| !matches!(k.as_str(), "Version" | "Id" | "Statement")) {
            return Err(format!("Unknown field {bad}"));
        }
        let variables = match top.get("Version") {
            None => false,
            Some(Value::String(v)) if v == "2012-10-17" => true,
            Some(Value::String(v)) if v == "2008-10-17" => false,
            Some(_) => return Err("The policy Version must be 2012-10-17 or 2008-10-17".into()),
        };
        let stmts = match top.get("Statement") {
            Some(Value::Array(a)) => a.iter().collect::<Vec<_>>(),
            Some(o @ Value::Object(_)) => vec![o],
            _ => return Err("Missing required field Statement".into()),
        };
        if stmts.is_empty() {
            return Err("Could not parse the policy: Statement is empty!".into());
        }
        if stmts.len() > MAX_STATEMENTS {
            return Err(format!("Policies may have at most {MAX_STATEMENTS} statements"));
        }
        let statements = stmts.iter().map(|s| parse_statement(s, rules)).collect::<Result<_, _>>()?;
        Ok(Self { statements, variables })
    }

    /// Evaluates the policy for one request: an explicit Deny wins over Allow.
    pub fn evaluate(&self, req: &Request<'_>) -> Verdict {
        // Action patterns are kept lowercased: IAM actions ignore case.
        let action = req.action.to_ascii_lowercase();
        let mut verdict = Verdict::Silent;
        for s in &self.statements {
            if !s.applies(&action, req, self.variables) {
                continue;
            }
            if !s.allow {
                return Verdict::Deny;
            }
            verdict = Verdict::Allow;
        }
        verdict
    }

    /// Whether a condition reads a key starting with `prefix` (any case):
    /// lets an API skip gathering keys no statement reads.
    pub fn reads_key(&self, prefix: &str) -> bool {
        let prefix = prefix.to_ascii_lowercase();
        self.statements
            .iter()
            .flat_map(|s| &s.conditions)
            .any(|c| c.key().to_ascii_lowercase().starts_with(&prefix))
    }

    /// Whether some statement allows `action` to everyone, anonymous
    /// requests included, without conditions (a public policy).
    pub fn allows_everyone(&self) -> bool {
        self.statements.iter().any(|s| {
            s.allow
                && s.conditions.is_empty()
                && s.principals
                    .as_ref()
                    .is_some_and(|p| !p.negated && p.patterns.iter().any(|p| p == "*"))
        })
    }
}

impl Statement {
    fn applies(&self, action: &str, req: &Request<'_>, variables: bool) -> bool {
        matches_list(&self.actions, action, None)
            && matches_list(&self.resources, req.resource, variables.then_some(req.context))
            && self.principals.as_ref().is_none_or(|p| principal_matches(p, &req.who))
            && self.conditions.iter().all(|c| c.holds(req.context))
    }
}

/// Whether `value` is matched by the list (or, negated, by none of it),
/// with policy variables expanded from `variables` when given.
fn matches_list(m: &Match, value: &str, variables: Option<&Context>) -> bool {
    let hit = m.patterns.iter().zip(&m.shapes).any(|(p, shape)| {
        if !shape.admits(p, value) {
            return false;
        }
        match (variables, shape.variables) {
            (Some(cx), true) => pattern::substitute(p, cx).is_some_and(|p| wildcard(&p, value)),
            _ => wildcard(p, value),
        }
    });
    hit != m.negated
}

/// A principal pattern matches `*`, the principal's ARN, its name, its access
/// key id, or an ARN whose last part is its name (`...:user/NAME`).
fn principal_matches(m: &Match, who: &Who<'_>) -> bool {
    let hit = m.patterns.iter().any(|p| {
        if p == "*" {
            return true;
        }
        let Some(name) = who.name else { return false };
        Some(p.as_str()) == who.arn
            || p == name
            || who.access_key_id == Some(p.as_str())
            || p.rsplit('/').next() == Some(name)
            || p.rsplit(':').next() == Some(name)
    });
    hit != m.negated
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn parse_statement(s: &Value, rules: &Rules<'_>) -> Result<Statement, String> {
    let Value::Object(fields) = s else {
        return Err("Each statement must be a JSON object".into());
    };
    let known = [
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    ];
    if let Some(bad) = fields.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("Unknown field {bad}"));
    }
    let allow = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => true,
        Some("Deny") => false,
        _ => return Err("Effect must be Allow or Deny".into()),
    };
    let principals = match (rules.resource_policy, s.get("Principal").or(s.get("NotPrincipal"))) {
        (true, _) => Some(either(s, "Principal", "NotPrincipal", principal_patterns)?),
        (false, None) => None,
        (false, Some(_)) => return Err("Identity policies must not name a Principal".into()),
    };
    let mut actions = either(s, "Action", "NotAction", string_list)?;
    if let Some(bad) = actions
        .patterns
        .iter()
        .find(|a| !(a.as_str() == "*" || rules.action_prefixes.iter().any(|p| a.to_ascii_lowercase().starts_with(p))))
    {
        return Err(format!("Policy has invalid action: {bad}"));
    }
    actions.patterns.iter_mut().for_each(|a| a.make_ascii_lowercase());
    let resources = either(s, "Resource", "NotResource", string_list)?;
    for r in &resources.patterns {
        (rules.check_resource)(r)?;
    }
    let conditions = match s.get("Condition") {
        Some(block) => condition::parse_block(block, rules.known_key)?,
        None => Vec::new(),
    };
    Ok(Statement {
        allow,
        principals,
        actions,
        resources,
        conditions,
    })
}

fn either(s: &Value, field: &str, not_field: &str, parse: fn(&Value) -> Result<Vec<String>, String>) -> Result<Match, String> {
    match (s.get(field), s.get(not_field)) {
        (Some(v), None) => Ok(Match::new(parse(v)?, false)),
        (None, Some(v)) => Ok(Match::new(parse(v)?, true)),
        _ => Err(format!("Each statement needs exactly one of {field} or {not_field}")),
    }
}

fn string_list(v: &Value) -> Result<Vec<String>, String> {
    let list = match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or_else(|| "expected a string".to_string()))
            .collect::<Result<_, _>>()?,
        _ => return Err("expected a string or a list of strings".into()),
    };
    if list.is_empty() {
        return Err("a list in a policy statement must not be empty".into());
    }
    Ok(list)
}

fn principal_patterns(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) if s == "*" => Ok(vec!["*".into()]),
        Value::Object(o) if o.len() == 1 => match o.get("AWS") {
            Some(aws) => string_list(aws),
            None => Err("Invalid principal in policy: only AWS principals are supported".into()),
        },
        _ => Err("Invalid principal in policy".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3_rules() -> Rules<'static> {
        Rules {
            resource_policy: true,
            max_bytes: 20 * 1024,
            action_prefixes: &["s3:"],
            check_resource: &|r| {
                if r.starts_with("arn:aws:s3:::") || r == "*" {
                    Ok(())
                } else {
                    Err(format!("Policy has invalid resource: {r}"))
                }
            },
            known_key: &|k| k.starts_with("s3:") || k.starts_with("aws:"),
        }
    }

    fn ask<'a>(action: &'a str, resource: &'a str, who: Who<'a>, cx: &'a Context) -> Request<'a> {
        Request {
            action,
            resource,
            who,
            context: cx,
        }
    }

    const BOB: Who<'static> = Who {
        name: Some("bob"),
        access_key_id: Some("AKBOB"),
        arn: Some("arn:aws:iam::000000000000:user/bob"),
    };
    const ALICE: Who<'static> = Who {
        name: Some("alice"),
        access_key_id: Some("AKALICE"),
        arn: Some("arn:aws:iam::000000000000:user/alice"),
    };

    #[test]
    fn deny_for_a_named_principal_wins() {
        let p = Policy::parse(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},
                {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:user/bob"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}"#,
            &s3_rules(),
        )
        .unwrap();
        let cx = Context::default();
        assert_eq!(p.evaluate(&ask("s3:GetObject", "arn:aws:s3:::b/k", BOB, &cx)), Verdict::Deny);
        assert_eq!(p.evaluate(&ask("s3:GetObject", "arn:aws:s3:::b/k", ALICE, &cx)), Verdict::Allow);
        assert_eq!(
            p.evaluate(&ask("s3:GetObject", "arn:aws:s3:::b/k", Who::default(), &cx)),
            Verdict::Allow
        );
    }

    #[test]
    fn not_principal_matches_everyone_else() {
        let p = Policy::parse(
            r#"{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"alice"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}"#,
            &s3_rules(),
        )
        .unwrap();
        let cx = Context::default();
        assert_eq!(p.evaluate(&ask("s3:GetObject", "arn:aws:s3:::b/k", BOB, &cx)), Verdict::Deny);
        assert_eq!(p.evaluate(&ask("s3:GetObject", "arn:aws:s3:::b/k", ALICE, &cx)), Verdict::Silent);
        assert_eq!(
            p.evaluate(&ask("s3:GetObject", "arn:aws:s3:::b/k", Who::default(), &cx)),
            Verdict::Deny
        );
    }

    #[test]
    fn resource_variables_expand_in_2012_documents_only() {
        let doc = |version: &str| {
            format!(
                r#"{{"Version":"{version}","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/home/${{aws:username}}/*"}}]}}"#
            )
        };
        let mut cx = Context::default();
        cx.set("aws:username", "alice");
        let new = Policy::parse(&doc("2012-10-17"), &s3_rules()).unwrap();
        assert_eq!(
            new.evaluate(&ask("s3:GetObject", "arn:aws:s3:::b/home/alice/x", ALICE, &cx)),
            Verdict::Allow
        );
        assert_eq!(
            new.evaluate(&ask("s3:GetObject", "arn:aws:s3:::b/home/bob/x", ALICE, &cx)),
            Verdict::Silent
        );
        let old = Policy::parse(&doc("2008-10-17"), &s3_rules()).unwrap();
        assert_eq!(
            old.evaluate(&ask("s3:GetObject", "arn:aws:s3:::b/home/alice/x", ALICE, &cx)),
            Verdict::Silent
        );
    }

    #[test]
    fn conditions_gate_a_statement() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b",
                "Condition":{"StringLike":{"s3:prefix":"public/*"},"NumericLessThanEquals":{"s3:max-keys":"100"}}}]}"#,
            &s3_rules(),
        )
        .unwrap();
        let mut cx = Context::default();
        cx.set("s3:prefix", "public/a");
        cx.set("s3:max-keys", "100");
        assert_eq!(p.evaluate(&ask("s3:ListBucket", "arn:aws:s3:::b", BOB, &cx)), Verdict::Allow);
        cx.set("s3:max-keys", "101");
        assert_eq!(p.evaluate(&ask("s3:ListBucket", "arn:aws:s3:::b", BOB, &cx)), Verdict::Silent);
    }

    #[test]
    fn identity_policies_have_no_principal_and_actions_ignore_case() {
        let rules = Rules {
            resource_policy: false,
            ..s3_rules()
        };
        assert!(
            Policy::parse(
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#,
                &rules
            )
            .is_err()
        );
        let p = Policy::parse(r#"{"Statement":{"Effect":"Allow","Action":"S3:get*","Resource":"*"}}"#, &rules).unwrap();
        let cx = Context::default();
        assert_eq!(p.evaluate(&ask("s3:GetObject", "arn:aws:s3:::b/k", BOB, &cx)), Verdict::Allow);
        assert_eq!(p.evaluate(&ask("s3:PutObject", "arn:aws:s3:::b/k", BOB, &cx)), Verdict::Silent);
    }

    #[test]
    fn malformed_or_oversized_policies_are_refused_with_a_reason() {
        let rules = s3_rules();
        assert!(Policy::parse("not json", &rules).is_err());
        assert!(Policy::parse(r#"{"Statement":[]}"#, &rules).is_err());
        assert!(
            Policy::parse(
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ec2:*","Resource":"*"}]}"#,
                &rules
            )
            .unwrap_err()
            .contains("action")
        );
        assert!(
            Policy::parse(
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"x","Extra":1}]}"#,
                &rules
            )
            .unwrap_err()
            .contains("Extra")
        );
        let big = format!(
            r#"{{"Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/{}"}}]}}"#,
            "x".repeat(21 * 1024)
        );
        assert!(Policy::parse(&big, &rules).unwrap_err().contains("at most"));
    }

    #[test]
    fn a_public_statement_is_recognised() {
        let rules = s3_rules();
        let public = Policy::parse(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
            &rules,
        )
        .unwrap();
        assert!(public.allows_everyone());
        let scoped = Policy::parse(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#,
            &rules,
        )
        .unwrap();
        assert!(!scoped.allows_everyone());
    }
}

#[cfg(test)]
mod shape_tests {
    use super::*;

    /// The literal-ends shortcut never refuses what the wildcard matcher accepts.
    #[test]
    fn literal_ends_agree_with_the_wildcard_matcher() {
        let patterns = [
            "a*b",
            "ab*ab",
            "*",
            "?",
            "a?b",
            "abc",
            "*:table/x",
            "arn:*:*:t?",
            "x*",
            "*y",
            "a*b*c",
        ];
        let values = [
            "",
            "a",
            "ab",
            "abab",
            "aab",
            "axb",
            "abc",
            "ns:table/x",
            "arn:1:2:t9",
            "xy",
            "abxbc",
            "ac",
        ];
        for p in patterns {
            let m = Match::new(vec![p.to_string()], false);
            for v in values {
                assert_eq!(matches_list(&m, v, None), wildcard(p, v), "pattern {p:?} value {v:?}");
            }
        }
    }
}
