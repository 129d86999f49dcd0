//! Which replication rule of a bucket selects an object version, as S3 decides
//! it: among the enabled rules whose filter (prefix, tags, both) matches, the
//! one with the highest priority; delete markers only when that rule replicates
//! them. Used when a version is written (to mark it PENDING) and when it ships.

use crate::records::{ReplicationConfig, ReplicationFilter, ReplicationRule};

impl ReplicationFilter {
    /// Whether an object with this key and these tags passes the filter.
    pub fn matches(&self, key: &str, tags: &[(String, String)]) -> bool {
        self.prefix.as_deref().is_none_or(|p| key.starts_with(p)) && self.tags.iter().all(|t| tags.contains(t))
    }
}

impl ReplicationRule {
    /// The destination bucket's name (the ARN is `arn:aws:s3:::NAME`).
    pub fn destination_name(&self) -> &str {
        self.destination_bucket
            .strip_prefix("arn:aws:s3:::")
            .unwrap_or(&self.destination_bucket)
    }

    /// Whether delete markers follow this rule. Rules written in the old
    /// rule-level `Prefix` syntax always replicate them, as in S3.
    pub fn ships_delete_markers(&self) -> bool {
        self.delete_marker_replication || self.legacy_prefix
    }
}

impl ReplicationConfig {
    /// The rule that governs a version with this key and these tags, if any.
    pub fn rule_for(&self, key: &str, tags: &[(String, String)], delete_marker: bool) -> Option<&ReplicationRule> {
        let best = self
            .rules
            .iter()
            .filter(|r| r.enabled && r.filter.matches(key, tags))
            .max_by_key(|r| r.priority.unwrap_or(0))?;
        (!delete_marker || best.ships_delete_markers()).then_some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(prefix: Option<&str>, tags: &[(&str, &str)], priority: i32, dest: &str) -> ReplicationRule {
        ReplicationRule {
            priority: Some(priority),
            enabled: true,
            filter: ReplicationFilter {
                prefix: prefix.map(str::to_string),
                tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                and: false,
            },
            destination_bucket: format!("arn:aws:s3:::{dest}"),
            ..Default::default()
        }
    }

    #[test]
    fn highest_priority_matching_rule_wins() {
        let config = ReplicationConfig {
            role: String::new(),
            rules: vec![rule(Some("logs/"), &[], 1, "low"), rule(Some("logs/app"), &[], 5, "high")],
        };
        let tags = [];
        assert_eq!(config.rule_for("logs/app/1", &tags, false).unwrap().destination_name(), "high");
        assert_eq!(config.rule_for("logs/web/1", &tags, false).unwrap().destination_name(), "low");
        assert!(config.rule_for("other", &tags, false).is_none());
    }

    #[test]
    fn tags_must_all_match_and_disabled_rules_never_do() {
        let mut tagged = rule(None, &[("team", "a"), ("tier", "1")], 1, "d");
        let config = ReplicationConfig {
            role: String::new(),
            rules: vec![tagged.clone()],
        };
        let one = [("team".to_string(), "a".to_string())];
        let both = [one[0].clone(), ("tier".to_string(), "1".to_string())];
        assert!(config.rule_for("k", &one, false).is_none());
        assert!(config.rule_for("k", &both, false).is_some());
        tagged.enabled = false;
        let config = ReplicationConfig {
            role: String::new(),
            rules: vec![tagged],
        };
        assert!(config.rule_for("k", &both, false).is_none());
    }

    #[test]
    fn delete_markers_follow_only_rules_that_say_so() {
        let mut r = rule(None, &[], 1, "d");
        let config = ReplicationConfig {
            role: String::new(),
            rules: vec![r.clone()],
        };
        assert!(config.rule_for("k", &[], true).is_none());
        r.delete_marker_replication = true;
        let config = ReplicationConfig {
            role: String::new(),
            rules: vec![r],
        };
        assert!(config.rule_for("k", &[], true).is_some());
    }
}
