//! The XML request bodies tandem accepts, through s3s's deserializers exactly
//! as s3s reads a body (the element, then end of input), then tandem's own
//! validation where it has one (replication rules, ACL grants, CORS rules).
//! An accepted body serializes and deserializes back to the same value.
//!
//! Input: one selector byte (which body), then the XML.
#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use s3s::dto;
use s3s::xml::{Deserialize, Deserializer, Serialize, Serializer};

fn deserialize<T: for<'x> Deserialize<'x>>(xml: &[u8]) -> Option<T> {
    let mut d = Deserializer::new(xml);
    let value = T::deserialize(&mut d).ok()?;
    d.expect_eof().ok()?;
    Some(value)
}

/// Parses `xml` as a `T`; if accepted, checks it round-trips and returns it.
fn round_trip<T: for<'x> Deserialize<'x> + Serialize + PartialEq + Debug>(xml: &[u8]) -> Option<T> {
    let value: T = deserialize(xml)?;
    let mut out = Vec::new();
    value
        .serialize(&mut Serializer::new(&mut out))
        .expect("an accepted body serializes");
    match deserialize::<T>(&out) {
        Some(again) => assert_eq!(again, value, "changed through {:?}", String::from_utf8_lossy(&out)),
        None => panic!("serialized as {:?}, an accepted body does not parse", String::from_utf8_lossy(&out)),
    }
    Some(value)
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, xml)) = data.split_first() else { return };
    match which % 8 {
        0 => {
            round_trip::<dto::CompletedMultipartUpload>(xml);
        }
        1 => {
            round_trip::<dto::Delete>(xml);
        }
        2 => {
            round_trip::<dto::Tagging>(xml);
        }
        3 => {
            if let Some(c) = round_trip::<dto::CORSConfiguration>(xml) {
                for rule in &c.cors_rules {
                    let _ = tandem_s3::cors::rule_from_dto(rule);
                }
            }
        }
        4 => {
            round_trip::<dto::VersioningConfiguration>(xml);
        }
        5 => {
            if let Some(c) = round_trip::<dto::ReplicationConfiguration>(xml)
                && let Ok(config) = tandem_s3::replication_config::config_from_dto(&c)
            {
                // What tandem stores reads back as the same configuration.
                let shown = tandem_s3::replication_config::config_to_dto(&config);
                let again = tandem_s3::replication_config::config_from_dto(&shown).expect("a stored configuration is valid");
                assert_eq!(format!("{again:?}"), format!("{config:?}"));
            }
        }
        6 => {
            if let Some(p) = round_trip::<dto::AccessControlPolicy>(xml) {
                let _ = tandem_s3::acl::from_policy(&p);
            }
        }
        _ => {
            round_trip::<dto::CreateBucketConfiguration>(xml);
        }
    }
});
