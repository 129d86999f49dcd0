//! Non-ASCII user metadata, as S3 handles it: header values can carry only
//! ASCII, so clients send RFC 2047 encoded words (`=?UTF-8?B?...?=` or
//! `=?UTF-8?Q?...?=`). S3 decodes them before storing (the 2 KB limit counts
//! the decoded text) and encodes non-ASCII values again when answering.

/// Decodes every UTF-8 / US-ASCII encoded word in `value`; anything else is kept.
pub fn decode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, word) = rest.split_at(start);
        match decode_word(word) {
            Some((text, used)) => {
                // Whitespace between two adjacent encoded words is dropped.
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = &word[used..];
                last_was_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &word[2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One `=?charset?enc?text?=` at the start of `s`: its text and its length.
fn decode_word(s: &str) -> Option<(String, usize)> {
    let inner = s.strip_prefix("=?")?;
    let (charset, inner) = inner.split_once('?')?;
    let (enc, inner) = inner.split_once('?')?;
    let end = inner.find("?=")?;
    let text = &inner[..end];
    let used = 2 + charset.len() + 1 + enc.len() + 1 + end + 2;
    let charset = charset.split('*').next().unwrap_or_default();
    if !(charset.eq_ignore_ascii_case("utf-8") || charset.eq_ignore_ascii_case("us-ascii")) {
        return None;
    }
    let bytes = match enc {
        "B" | "b" => base64_simd::STANDARD.decode_to_vec(text).ok()?,
        "Q" | "q" => q_decode(text)?,
        _ => return None,
    };
    Some((String::from_utf8(bytes).ok()?, used))
}

fn q_decode(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Some(out)
}

/// A stored value as a header can carry it: ASCII as is, anything else one
/// `=?UTF-8?B?...?=` word.
pub fn encode(value: &str) -> String {
    if value.is_ascii() {
        return value.to_string();
    }
    format!("=?UTF-8?B?{}?=", base64_simd::STANDARD.encode_to_string(value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_decode_and_non_ascii_encodes_back() {
        assert_eq!(decode("=?UTF-8?B?aMOpbGxv?="), "héllo");
        assert_eq!(decode("=?utf-8?Q?h=C3=A9llo_w?="), "héllo w");
        assert_eq!(decode("a =?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?= b"), "a éé b");
        assert_eq!(encode("héllo"), "=?UTF-8?B?aMOpbGxv?=");
        assert_eq!(decode(&encode("日本")), "日本");
        assert_eq!(encode("plain"), "plain");
    }

    #[test]
    fn what_is_not_an_encoded_word_stays() {
        for s in ["=?", "=?x", "=?UTF-8?B?!!?=", "=?KOI8-R?B?w6k=?=", "a=?b", "=?UTF-8?X?a?="] {
            assert_eq!(decode(s), s);
        }
    }
}
