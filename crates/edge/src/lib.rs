//! tandem's edge front door (`tandem edge`), work in progress.
pub mod body;
pub mod cached;
pub mod config;
pub mod errors;
pub mod fetch;
