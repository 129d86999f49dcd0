//! IAM's string patterns: `*` and `?` wildcards (actions, resources,
//! `StringLike`, ARNs) and policy variables (`${aws:username}`), which are
//! replaced by request values before a pattern is matched.

use crate::context::Context;

/// Glob match with `*` (any run, empty included) and `?` (any one character).
/// A `*` in the pattern is always a wildcard, even against a literal `*` in
/// the value.
pub fn wildcard(pattern: &str, value: &str) -> bool {
    let (p, v) = (pattern.as_bytes(), value.as_bytes());
    // Byte-wise is exact for UTF-8 except that `?` must eat a whole character.
    let char_len = |i: usize| utf8_len(v[i]);
    let (mut pi, mut vi, mut star, mut mark) = (0usize, 0usize, None, 0usize);
    while vi < v.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = vi;
            pi += 1;
        } else if pi < p.len() && p[pi] == b'?' {
            pi += 1;
            vi += char_len(vi);
        } else if pi < p.len() && p[pi] == v[vi] {
            pi += 1;
            vi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += char_len(mark);
            vi = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// [`wildcard`] ignoring ASCII case (IAM action names are case-insensitive).
pub fn wildcard_ignore_case(pattern: &str, value: &str) -> bool {
    wildcard(&pattern.to_ascii_lowercase(), &value.to_ascii_lowercase())
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

/// Whether a pattern uses policy variables at all (so it can be matched as is).
pub fn has_variables(pattern: &str) -> bool {
    pattern.contains("${")
}

/// Replaces the policy variables of `pattern` with values from `context`.
/// `${*}`, `${?}` and `${$}` stand for the literal characters. `None` when a
/// variable names a key the request does not have (or has several values
/// for): the pattern then matches nothing, as in IAM. An unterminated `${` is
/// kept literally.
pub fn substitute(pattern: &str, context: &Context) -> Option<String> {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Some(out);
        };
        let name = after[..end].trim();
        match name {
            "*" | "?" | "$" => out.push_str(name),
            key => match context.get(key) {
                Some([one]) => out.push_str(one),
                _ => return None,
            },
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// The variable names a pattern refers to (for validation at parse time).
pub fn variables(pattern: &str) -> impl Iterator<Item = &str> {
    pattern
        .split("${")
        .skip(1)
        .filter_map(|s| s.split_once('}'))
        .map(|(name, _)| name.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_iam() {
        assert!(wildcard("s3:Get*", "s3:GetObject"));
        assert!(wildcard("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/y"));
        assert!(!wildcard("arn:aws:s3:::b/*", "arn:aws:s3:::c/x"));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("a?c", "abbc"));
        assert!(wildcard("a?c", "aéc"), "? is one character, not one byte");
        assert!(wildcard("*", ""));
        assert!(!wildcard("", "x"));
    }

    #[test]
    fn a_star_in_the_value_does_not_escape_a_wildcard() {
        assert!(wildcard("*", "*x"));
        assert!(wildcard("arn:aws:s3:::b/*", "arn:aws:s3:::b/*secret"));
        assert!(wildcard("a*c", "a*bc"));
    }

    #[test]
    fn actions_ignore_case() {
        assert!(wildcard_ignore_case("s3:getobject", "s3:GetObject"));
        assert!(wildcard_ignore_case("DynamoDB:Get*", "dynamodb:GetItem"));
    }

    #[test]
    fn variables_are_replaced_or_the_pattern_matches_nothing() {
        let mut cx = Context::default();
        cx.set("aws:username", "alice");
        assert_eq!(
            substitute("arn:aws:s3:::b/home/${aws:username}/*", &cx).as_deref(),
            Some("arn:aws:s3:::b/home/alice/*")
        );
        assert_eq!(substitute("a${*}b${?}${$}", &cx).as_deref(), Some("a*b?$"));
        assert_eq!(substitute("x/${aws:userid}", &cx), None);
        assert_eq!(substitute("x/${unterminated", &cx).as_deref(), Some("x/${unterminated"));
        assert_eq!(
            variables("a${aws:username}b${ s3:prefix }").collect::<Vec<_>>(),
            ["aws:username", "s3:prefix"]
        );
    }
}
