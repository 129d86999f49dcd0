//! `--output text|json` of the commands scripts read (`status`, `state`,
//! `replication backlog`): text for people, one JSON document for scripts.

use serde_json::Value;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    #[default]
    Text,
    Json,
}

impl Output {
    pub fn json(self) -> bool {
        self == Output::Json
    }
}

/// Prints one JSON document on stdout.
pub fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()));
}

/// Milliseconds since the epoch as RFC 3339 UTC, or "-".
pub fn timestamp(ms: Option<u64>) -> String {
    ms.and_then(|ms| time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "-".into())
}
