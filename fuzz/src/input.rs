//! A fuzz input as fields separated by NUL bytes: text fields are read as
//! lossy UTF-8, so every input means something; bodies stay raw bytes.

use serde_json::Value;

/// The NUL-separated fields of one input.
pub struct Fields<'a> {
    parts: Vec<&'a [u8]>,
}

impl<'a> Fields<'a> {
    /// Splits `data` into at most `max` fields; the last one keeps any further NULs.
    pub fn split(data: &'a [u8], max: usize) -> Self {
        Self {
            parts: data.splitn(max, |&b| b == 0).collect(),
        }
    }

    /// Field `i` as bytes (empty when absent).
    pub fn raw(&self, i: usize) -> &'a [u8] {
        self.parts.get(i).copied().unwrap_or_default()
    }

    /// Field `i` as text.
    pub fn text(&self, i: usize) -> String {
        String::from_utf8_lossy(self.raw(i)).into_owned()
    }

    /// Field `i` as text, `None` when absent or empty.
    pub fn opt_text(&self, i: usize) -> Option<String> {
        Some(self.text(i)).filter(|s| !s.is_empty())
    }

    /// Field `i` parsed as JSON, `None` when absent, empty or not JSON.
    pub fn json(&self, i: usize) -> Option<Value> {
        serde_json::from_slice(self.raw(i)).ok()
    }

    /// The first byte of field `i` (0 when empty): a selector.
    pub fn selector(&self, i: usize) -> u8 {
        self.raw(i).first().copied().unwrap_or(0)
    }
}
