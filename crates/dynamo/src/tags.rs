//! Tag rules (CreateTable `Tags`, TagResource): key 1 to 128 characters,
//! value up to 256, both from letters, numbers, white space and `_ . : / = + - @`,
//! keys not starting with the reserved `aws:`, and at most 50 tags on a table.
//! Constraint violations use the AWS validation wording
//! (`Value '…' at 'tags.N.member.key' failed to satisfy constraint: …`).

use crate::api_error::{DynamoError, DynamoResult};
use crate::table::Tag;

/// Most tags a table may carry.
pub const MAX_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;
const KEY_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+";
const VALUE_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*";

fn allowed(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

fn constraint(value: &str, at: &str, rule: &str) -> DynamoError {
    DynamoError::validation(format!(
        "1 validation error detected: Value '{value}' at '{at}' failed to satisfy constraint: Member must {rule}"
    ))
}

/// Checks the tags of one request (positions count from 1, as in AWS messages).
pub fn check_tags(tags: &[Tag]) -> DynamoResult<()> {
    for (position, tag) in tags.iter().enumerate() {
        let key_at = format!("tags.{}.member.key", position + 1);
        let value_at = format!("tags.{}.member.value", position + 1);
        let key_chars = tag.key.chars().count();
        if key_chars == 0 {
            return Err(constraint(&tag.key, &key_at, "have length greater than or equal to 1"));
        }
        if key_chars > MAX_KEY_CHARS {
            return Err(constraint(&tag.key, &key_at, "have length less than or equal to 128"));
        }
        if !tag.key.chars().all(allowed) {
            return Err(constraint(
                &tag.key,
                &key_at,
                &format!("satisfy regular expression pattern: {KEY_PATTERN}"),
            ));
        }
        if tag.value.chars().count() > MAX_VALUE_CHARS {
            return Err(constraint(&tag.value, &value_at, "have length less than or equal to 256"));
        }
        if !tag.value.chars().all(allowed) {
            return Err(constraint(
                &tag.value,
                &value_at,
                &format!("satisfy regular expression pattern: {VALUE_PATTERN}"),
            ));
        }
        if tag.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(DynamoError::validation(format!(
                "One or more parameter values were invalid: Tag key '{}' uses the prefix aws:, which is reserved for AWS use",
                tag.key
            )));
        }
        if tags[..position].iter().any(|earlier| earlier.key == tag.key) {
            return Err(DynamoError::validation(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    Ok(())
}

/// Checks how many tags a table would carry after a change.
pub fn check_count(count: usize) -> DynamoResult<()> {
    if count > MAX_TAGS {
        return Err(DynamoError::validation(format!(
            "One or more parameter values were invalid: Too many tags: the resource would have {count}, the limit is {MAX_TAGS}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: &str, value: &str) -> Tag {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }

    fn message(tags: &[Tag]) -> String {
        check_tags(tags).unwrap_err().message
    }

    #[test]
    fn keys_and_values_at_their_length_limits_are_accepted() {
        assert!(check_tags(&[tag(&"k".repeat(128), &"v".repeat(256)), tag("a b_.:/=+-@1", "")]).is_ok());
        assert!(check_count(MAX_TAGS).is_ok());
        assert!(check_count(MAX_TAGS + 1).is_err());
    }

    #[test]
    fn rule_breaking_tags_name_their_position() {
        assert_eq!(
            message(&[tag("ok", "x"), tag(&"k".repeat(129), "x")]),
            format!(
                "1 validation error detected: Value '{}' at 'tags.2.member.key' failed to satisfy constraint: Member must have length less than or equal to 128",
                "k".repeat(129)
            )
        );
        assert!(
            message(&[tag("k", &"v".repeat(257))])
                .contains("'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256")
        );
        assert!(message(&[tag("bad#key", "v")]).contains("Member must satisfy regular expression pattern"));
        assert!(message(&[tag("", "v")]).contains("greater than or equal to 1"));
        assert!(message(&[tag("AWS:x", "v")]).contains("reserved"));
        assert!(message(&[tag("a", "1"), tag("a", "2")]).starts_with("Duplicate tag keys"));
    }
}
