//! Bucket policies: parsing (with validation at PutBucketPolicy) and evaluation.
//!
//! Supported: `Effect` Allow/Deny, `Principal` (`"*"`, `{"AWS": ...}` naming a
//! principal, an access key id, or an ARN ending in `/NAME`), `Action` with `*`
//! wildcards, `Resource` ARNs with `*`/`?` wildcards, and their `Not*` forms.
//! `Condition` is refused at write time rather than silently ignored.

use serde_json::Value;

/// Result of evaluating a policy for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// An explicit Deny matched: nothing else can grant access.
    Deny,
    Allow,
    /// No statement matched.
    Silent,
}

/// A parsed policy statement.
#[derive(Debug, Clone)]
struct Statement {
    allow: bool,
    principals: Match,
    actions: Match,
    resources: Match,
}

/// A list of patterns, possibly negated (`NotAction`, ...).
#[derive(Debug, Clone)]
struct Match {
    patterns: Vec<String>,
    negated: bool,
}

impl Match {
    fn matches(&self, any_of: &[&str]) -> bool {
        let hit = self.patterns.iter().any(|p| any_of.iter().any(|v| wildcard(p, v)));
        hit != self.negated
    }
}

/// A parsed bucket policy.
#[derive(Debug, Clone)]
pub struct Policy {
    statements: Vec<Statement>,
}

/// Who is asking, as policies see it.
pub struct Requester<'a> {
    /// Principal name; `None` for anonymous requests.
    pub principal: Option<&'a str>,
    pub access_key_id: Option<&'a str>,
}

impl Policy {
    /// Parses and validates a policy document for `bucket`.
    pub fn parse(doc: &str, bucket: &str) -> Result<Self, String> {
        let v: Value = serde_json::from_str(doc).map_err(|e| format!("Policies must be valid JSON: {e}"))?;
        let stmts = match v.get("Statement") {
            Some(Value::Array(a)) => a.clone(),
            Some(o @ Value::Object(_)) => vec![o.clone()],
            _ => return Err("Missing required field Statement".into()),
        };
        if stmts.is_empty() {
            return Err("Could not parse the policy: Statement is empty!".into());
        }
        let statements = stmts.iter().map(|s| parse_statement(s, bucket)).collect::<Result<_, _>>()?;
        Ok(Self { statements })
    }

    /// Evaluates the policy for an action on a resource ARN.
    pub fn evaluate(&self, who: &Requester<'_>, action: &str, resource: &str) -> Verdict {
        let mut verdict = Verdict::Silent;
        for s in &self.statements {
            if !(s.actions.matches(&[action]) && s.resources.matches(&[resource]) && principal_matches(&s.principals, who)) {
                continue;
            }
            if !s.allow {
                return Verdict::Deny;
            }
            verdict = Verdict::Allow;
        }
        verdict
    }
}

fn principal_matches(m: &Match, who: &Requester<'_>) -> bool {
    let hit = m.patterns.iter().any(|p| {
        if p == "*" {
            return true;
        }
        let Some(name) = who.principal else { return false };
        p == name || who.access_key_id == Some(p.as_str()) || p.rsplit('/').next() == Some(name) || p.rsplit(':').next() == Some(name)
    });
    hit != m.negated
}

fn parse_statement(s: &Value, bucket: &str) -> Result<Statement, String> {
    if s.get("Condition").is_some() {
        return Err("Policy conditions are not supported by tandem; remove the Condition element".into());
    }
    let allow = match s.get("Effect").and_then(Value::as_str) {
        Some("Allow") => true,
        Some("Deny") => false,
        _ => return Err("Effect must be Allow or Deny".into()),
    };
    let principals = either(s, "Principal", "NotPrincipal", principal_patterns)?;
    let actions = either(s, "Action", "NotAction", string_list)?;
    if let Some(bad) = actions.patterns.iter().find(|a| !(a.starts_with("s3:") || a.as_str() == "*")) {
        return Err(format!("Policy has invalid action: {bad}"));
    }
    let resources = either(s, "Resource", "NotResource", string_list)?;
    let own = format!("arn:aws:s3:::{bucket}");
    if let Some(bad) = resources
        .patterns
        .iter()
        .find(|r| !(r.as_str() == own || r.starts_with(&format!("{own}/")) || r.as_str() == "*"))
    {
        return Err(format!("Policy has invalid resource: {bad}"));
    }
    Ok(Statement {
        allow,
        principals,
        actions,
        resources,
    })
}

fn either(s: &Value, field: &str, not_field: &str, parse: fn(&Value) -> Result<Vec<String>, String>) -> Result<Match, String> {
    match (s.get(field), s.get(not_field)) {
        (Some(v), None) => Ok(Match {
            patterns: parse(v)?,
            negated: false,
        }),
        (None, Some(v)) => Ok(Match {
            patterns: parse(v)?,
            negated: true,
        }),
        _ => Err(format!("Each statement needs exactly one of {field} or {not_field}")),
    }
}

fn string_list(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or_else(|| "expected a string".to_string()))
            .collect(),
        _ => Err("expected a string or a list of strings".into()),
    }
}

fn principal_patterns(v: &Value) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) if s == "*" => Ok(vec!["*".into()]),
        Value::Object(o) => match o.get("AWS") {
            Some(aws) => string_list(aws),
            None => Err("Principal must name AWS principals".into()),
        },
        _ => Err("Invalid principal in policy".into()),
    }
}

/// Glob match with `*` (any run) and `?` (any one character).
pub fn wildcard(pattern: &str, value: &str) -> bool {
    let (p, v): (Vec<char>, Vec<char>) = (pattern.chars().collect(), value.chars().collect());
    let (mut pi, mut vi, mut star, mut mark) = (0, 0, None, 0);
    while vi < v.len() {
        // A `*` in the pattern is always a wildcard, even against a literal `*`.
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == v[vi]) {
            pi += 1;
            vi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANON: Requester<'static> = Requester {
        principal: None,
        access_key_id: None,
    };

    #[test]
    fn wildcards_match_like_iam() {
        assert!(wildcard("s3:Get*", "s3:GetObject"));
        assert!(wildcard("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
        assert!(!wildcard("arn:aws:s3:::b/*", "arn:aws:s3:::c/x"));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("a?c", "abbc"));
    }

    #[test]
    fn a_star_in_the_value_does_not_escape_a_wildcard() {
        // Found by the policy fuzz target: the pattern's `*` was taken as a
        // literal against a `*` in the value, so a Deny on `b/*` missed `b/*x`.
        assert!(wildcard("*", "*x"));
        assert!(wildcard("arn:aws:s3:::b/*", "arn:aws:s3:::b/*secret"));
        assert!(wildcard("a*c", "a*bc"));
        let p = Policy::parse(
            r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
            "b",
        )
        .unwrap();
        assert_eq!(p.evaluate(&ANON, "s3:GetObject", "arn:aws:s3:::b/*secret"), Verdict::Deny);
    }

    #[test]
    fn public_read_policy_allows_anonymous_get_only() {
        let p = Policy::parse(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#,
            "b",
        )
        .unwrap();
        assert_eq!(p.evaluate(&ANON, "s3:GetObject", "arn:aws:s3:::b/k"), Verdict::Allow);
        assert_eq!(p.evaluate(&ANON, "s3:PutObject", "arn:aws:s3:::b/k"), Verdict::Silent);
    }

    #[test]
    fn deny_for_a_named_principal_wins() {
        let p = Policy::parse(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},
                {"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::000000000000:user/bob"},"Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}"#,
            "b",
        )
        .unwrap();
        let bob = Requester {
            principal: Some("bob"),
            access_key_id: Some("AKBOB"),
        };
        let alice = Requester {
            principal: Some("alice"),
            access_key_id: Some("AKALICE"),
        };
        assert_eq!(p.evaluate(&bob, "s3:GetObject", "arn:aws:s3:::b/k"), Verdict::Deny);
        assert_eq!(p.evaluate(&alice, "s3:GetObject", "arn:aws:s3:::b/k"), Verdict::Allow);
    }

    #[test]
    fn malformed_policies_are_refused_with_a_reason() {
        assert!(Policy::parse("not json", "b").is_err());
        assert!(Policy::parse(r#"{"Statement":[]}"#, "b").is_err());
        let other_bucket =
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#;
        assert!(Policy::parse(other_bucket, "b").unwrap_err().contains("resource"));
    }
}
