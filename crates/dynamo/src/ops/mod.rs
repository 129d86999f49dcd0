//! The operations of the DynamoDB API, one file per family.

pub mod items;
pub mod query;
pub mod tables;
