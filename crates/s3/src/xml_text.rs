//! Client strings S3 echoes into XML (keys, prefixes, markers, version and
//! upload ids, tags, copy sources) must be characters XML 1.0 can carry: no
//! escape exists for NUL or most control characters, so a response echoing one
//! would not parse. Requests holding one in the path, a query parameter,
//! `x-amz-copy-source` or `x-amz-tagging` are refused up front with 400
//! `InvalidArgument`, naming where the character was, never echoing it. (S3
//! itself accepts control characters in keys; tandem does not store them.)

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

fn refused(what: &str) -> Refusal {
    Refusal::new(
        400,
        "InvalidArgument",
        format!("{what} contains a character that cannot appear in an XML response (a control character or NUL)"),
    )
    .with("ArgumentName", what)
}

/// Refuses a request whose echoed strings XML cannot carry.
pub fn check_request(uri: &Uri, headers: &HeaderMap) -> Result<(), Refusal> {
    if !representable(&percent_decoded(uri.path())) {
        return Err(refused("The object key or bucket name"));
    }
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        if !representable(&k) || !representable(&v) {
            return Err(refused(&format!(
                "Query parameter {}",
                k.chars().filter(|c| allowed(*c)).collect::<String>()
            )));
        }
    }
    if let Some(source) = headers.get("x-amz-copy-source").and_then(|v| v.to_str().ok())
        && !representable(&percent_decoded(source))
    {
        return Err(refused("x-amz-copy-source"));
    }
    if let Some(tagging) = headers.get("x-amz-tagging").and_then(|v| v.to_str().ok())
        && form_urlencoded::parse(tagging.as_bytes()).any(|(k, v)| !representable(&k) || !representable(&v))
    {
        return Err(refused("x-amz-tagging"));
    }
    Ok(())
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
    fn control_characters_in_the_path_query_or_echoed_headers_are_refused() {
        let ok: Uri = "/b/k%20x?versionId=abc&prefix=a%2Fb".parse().unwrap();
        assert_eq!(check_request(&ok, &HeaderMap::new()), Ok(()));
        for bad in [
            "/b/k%00",
            "/b/k?versionId=%00",
            "/b?list-type=2&prefix=%01",
            "/b?uploads&key-marker=a%1Fb",
            "/b/k?uploadId=x%00",
        ] {
            let u: Uri = bad.parse().unwrap();
            let e = check_request(&u, &HeaderMap::new()).unwrap_err();
            assert_eq!((e.status, e.code), (400, "InvalidArgument"), "{bad}");
            assert!(representable(&e.xml()), "the refusal itself is valid XML");
        }
        let mut h = HeaderMap::new();
        h.insert("x-amz-copy-source", "/b/k%00".parse().unwrap());
        assert!(check_request(&ok, &h).is_err());
        let mut h = HeaderMap::new();
        h.insert("x-amz-tagging", "a=%01".parse().unwrap());
        assert!(check_request(&ok, &h).is_err());
    }
}
