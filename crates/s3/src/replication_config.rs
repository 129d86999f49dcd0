//! Put/Get/DeleteBucketReplication: S3's `ReplicationConfiguration` XML validated
//! (versioning enabled, destination buckets known to the deployment) and stored
//! per bucket. `tandem-replication` reads it back from the bucket record.

use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use tandem_store::{ReplicationConfig, ReplicationFilter, ReplicationRule as Rule, Versioning};

use crate::S3Api;
use crate::error::OrS3;

const ENABLED: &str = "Enabled";
const DISABLED: &str = "Disabled";

impl S3Api {
    pub(crate) async fn op_put_bucket_replication(
        &self,
        req: S3Request<PutBucketReplicationInput>,
    ) -> S3Result<S3Response<PutBucketReplicationOutput>> {
        let record = self.bucket(&req.input.bucket)?;
        if record.versioning != Versioning::Enabled {
            return Err(s3_error!(
                InvalidRequest,
                "Versioning must be 'Enabled' on the bucket to apply a replication configuration"
            ));
        }
        let config = config_from_dto(&req.input.replication_configuration)?;
        let read = self.store.read().or_s3()?;
        for rule in &config.rules {
            let dest = rule.destination_name();
            if read.registry(dest).or_s3()?.is_none() {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidRequest,
                    format!("Destination bucket must exist: no region holds a bucket named {dest} (create it, versioned, first)"),
                ));
            }
        }
        self.store
            .update_client_bucket(&record.name, move |b| {
                b.replication = Some(config);
                Ok(())
            })
            .await
            .or_s3()?;
        Ok(S3Response::new(PutBucketReplicationOutput {}))
    }

    pub(crate) async fn op_get_bucket_replication(
        &self,
        req: S3Request<GetBucketReplicationInput>,
    ) -> S3Result<S3Response<GetBucketReplicationOutput>> {
        let record = self.bucket(&req.input.bucket)?;
        let config = record
            .replication
            .ok_or_else(|| s3_error!(ReplicationConfigurationNotFoundError, "The replication configuration was not found"))?;
        Ok(S3Response::new(GetBucketReplicationOutput {
            replication_configuration: Some(config_to_dto(&config)),
        }))
    }

    pub(crate) async fn op_delete_bucket_replication(
        &self,
        req: S3Request<DeleteBucketReplicationInput>,
    ) -> S3Result<S3Response<DeleteBucketReplicationOutput>> {
        self.store
            .update_client_bucket(&req.input.bucket, |b| {
                b.replication = None;
                Ok(())
            })
            .await
            .or_s3()?;
        Ok(S3Response::new(DeleteBucketReplicationOutput {}))
    }
}

fn enabled(status: Option<&str>, field: &str) -> S3Result<bool> {
    match status {
        Some(ENABLED) => Ok(true),
        Some(DISABLED) | None => Ok(false),
        Some(other) => Err(s3_error!(MalformedXML, "{field} must be Enabled or Disabled, not {other}")),
    }
}

/// Validates a configuration as S3 does and converts it to the stored form.
pub fn config_from_dto(c: &ReplicationConfiguration) -> S3Result<ReplicationConfig> {
    if c.rules.is_empty() || c.rules.len() > 1000 {
        return Err(s3_error!(MalformedXML, "A replication configuration needs 1 to 1000 rules"));
    }
    let rules = c.rules.iter().map(rule_from_dto).collect::<S3Result<Vec<_>>>()?;
    let uses_filter = rules.iter().map(|r| !r.legacy_prefix).collect::<Vec<_>>();
    if uses_filter.iter().any(|&f| f) && uses_filter.iter().any(|&f| !f) {
        return Err(s3_error!(
            InvalidRequest,
            "Rules must all use Filter or all use the rule-level Prefix"
        ));
    }
    for (i, r) in rules.iter().enumerate() {
        if let Some(id) = &r.id
            && rules[..i].iter().any(|o| o.id.as_ref() == Some(id))
        {
            return Err(s3_error!(
                InvalidRequest,
                "Rule ID must be unique. Found same ID for more than one rule: {id}"
            ));
        }
        if !r.legacy_prefix
            && let Some(p) = r.priority
            && rules[..i].iter().any(|o| o.priority == Some(p))
        {
            return Err(s3_error!(
                InvalidRequest,
                "Found duplicate priority {p} in the replication configuration"
            ));
        }
    }
    Ok(ReplicationConfig {
        role: c.role.clone(),
        rules,
    })
}

fn rule_from_dto(r: &ReplicationRule) -> S3Result<Rule> {
    let enabled_rule = enabled(Some(r.status.as_str()), "Status")?;
    let dest = &r.destination.bucket;
    if !dest.starts_with("arn:aws:s3:::") || dest.len() <= "arn:aws:s3:::".len() {
        return Err(s3_error!(InvalidArgument, "Invalid destination bucket ARN: {dest}"));
    }
    let (filter, legacy_prefix) = match (&r.filter, &r.prefix) {
        (Some(f), None) => (filter_from_dto(f)?, false),
        (None, Some(p)) => (
            ReplicationFilter {
                prefix: Some(p.clone()),
                tags: vec![],
                and: false,
            },
            true,
        ),
        (None, None) => return Err(s3_error!(MalformedXML, "A rule needs a Filter (or a rule-level Prefix)")),
        (Some(_), Some(_)) => return Err(s3_error!(MalformedXML, "A rule cannot have both Filter and Prefix")),
    };
    let delete_marker_replication = enabled(
        r.delete_marker_replication
            .as_ref()
            .and_then(|d| d.status.as_ref())
            .map(|s| s.as_str()),
        "DeleteMarkerReplication",
    )?;
    if !legacy_prefix && r.delete_marker_replication.is_none() {
        return Err(s3_error!(
            InvalidRequest,
            "DeleteMarkerReplication must be specified for this version of Cross Region Replication configuration schema"
        ));
    }
    if delete_marker_replication && !filter.tags.is_empty() {
        return Err(s3_error!(
            InvalidRequest,
            "Delete marker replication is not supported if any Tag filter is specified"
        ));
    }
    Ok(Rule {
        id: r.id.clone(),
        priority: r.priority,
        enabled: enabled_rule,
        filter,
        destination_bucket: dest.clone(),
        destination_storage_class: r.destination.storage_class.as_ref().map(|s| s.as_str().to_string()),
        delete_marker_replication,
        existing_object_replication: enabled(
            r.existing_object_replication.as_ref().map(|e| e.status.as_str()),
            "ExistingObjectReplication",
        )?,
        replica_modifications: enabled(
            r.source_selection_criteria
                .as_ref()
                .and_then(|s| s.replica_modifications.as_ref())
                .map(|m| m.status.as_str()),
            "ReplicaModifications",
        )?,
        legacy_prefix,
    })
}

fn filter_from_dto(f: &ReplicationRuleFilter) -> S3Result<ReplicationFilter> {
    let tag = |t: &Tag| -> S3Result<(String, String)> {
        match (&t.key, &t.value) {
            (Some(k), Some(v)) => Ok((k.clone(), v.clone())),
            _ => Err(s3_error!(MalformedXML, "A Tag needs a Key and a Value")),
        }
    };
    match (&f.and, &f.prefix, &f.tag) {
        (Some(and), None, None) => Ok(ReplicationFilter {
            prefix: and.prefix.clone(),
            tags: and.tags.iter().flatten().map(tag).collect::<S3Result<_>>()?,
            and: true,
        }),
        (None, prefix, None) => Ok(ReplicationFilter {
            prefix: prefix.clone(),
            tags: vec![],
            and: false,
        }),
        (None, None, Some(t)) => Ok(ReplicationFilter {
            prefix: None,
            tags: vec![tag(t)?],
            and: false,
        }),
        _ => Err(s3_error!(MalformedXML, "A Filter holds exactly one of Prefix, Tag or And")),
    }
}

fn status<T: From<String>>(on: bool) -> T {
    T::from(if on { ENABLED } else { DISABLED }.to_string())
}

/// The stored configuration in S3's shape, as it was written.
pub fn config_to_dto(c: &ReplicationConfig) -> ReplicationConfiguration {
    ReplicationConfiguration {
        role: c.role.clone(),
        rules: c.rules.iter().map(rule_to_dto).collect(),
    }
}

fn rule_to_dto(r: &Rule) -> ReplicationRule {
    let to_tag = |(k, v): &(String, String)| Tag {
        key: Some(k.clone()),
        value: Some(v.clone()),
    };
    let filter = if r.legacy_prefix {
        None
    } else if r.filter.and {
        Some(ReplicationRuleFilter {
            and: Some(ReplicationRuleAndOperator {
                prefix: r.filter.prefix.clone(),
                tags: Some(r.filter.tags.iter().map(to_tag).collect()),
            }),
            prefix: None,
            tag: None,
        })
    } else {
        Some(ReplicationRuleFilter {
            and: None,
            prefix: r.filter.prefix.clone(),
            tag: r.filter.tags.first().map(to_tag),
        })
    };
    ReplicationRule {
        delete_marker_replication: Some(DeleteMarkerReplication {
            status: Some(status(r.delete_marker_replication)),
        }),
        destination: Destination {
            bucket: r.destination_bucket.clone(),
            storage_class: r.destination_storage_class.clone().map(StorageClass::from),
            ..Default::default()
        },
        existing_object_replication: r
            .existing_object_replication
            .then(|| ExistingObjectReplication { status: status(true) }),
        filter,
        id: r.id.clone(),
        prefix: if r.legacy_prefix { r.filter.prefix.clone() } else { None },
        priority: r.priority,
        source_selection_criteria: r.replica_modifications.then(|| SourceSelectionCriteria {
            replica_modifications: Some(ReplicaModifications { status: status(true) }),
            sse_kms_encrypted_objects: None,
        }),
        status: status(r.enabled),
    }
}
