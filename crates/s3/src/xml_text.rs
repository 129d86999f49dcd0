//! Client strings S3 echoes into XML (keys, prefixes, markers, version and
//! upload ids, tags, copy sources) and the characters XML 1.0 cannot carry:
//! NUL, the C0 controls other than tab, LF and CR, U+FFFE and U+FFFF.
//!
//! S3 accepts any UTF-8 key but NUL here (the store's version keys end a key
//! with NUL, so a key holding one could be read as another's version), and
//! lists such keys either percent-encoded (`encoding-type=url`, what boto3 and
//! the aws CLI ask for) or, as S3 does, as numeric character references such
//! as `&#x1;` (`node/xml_out.rs`). Every other XML answer echoing one (an
//! error's message or resource) has it replaced there, so it always parses.
//!
//! Refused up front with 400 `InvalidArgument`, naming where the character was
//! and never echoing it: NUL in the path, a query parameter or
//! `x-amz-copy-source`, and any character XML cannot carry in `x-amz-tagging`
//! (S3 allows only letters, digits, spaces and `+ - = . _ : / @` in tags).

use http::{HeaderMap, Uri};

use crate::refusal::Refusal;

/// Whether XML 1.0 can hold `c` (its `Char` production).
pub fn allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{FFFE}' | '\u{FFFF}'))
}

/// Whether every character of `s` fits in XML.
pub fn representable(s: &str) -> bool {
    s.chars().all(allowed)
}

/// Percent-decodes (bytes; `+` stays), as S3 decodes paths and `x-amz-copy-source`.
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn refused(what: &str, which: &str) -> Refusal {
    Refusal::new(400, "InvalidArgument", format!("{what} contains {which}")).with("ArgumentName", what)
}

const NUL: &str = "a NUL character, which object keys cannot hold";
const NOT_XML: &str = "a character that cannot appear in an XML response (a control character or NUL)";

fn has_nul(s: &str) -> bool {
    s.contains('\0')
}

/// Refuses a request holding NUL where keys travel, or a tag XML cannot carry.
pub fn check_request(uri: &Uri, headers: &HeaderMap) -> Result<(), Refusal> {
    if has_nul(&percent_decoded(uri.path())) {
        return Err(refused("The object key or bucket name", NUL));
    }
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        if has_nul(&k) || has_nul(&v) {
            let name: String = k.chars().filter(|c| allowed(*c)).collect();
            return Err(refused(&format!("Query parameter {name}"), NUL));
        }
    }
    if let Some(source) = headers.get("x-amz-copy-source").and_then(|v| v.to_str().ok())
        && has_nul(&percent_decoded(source))
    {
        return Err(refused("x-amz-copy-source", NUL));
    }
    if let Some(tagging) = headers.get("x-amz-tagging").and_then(|v| v.to_str().ok())
        && form_urlencoded::parse(tagging.as_bytes()).any(|(k, v)| !representable(&k) || !representable(&v))
    {
        return Err(refused("x-amz-tagging", NOT_XML));
    }
    Ok(())
}

/// The text with every character XML cannot carry written as a numeric
/// character reference (`&#x1;`), as S3 writes keys in listings.
pub fn with_character_references(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match allowed(c) {
            true => out.push(c),
            false => out.push_str(&format!("&#x{:X};", c as u32)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_characters_are_told_from_the_ones_it_cannot_hold() {
        assert!(representable("a b\tc\nd\re/ü/日本/😀"));
        for bad in ["\u{0}", "\u{1}", "\u{1f}", "\u{fffe}", "\u{ffff}"] {
            assert!(!representable(bad), "{bad:?}");
        }
    }

    #[test]
    fn control_characters_in_keys_pass_and_nul_is_refused() {
        for ok in [
            "/b/k%20x?versionId=abc&prefix=a%2Fb",
            "/b/k%01%1F%7F",
            "/b?list-type=2&prefix=%01",
            "/b?uploads&key-marker=a%1Fb",
        ] {
            let u: Uri = ok.parse().unwrap();
            assert_eq!(check_request(&u, &HeaderMap::new()), Ok(()), "{ok}");
        }
        for bad in ["/b/k%00", "/b/k?versionId=%00", "/b?list-type=2&prefix=%00", "/b/k?uploadId=x%00"] {
            let u: Uri = bad.parse().unwrap();
            let e = check_request(&u, &HeaderMap::new()).unwrap_err();
            assert_eq!((e.status, e.code), (400, "InvalidArgument"), "{bad}");
            assert!(representable(&e.xml()), "the refusal itself is valid XML");
        }
        let ok: Uri = "/b/k".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-amz-copy-source", "/b/k%01".parse().unwrap());
        assert!(check_request(&ok, &h).is_ok());
        h.insert("x-amz-copy-source", "/b/k%00".parse().unwrap());
        assert!(check_request(&ok, &h).is_err());
        let mut h = HeaderMap::new();
        h.insert("x-amz-tagging", "a=%01".parse().unwrap());
        assert!(check_request(&ok, &h).is_err());
    }

    #[test]
    fn characters_xml_cannot_carry_become_numeric_references() {
        assert_eq!(with_character_references("a\u{1}b\u{1f}\u{7f}\tü"), "a&#x1;b&#x1F;\u{7f}\tü");
        assert_eq!(with_character_references("\u{fffe}"), "&#xFFFE;");
    }
}
