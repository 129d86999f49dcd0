//! Byte encodings of table and index keys for the store's ordered key spaces.
//!
//! Primary key: `table \0 <hash> <range>`, where `<hash>` is a type byte and a
//! length-prefixed value (so one partition is one key prefix) and `<range>` is
//! the order-preserving form of the sort key (strings and binaries bytewise,
//! numbers numerically), so a Query is a range scan.
//!
//! Index key: `table \0 index \0 <hash> <escaped range> <primary key>`: the range
//! is escaped and terminated so that appending the item's primary key (which
//! makes the entry unique) cannot disturb the order.

use crate::api_error::{DynamoError, DynamoResult};
use crate::value::AttributeValue;

fn type_byte(v: &AttributeValue) -> DynamoResult<u8> {
    match v {
        AttributeValue::S(_) => Ok(1),
        AttributeValue::N(_) => Ok(2),
        AttributeValue::B(_) => Ok(3),
        _ => Err(DynamoError::validation(
            "One or more parameter values were invalid: Key attributes must be scalars of type S, N or B",
        )),
    }
}

/// Order-preserving bytes of a key value.
pub fn sort_bytes(v: &AttributeValue) -> DynamoResult<Vec<u8>> {
    match v {
        AttributeValue::S(s) => Ok(s.as_bytes().to_vec()),
        AttributeValue::N(n) => Ok(n.sort_key()),
        AttributeValue::B(b) => Ok(b.clone()),
        _ => Err(DynamoError::validation(
            "One or more parameter values were invalid: Key attributes must be scalars of type S, N or B",
        )),
    }
}

/// `table \0`: the prefix of all items of a table.
pub fn table_prefix(table: &str) -> Vec<u8> {
    let mut k = table.as_bytes().to_vec();
    k.push(0);
    k
}

/// `table \0 index \0`: the prefix of all entries of an index.
pub fn index_prefix(table: &str, index: &str) -> Vec<u8> {
    let mut k = table_prefix(table);
    k.extend_from_slice(index.as_bytes());
    k.push(0);
    k
}

/// Appends a partition key: type byte, u32 length, value bytes.
fn push_hash(out: &mut Vec<u8>, hash: &AttributeValue) -> DynamoResult<()> {
    let bytes = sort_bytes(hash)?;
    out.push(type_byte(hash)?);
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(&bytes);
    Ok(())
}

/// Appends bytes so that the result stays ordered when more bytes follow:
/// NUL becomes `00 FF`, and `00 01` terminates.
fn push_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        out.push(b);
        if b == 0 {
            out.push(0xff);
        }
    }
    out.extend_from_slice(&[0, 1]);
}

/// The prefix of one partition of a table (or of an index when `index_base` is
/// an index prefix).
pub fn partition_prefix(base: &[u8], hash: &AttributeValue) -> DynamoResult<Vec<u8>> {
    let mut k = base.to_vec();
    push_hash(&mut k, hash)?;
    Ok(k)
}

/// The full primary key of an item.
pub fn primary_key(table: &str, hash: &AttributeValue, range: Option<&AttributeValue>) -> DynamoResult<Vec<u8>> {
    let mut k = partition_prefix(&table_prefix(table), hash)?;
    if let Some(r) = range {
        k.extend_from_slice(&sort_bytes(r)?);
    }
    Ok(k)
}

/// The key of an item's entry in an index.
pub fn index_key(table: &str, index: &str, hash: &AttributeValue, range: Option<&AttributeValue>, primary: &[u8]) -> DynamoResult<Vec<u8>> {
    let mut k = partition_prefix(&index_prefix(table, index), hash)?;
    if let Some(r) = range {
        push_escaped(&mut k, &sort_bytes(r)?);
    }
    k.extend_from_slice(primary);
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::number::Number;

    fn n(s: &str) -> AttributeValue {
        AttributeValue::N(Number::parse(s).unwrap())
    }
    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_string())
    }

    #[test]
    fn items_of_a_partition_share_a_prefix_and_sort_by_range() {
        let p = partition_prefix(&table_prefix("t"), &s("user1")).unwrap();
        let a = primary_key("t", &s("user1"), Some(&n("-5"))).unwrap();
        let b = primary_key("t", &s("user1"), Some(&n("10"))).unwrap();
        let c = primary_key("t", &s("user1"), Some(&n("9.5"))).unwrap();
        assert!(a.starts_with(&p) && b.starts_with(&p));
        assert!(a < c && c < b);
        let other = primary_key("t", &s("user10"), Some(&n("1"))).unwrap();
        assert!(!other.starts_with(&p));
    }

    #[test]
    fn index_entries_sort_by_range_whatever_the_primary_key() {
        let pk_big = vec![0xff; 8];
        let pk_small = vec![0x00; 8];
        let a = index_key("t", "i", &s("h"), Some(&s("a")), &pk_big).unwrap();
        let b = index_key("t", "i", &s("h"), Some(&s("ab")), &pk_small).unwrap();
        let c = index_key("t", "i", &s("h"), Some(&s("a\0")), &pk_small).unwrap();
        assert!(a < c && c < b);
    }
}
