//! Policy `Condition` blocks: the operator families (String*, Numeric*,
//! Date*, Bool, IpAddress, Arn*, Null), their `...IfExists` forms and the
//! `ForAnyValue:` / `ForAllValues:` set qualifiers, parsed once and evaluated
//! against a request [`Context`].
//!
//! Semantics, as IAM documents them: every operator of a block and every key
//! of an operator must hold (AND); a key's policy values are alternatives
//! (OR). A key missing from the request makes a positive operator false and a
//! negated one (`StringNotEquals`, `NotIpAddress`, ...) true; `IfExists` makes
//! any operator true on a missing key; `ForAllValues` is true on a missing key,
//! `ForAnyValue` false.

use std::net::IpAddr;

use serde_json::Value;
use time::OffsetDateTime;

use crate::context::Context;
use crate::pattern::{self, wildcard};

/// How values compare, before negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    String { ignore_case: bool },
    StringLike,
    Numeric(Cmp),
    Date(Cmp),
    Bool,
    Ip,
    Arn,
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    Single,
    ForAnyValue,
    ForAllValues,
}

/// One operator applied to one key with its policy values.
#[derive(Debug, Clone)]
pub struct Condition {
    family: Family,
    negated: bool,
    if_exists: bool,
    qualifier: Qualifier,
    key: String,
    values: Vec<String>,
}

/// Parses an operator name such as `ForAllValues:StringNotLikeIfExists`.
fn operator(name: &str) -> Option<(Family, bool, bool, Qualifier)> {
    let (qualifier, rest) = match name.split_once(':') {
        Some(("ForAnyValue", rest)) => (Qualifier::ForAnyValue, rest),
        Some(("ForAllValues", rest)) => (Qualifier::ForAllValues, rest),
        Some(_) => return None,
        None => (Qualifier::Single, name),
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    use Cmp::*;
    use Family::*;
    let (family, negated) = match base {
        "StringEquals" => (String { ignore_case: false }, false),
        "StringNotEquals" => (String { ignore_case: false }, true),
        "StringEqualsIgnoreCase" => (String { ignore_case: true }, false),
        "StringNotEqualsIgnoreCase" => (String { ignore_case: true }, true),
        "StringLike" => (StringLike, false),
        "StringNotLike" => (StringLike, true),
        "NumericEquals" => (Numeric(Eq), false),
        "NumericNotEquals" => (Numeric(Eq), true),
        "NumericLessThan" => (Numeric(Lt), false),
        "NumericLessThanEquals" => (Numeric(Le), false),
        "NumericGreaterThan" => (Numeric(Gt), false),
        "NumericGreaterThanEquals" => (Numeric(Ge), false),
        "DateEquals" => (Date(Eq), false),
        "DateNotEquals" => (Date(Eq), true),
        "DateLessThan" => (Date(Lt), false),
        "DateLessThanEquals" => (Date(Le), false),
        "DateGreaterThan" => (Date(Gt), false),
        "DateGreaterThanEquals" => (Date(Ge), false),
        "Bool" => (Bool, false),
        "IpAddress" => (Ip, false),
        "NotIpAddress" => (Ip, true),
        "ArnEquals" | "ArnLike" => (Arn, false),
        "ArnNotEquals" | "ArnNotLike" => (Arn, true),
        "Null" if !if_exists => (Null, false),
        _ => return None,
    };
    Some((family, negated, if_exists, qualifier))
}

/// The policy values of one key: a string, number or boolean, or a list of them.
fn policy_values(v: &Value) -> Result<Vec<String>, String> {
    let one = |v: &Value| match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err("condition values must be strings, numbers or booleans".to_string()),
    };
    match v {
        Value::Array(a) if a.is_empty() => Err("a condition key needs at least one value".into()),
        Value::Array(a) => a.iter().map(one).collect(),
        v => Ok(vec![one(v)?]),
    }
}

/// Parses a `Condition` element. `known_key` says which condition keys the
/// API can supply; any other key is refused, naming it, rather than ignored.
pub fn parse_block(block: &Value, known_key: &dyn Fn(&str) -> bool) -> Result<Vec<Condition>, String> {
    let Value::Object(ops) = block else {
        return Err("Condition must be an object of operators".into());
    };
    let mut out = Vec::new();
    for (name, keys) in ops {
        let (family, negated, if_exists, qualifier) = operator(name).ok_or_else(|| format!("Invalid Condition type : {name}"))?;
        let Value::Object(keys) = keys else {
            return Err(format!("Condition operator {name} must map condition keys to values"));
        };
        for (key, values) in keys {
            if !known_key(key) {
                return Err(format!("Policy has an invalid condition key: {key}"));
            }
            if let Some(var) = pattern::variables(key).next() {
                return Err(format!("a condition key cannot contain a policy variable (${{{var}}})"));
            }
            let values = policy_values(values)?;
            for v in &values {
                check_value(family, v).map_err(|why| format!("{name} on {key}: {why}"))?;
            }
            out.push(Condition {
                family,
                negated,
                if_exists,
                qualifier,
                key: key.clone(),
                values,
            });
        }
    }
    Ok(out)
}

/// Refuses policy values an operator can never compare (caught at write time).
fn check_value(family: Family, v: &str) -> Result<(), String> {
    let ok = match family {
        Family::Numeric(_) => v.parse::<f64>().is_ok(),
        Family::Date(_) => pattern::has_variables(v) || parse_date(v).is_some(),
        Family::Bool | Family::Null => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
        Family::Ip => parse_cidr(v).is_some(),
        _ => true,
    };
    if ok { Ok(()) } else { Err(format!("invalid value {v:?}")) }
}

impl Condition {
    /// The condition key it reads.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether the condition holds for the request.
    pub fn holds(&self, cx: &Context) -> bool {
        let present = cx.get(&self.key);
        if self.family == Family::Null {
            let want_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return present.is_none() == want_absent;
        }
        let Some(values) = present else {
            return match (self.if_exists, self.qualifier) {
                (true, _) | (_, Qualifier::ForAllValues) => true,
                (_, Qualifier::ForAnyValue) => false,
                (false, Qualifier::Single) => self.negated,
            };
        };
        // Policy values with variables, resolved once for this request.
        let wanted: Vec<String> = self.values.iter().filter_map(|p| pattern::substitute(p, cx)).collect();
        let hit = |v: &String| wanted.iter().any(|p| self.compare(v, p));
        match (self.qualifier, self.negated) {
            (Qualifier::Single, false) | (Qualifier::ForAnyValue, false) => values.iter().any(hit),
            (Qualifier::Single, true) => !values.iter().any(hit),
            (Qualifier::ForAnyValue, true) => values.iter().any(|v| !hit(v)),
            (Qualifier::ForAllValues, false) => values.iter().all(hit),
            (Qualifier::ForAllValues, true) => values.iter().all(|v| !hit(v)),
        }
    }

    /// The positive comparison of one request value with one policy value.
    fn compare(&self, actual: &str, wanted: &str) -> bool {
        match self.family {
            Family::String { ignore_case: false } => actual == wanted,
            Family::String { ignore_case: true } => actual.to_lowercase() == wanted.to_lowercase(),
            Family::StringLike => wildcard(wanted, actual),
            Family::Numeric(cmp) => match (actual.parse::<f64>(), wanted.parse::<f64>()) {
                (Ok(a), Ok(w)) => ordered(cmp, a.partial_cmp(&w)),
                _ => false,
            },
            Family::Date(cmp) => match (parse_date(actual), parse_date(wanted)) {
                (Some(a), Some(w)) => ordered(cmp, Some(a.cmp(&w))),
                _ => false,
            },
            Family::Bool => actual.eq_ignore_ascii_case(wanted),
            Family::Ip => match (actual.parse::<IpAddr>(), parse_cidr(wanted)) {
                (Ok(ip), Some(net)) => net.contains(ip),
                _ => false,
            },
            Family::Arn => arn_like(wanted, actual),
            Family::Null => false,
        }
    }
}

fn ordered(cmp: Cmp, ord: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    matches!(
        (cmp, ord),
        (Cmp::Eq, Some(Equal))
            | (Cmp::Lt, Some(Less))
            | (Cmp::Le, Some(Less | Equal))
            | (Cmp::Gt, Some(Greater))
            | (Cmp::Ge, Some(Greater | Equal))
    )
}

/// An ISO 8601 timestamp (`2026-01-02T03:04:05Z`, with or without seconds
/// fractions or an offset), a date (`2026-01-02`), or epoch seconds; as
/// nanoseconds since the epoch.
pub fn parse_date(s: &str) -> Option<i128> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.unix_timestamp_nanos());
    }
    if let Ok(secs) = s.parse::<i64>() {
        return OffsetDateTime::from_unix_timestamp(secs).ok().map(|t| t.unix_timestamp_nanos());
    }
    let date = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp_nanos())
}

/// An address block: an address and how many leading bits must match.
#[derive(Debug, Clone, Copy)]
struct Cidr {
    addr: IpAddr,
    bits: u32,
}

fn parse_cidr(s: &str) -> Option<Cidr> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) => (a.parse::<IpAddr>().ok()?, Some(b.parse::<u32>().ok()?)),
        None => (s.parse::<IpAddr>().ok()?, None),
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some(Cidr { addr, bits })
}

impl Cidr {
    fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            _ => ip,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(u128::from(u32::from(net)) << 96, u128::from(u32::from(ip)) << 96, self.bits),
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_eq(u128::from(net), u128::from(ip), self.bits),
            _ => false,
        }
    }
}

fn prefix_eq(a: u128, b: u128, bits: u32) -> bool {
    if bits == 0 {
        return true;
    }
    let mask = u128::MAX << (128 - bits);
    a & mask == b & mask
}

/// ARN match, component by component (`arn:partition:service:region:account:resource`),
/// each with wildcards. `ArnEquals` and `ArnLike` behave the same in IAM.
fn arn_like(pattern: &str, arn: &str) -> bool {
    let p: Vec<&str> = pattern.splitn(6, ':').collect();
    let a: Vec<&str> = arn.splitn(6, ':').collect();
    p.len() == 6 && a.len() == 6 && p.iter().zip(&a).all(|(p, a)| wildcard(p, a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn holds(block: Value, cx: &Context) -> bool {
        parse_block(&block, &|_| true).unwrap().iter().all(|c| c.holds(cx))
    }

    fn cx(pairs: &[(&str, &str)]) -> Context {
        let mut cx = Context::default();
        for (k, v) in pairs {
            cx.set(k, *v);
        }
        cx
    }

    #[test]
    fn strings_and_their_negations() {
        let c = cx(&[("s3:prefix", "home/alice/")]);
        assert!(holds(json!({"StringEquals": {"s3:prefix": ["x", "home/alice/"]}}), &c));
        assert!(!holds(json!({"StringNotEquals": {"s3:prefix": "home/alice/"}}), &c));
        assert!(holds(json!({"StringEqualsIgnoreCase": {"s3:prefix": "HOME/Alice/"}}), &c));
        assert!(holds(json!({"StringLike": {"s3:prefix": "home/*"}}), &c));
        assert!(!holds(json!({"StringNotLike": {"s3:prefix": "home/*"}}), &c));
    }

    #[test]
    fn missing_keys_follow_iam() {
        let empty = Context::default();
        assert!(!holds(json!({"StringEquals": {"s3:prefix": "a"}}), &empty));
        assert!(holds(json!({"StringNotEquals": {"s3:prefix": "a"}}), &empty));
        assert!(holds(json!({"StringEqualsIfExists": {"s3:prefix": "a"}}), &empty));
        assert!(holds(
            json!({"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": "a"}}),
            &empty
        ));
        assert!(!holds(
            json!({"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": "a"}}),
            &empty
        ));
        assert!(holds(json!({"Null": {"s3:x-amz-acl": "true"}}), &empty));
        assert!(!holds(json!({"Null": {"s3:x-amz-acl": "false"}}), &empty));
    }

    #[test]
    fn set_qualifiers() {
        let mut c = Context::default();
        c.set_all("s3:RequestObjectTagKeys", vec!["team".into(), "cost".into()]);
        assert!(holds(
            json!({"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["team", "cost", "x"]}}),
            &c
        ));
        assert!(!holds(
            json!({"ForAllValues:StringEquals": {"s3:RequestObjectTagKeys": ["team"]}}),
            &c
        ));
        assert!(holds(
            json!({"ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["team"]}}),
            &c
        ));
        assert!(holds(
            json!({"ForAnyValue:StringNotEquals": {"s3:RequestObjectTagKeys": ["team"]}}),
            &c
        ));
        assert!(!holds(
            json!({"ForAllValues:StringNotEquals": {"s3:RequestObjectTagKeys": ["team"]}}),
            &c
        ));
    }

    #[test]
    fn numbers_dates_bools() {
        let c = cx(&[
            ("s3:max-keys", "10"),
            ("aws:CurrentTime", "2026-06-01T12:00:00Z"),
            ("aws:SecureTransport", "false"),
        ]);
        assert!(holds(json!({"NumericLessThanEquals": {"s3:max-keys": 10}}), &c));
        assert!(!holds(json!({"NumericLessThan": {"s3:max-keys": "10"}}), &c));
        assert!(holds(json!({"NumericNotEquals": {"s3:max-keys": 11}}), &c));
        assert!(holds(json!({"DateGreaterThan": {"aws:CurrentTime": "2026-01-01"}}), &c));
        assert!(holds(json!({"DateLessThan": {"aws:CurrentTime": "2026-06-01T12:00:01Z"}}), &c));
        assert!(holds(json!({"Bool": {"aws:SecureTransport": false}}), &c));
        assert!(!holds(json!({"Bool": {"aws:SecureTransport": "true"}}), &c));
        let not_a_number = cx(&[("s3:max-keys", "ten")]);
        assert!(!holds(json!({"NumericEquals": {"s3:max-keys": 10}}), &not_a_number));
    }

    #[test]
    fn addresses_and_arns() {
        let c = cx(&[
            ("aws:SourceIp", "192.168.1.7"),
            ("aws:PrincipalArn", "arn:aws:iam::000000000000:user/alice"),
        ]);
        assert!(holds(json!({"IpAddress": {"aws:SourceIp": "192.168.0.0/16"}}), &c));
        assert!(!holds(json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}), &c));
        assert!(holds(json!({"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "::1/128"]}}), &c));
        let v6 = cx(&[("aws:SourceIp", "::ffff:192.168.1.7")]);
        assert!(holds(json!({"IpAddress": {"aws:SourceIp": "192.168.1.0/24"}}), &v6));
        assert!(holds(json!({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:user/al*"}}), &c));
        assert!(!holds(json!({"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::*:user/bob"}}), &c));
        assert!(holds(json!({"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}}), &c));
    }

    #[test]
    fn policy_variables_in_values() {
        let c = cx(&[("aws:username", "alice"), ("s3:prefix", "home/alice/")]);
        assert!(holds(json!({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}), &c));
        let other = cx(&[("aws:username", "bob"), ("s3:prefix", "home/alice/")]);
        assert!(!holds(json!({"StringLike": {"s3:prefix": "home/${aws:username}/*"}}), &other));
    }

    #[test]
    fn bad_operators_keys_and_values_are_refused_with_their_name() {
        let known = |k: &str| k == "s3:prefix";
        let e = parse_block(&json!({"StringSoundsLike": {"s3:prefix": "a"}}), &known).unwrap_err();
        assert!(e.contains("StringSoundsLike"), "{e}");
        let e = parse_block(&json!({"StringEquals": {"s3:nonsense": "a"}}), &known).unwrap_err();
        assert!(e.contains("s3:nonsense"), "{e}");
        assert!(parse_block(&json!({"NumericEquals": {"s3:prefix": "ten"}}), &known).is_err());
        assert!(parse_block(&json!({"IpAddress": {"s3:prefix": "10.0.0.0/33"}}), &known).is_err());
        assert!(parse_block(&json!({"NullIfExists": {"s3:prefix": "true"}}), &known).is_err());
        assert!(parse_block(&json!({"StringEquals": {"s3:prefix": []}}), &known).is_err());
    }
}
