//! Viewer `Range` against a cached full object: one byte range is answered with 206, an
//! unsatisfiable one with 416, anything else (several ranges, other units, garbage) with
//! the whole object, which HTTP allows.

use http::HeaderValue;

/// Longest Range header read.
const MAX_RANGE_BYTES: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeAsk {
    Whole,
    /// Inclusive byte offsets.
    Part {
        start: u64,
        end: u64,
    },
    Unsatisfiable,
}

/// What `Range: value` asks of an object of `len` bytes.
pub(crate) fn parse(value: &HeaderValue, len: u64) -> RangeAsk {
    if value.len() > MAX_RANGE_BYTES {
        return RangeAsk::Whole;
    }
    let Ok(text) = value.to_str() else {
        return RangeAsk::Whole;
    };
    let Some((unit, spec)) = text.trim().split_once('=') else {
        return RangeAsk::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsk::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| s.bytes().all(|b| b.is_ascii_digit()).then(|| s.parse::<u64>().ok()).flatten();
    match (first.is_empty(), last.is_empty()) {
        (true, true) => RangeAsk::Whole,
        (true, false) => match number(last) {
            Some(0) => RangeAsk::Unsatisfiable,
            Some(_) if len == 0 => RangeAsk::Unsatisfiable,
            Some(n) => RangeAsk::Part {
                start: len - n.min(len),
                end: len - 1,
            },
            None => RangeAsk::Whole,
        },
        (false, _) => {
            let Some(start) = number(first) else {
                return RangeAsk::Whole;
            };
            let end = if last.is_empty() { Some(u64::MAX) } else { number(last) };
            match end {
                None => RangeAsk::Whole,
                Some(end) if end < start => RangeAsk::Whole,
                Some(_) if start >= len => RangeAsk::Unsatisfiable,
                Some(end) => RangeAsk::Part {
                    start,
                    end: end.min(len - 1),
                },
            }
        }
    }
}
