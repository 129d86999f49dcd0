//! The request context a policy is evaluated against: condition keys and
//! their values (`aws:SourceIp`, `s3:prefix`, ...). Key names are
//! case-insensitive, as in IAM; the part after a `/` (a tag key, as in
//! `s3:ExistingObjectTag/<key>`) keeps its case.

/// Condition keys of one request. A key may have several values
/// (`s3:RequestObjectTagKeys`); most have one.
#[derive(Debug, Clone, Default)]
pub struct Context {
    keys: Vec<(String, Vec<String>)>,
}

/// The lookup form of a key name: the prefix before any `/` lowercased.
fn normal(key: &str) -> String {
    match key.split_once('/') {
        Some((prefix, rest)) => format!("{}/{rest}", prefix.to_ascii_lowercase()),
        None => key.to_ascii_lowercase(),
    }
}

impl Context {
    /// Sets a single-valued key (replacing any value it had).
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.set_all(key, vec![value.into()]);
    }

    /// Sets a key to a set of values; an empty set is the same as no key.
    pub fn set_all(&mut self, key: &str, values: Vec<String>) {
        let key = normal(key);
        self.keys.retain(|(k, _)| *k != key);
        if !values.is_empty() {
            self.keys.push((key, values));
        }
    }

    /// The values of a key, if the request has it.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        let key = normal(key);
        self.keys.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_but_tag_keys_do_not() {
        let mut cx = Context::default();
        cx.set("aws:SourceIp", "10.0.0.1");
        cx.set("s3:ExistingObjectTag/Team", "blue");
        assert_eq!(cx.get("AWS:sourceip"), Some(&["10.0.0.1".to_string()][..]));
        assert!(cx.get("S3:existingobjecttag/Team").is_some());
        assert!(cx.get("s3:ExistingObjectTag/team").is_none());
        cx.set_all("s3:RequestObjectTagKeys", vec![]);
        assert!(cx.get("s3:RequestObjectTagKeys").is_none());
    }
}
