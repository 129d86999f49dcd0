//! ListUsers' `Filter`: `attribute = "value"` (exact) or `attribute ^= "value"`
//! (prefix), on the attributes Cognito allows filtering by.

use crate::error::{CognitoError, CognitoResult};
use crate::record::UserRecord;

/// Attributes a filter may name.
const FILTERABLE: [&str; 11] = [
    "username",
    "email",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "preferred_username",
    "cognito:user_status",
    "status",
    "sub",
    "email_verified",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    attribute: String,
    value: String,
    prefix: bool,
}

impl Filter {
    pub fn parse(text: &str) -> CognitoResult<Filter> {
        let bad = || {
            CognitoError::invalid(format!(
                "Invalid filter expression {text:?}: use attribute = \"value\" or attribute ^= \"value\""
            ))
        };
        let (attribute, rest, prefix) = match (text.find("^="), text.find('=')) {
            (Some(i), _) => (&text[..i], &text[i + 2..], true),
            (None, Some(i)) => (&text[..i], &text[i + 1..], false),
            (None, None) => return Err(bad()),
        };
        let attribute = attribute.trim();
        let value = rest.trim().strip_prefix('"').and_then(|v| v.strip_suffix('"')).ok_or_else(bad)?;
        if !FILTERABLE.contains(&attribute) {
            return Err(CognitoError::invalid(format!("Invalid search attribute: {attribute}")));
        }
        Ok(Filter {
            attribute: attribute.to_string(),
            value: value.to_string(),
            prefix,
        })
    }

    pub fn matches(&self, user: &UserRecord) -> bool {
        let enabled = if user.enabled { "Enabled" } else { "Disabled" };
        let actual = match self.attribute.as_str() {
            "username" => Some(user.username.as_str()),
            "sub" => Some(user.sub.as_str()),
            "cognito:user_status" => Some(user.status.as_str()),
            "status" => Some(enabled),
            other => user.attributes.get(other).map(String::as_str),
        };
        actual.is_some_and(|a| match self.prefix {
            true => a.starts_with(&self.value),
            false => a == self.value,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_exact_and_prefix_forms_and_refuse_others() {
        let f = Filter::parse("email ^= \"al\"").unwrap();
        assert!(f.prefix && f.attribute == "email" && f.value == "al");
        assert!(!Filter::parse("username = \"bob\"").unwrap().prefix);
        assert!(Filter::parse("email ~ \"x\"").is_err());
        assert!(Filter::parse("custom:team = \"x\"").unwrap_err().message.contains("custom:team"));
    }
}
