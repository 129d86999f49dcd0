//! The operations of the DynamoDB API, one file per family.

pub mod batch;
mod capacity;
pub mod items;
pub mod query;
mod shards;
pub mod streams;
pub mod tables;
pub mod transact;
