//! Shared pieces of tandem's fuzz targets (`fuzz_targets/*.rs`): splitting an
//! input into fields, printing parsed expressions back to text, the checks an
//! item must pass to be stored, and in-process S3 and DynamoDB services on a
//! scratch store. Nothing here is part of the product.

pub mod dynamo;
pub mod expr;
pub mod input;
pub mod items;
pub mod print;
pub mod runtime;
pub mod s3;
pub mod sigv2;
