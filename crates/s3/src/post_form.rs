//! Browser form uploads (POST Object). s3s parses the form, checks the POST
//! policy (expiry, `eq`, `starts-with`, `content-length-range`) and its SigV4
//! or SigV2 signature, and hands the upload to PutObject. What it does not
//! carry over from the form is done here: the file's name for a key with
//! `${filename}`, the `acl` and `tagging` fields (s3s reads only the
//! `x-amz-acl` / `x-amz-tagging` names), and the authorization of the upload,
//! which needs the key (known only once the form is read).
//!
//! The node sees the body before s3s does and lets [`PostForm`] keep its
//! beginning: the fields before the file part, at most [`FIELDS_LIMIT`] bytes.
//! S3's answers to a form it refuses are in [`crate::post_answers`].

use std::sync::{Arc, Mutex};

use s3s::dto::*;
use s3s::{S3Request, S3Result, s3_error};

use crate::access::{AccessControl, Ask};
use crate::ops::S3Op;

/// Most bytes of a form kept to find its fields (S3 allows 20 KB of fields).
pub const FIELDS_LIMIT: usize = 64 * 1024;

/// The beginning of a form upload's body, kept as it streams to s3s.
/// Travels in the request's extensions.
#[derive(Clone)]
pub struct PostForm(Arc<Mutex<Sniff>>);

struct Sniff {
    boundary: Vec<u8>,
    prefix: Vec<u8>,
    /// The file part's headers (or the limit) were reached: nothing more is kept.
    full: bool,
    /// The key field as sent (s3s answers with it) and the key stored.
    keys: Option<(String, String)>,
    /// The bucket and ETag of the stored upload.
    stored: Option<(String, String)>,
}

/// The simple fields of a form (names lowercased) before its file part, and
/// what is known of that part.
#[derive(Debug, Default, PartialEq)]
pub struct FormFields {
    pub fields: Vec<(String, String)>,
    /// Whether the form has a `file` part (fields after it are not read, as in S3).
    pub file: bool,
    pub filename: Option<String>,
    /// Whether the form's closing delimiter was seen (the whole form was kept).
    pub complete: bool,
}

impl FormFields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

impl PostForm {
    /// A sniffer for a `POST` with a `multipart/form-data` body, if this is one.
    pub fn for_request(method: &http::Method, headers: &http::HeaderMap) -> Option<Self> {
        if method != http::Method::POST {
            return None;
        }
        let ct = headers.get(http::header::CONTENT_TYPE)?.to_str().ok()?;
        let mut params = ct.split(';').map(str::trim);
        if !params.next()?.eq_ignore_ascii_case("multipart/form-data") {
            return None;
        }
        let boundary = params.find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("boundary")
                .then(|| v.trim().trim_matches('"').as_bytes().to_vec())
        })?;
        if boundary.is_empty() || boundary.len() > 200 {
            return None;
        }
        Some(Self(Arc::new(Mutex::new(Sniff {
            boundary,
            prefix: Vec::new(),
            full: false,
            keys: None,
            stored: None,
        }))))
    }

    /// Keeps the part of `chunk` that may still hold fields.
    pub fn observe(&self, chunk: &[u8]) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if s.full {
            return;
        }
        let room = FIELDS_LIMIT - s.prefix.len();
        let take = chunk.len().min(room);
        s.prefix.extend_from_slice(&chunk[..take]);
        s.full = s.prefix.len() >= FIELDS_LIMIT || file_headers_seen(&s.prefix);
    }

    /// Records the stored object of this upload (PutObject calls it).
    pub fn stored(&self, bucket: &str, etag: &str) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        s.stored = Some((bucket.to_string(), etag.to_string()));
    }

    /// Corrects s3s's answer to a stored upload as S3 gives it: the stored key
    /// (s3s echoes the key field, `${filename}` and all) in a 201 body or a 303
    /// `Location`, and the `ETag` and `Location` headers. Returns a new body
    /// when the old one must be replaced.
    pub fn finish_answer(&self, status: u16, headers: &mut http::HeaderMap) -> Option<String> {
        let s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let ((sent, key), (bucket, etag)) = (s.keys.clone()?, s.stored.clone()?);
        drop(s);
        let quoted = format!("\"{etag}\"");
        let location = format!("/{bucket}/{key}");
        if let Ok(v) = http::HeaderValue::from_str(&quoted) {
            headers.insert(http::header::ETAG, v);
        }
        match status {
            303 => {
                let enc = |k: &str| form_urlencoded::byte_serialize(k.as_bytes()).collect::<String>();
                let old = headers.get(http::header::LOCATION)?.to_str().ok()?.to_string();
                let fixed = old.replace(&format!("key={}", enc(&sent)), &format!("key={}", enc(&key)));
                if let Ok(v) = http::HeaderValue::from_str(&fixed) {
                    headers.insert(http::header::LOCATION, v);
                }
                None
            }
            200..=299 => {
                if let Ok(v) = http::HeaderValue::from_str(&location) {
                    headers.insert(http::header::LOCATION, v);
                }
                (status == 201).then(|| {
                    let esc = crate::refusal::xml_escape;
                    format!(
                        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<PostResponse><Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag></PostResponse>",
                        esc(&location),
                        esc(&bucket),
                        esc(&key),
                        esc(&quoted)
                    )
                })
            }
            _ => None,
        }
    }

    /// The fields seen so far.
    pub fn fields(&self) -> FormFields {
        let s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        parse_fields(&s.prefix, &s.boundary)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

fn file_headers_seen(prefix: &[u8]) -> bool {
    find(prefix, b"name=\"file\"").is_some_and(|at| find(&prefix[at..], b"\r\n\r\n").is_some())
}

/// `name="..."` and `filename="..."` of a part's `Content-Disposition`.
fn disposition(headers: &str) -> (Option<String>, Option<String>) {
    let line = headers
        .split("\r\n")
        .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
        .unwrap_or_default();
    let param = |key: &str| {
        line.split(';').map(str::trim).find_map(|p| {
            let (k, v) = p.split_once('=')?;
            (k.trim().eq_ignore_ascii_case(key)).then(|| v.trim().trim_matches('"').to_string())
        })
    };
    (param("name"), param("filename"))
}

/// The fields before the file part of a (possibly cut) form body.
pub fn parse_fields(prefix: &[u8], boundary: &[u8]) -> FormFields {
    let mut delimiter = b"--".to_vec();
    delimiter.extend_from_slice(boundary);
    let mut out = FormFields::default();
    let mut rest = prefix;
    // Skip the preamble up to the first delimiter.
    let Some(first) = find(rest, &delimiter) else { return out };
    rest = &rest[first + delimiter.len()..];
    loop {
        let Some(head_end) = find(rest, b"\r\n\r\n") else { return out };
        let headers = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let (name, filename) = disposition(&headers);
        let body = &rest[head_end + 4..];
        if name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case("file")) {
            out.file = true;
            out.filename = filename;
            return out;
        }
        let mut closing = b"\r\n".to_vec();
        closing.extend_from_slice(&delimiter);
        // A field whose end is beyond what was kept is dropped.
        let Some(end) = find(body, &closing) else { return out };
        if let (Some(n), Ok(v)) = (name, std::str::from_utf8(&body[..end])) {
            out.fields.push((n.to_ascii_lowercase(), v.to_string()));
        }
        rest = &body[end + closing.len()..];
        if rest.starts_with(b"--") {
            out.complete = true;
            return out;
        }
    }
}

/// The tags of a form's `tagging` field (a `<Tagging>` document), as the
/// URL-encoded form PutObject's `x-amz-tagging` takes.
fn tagging_field(xml: &str) -> S3Result<String> {
    let mut d = s3s::xml::Deserializer::new(xml.as_bytes());
    let tagging: Tagging = s3s::xml::Deserialize::deserialize(&mut d).map_err(|_| {
        s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema."
        )
    })?;
    let pairs = tagging
        .tag_set
        .iter()
        .map(|t| (t.key.clone().unwrap_or_default(), t.value.clone().unwrap_or_default()));
    Ok(form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish())
}

/// Completes a POST upload from its form and authorizes it: the key (with
/// `${filename}` replaced), `acl` and `tagging`; then the requester must be
/// allowed `s3:PutObject` on that key, as for a PUT.
pub(crate) fn prepare(access: &AccessControl, req: &mut S3Request<PostObjectInput>) -> S3Result<()> {
    let sniffer = req.extensions.get::<PostForm>().cloned();
    let form = sniffer.as_ref().map(PostForm::fields).unwrap_or_default();
    let i = &mut req.input;
    let sent = i.key.clone();
    if i.key.contains("${filename}") {
        let name = form.filename.as_deref().unwrap_or_default();
        // Browsers may send a path; S3 uses the name as given.
        i.key = i.key.replace("${filename}", name);
    }
    if let Some(s) = &sniffer {
        s.0.lock().unwrap_or_else(|e| e.into_inner()).keys = Some((sent, i.key.clone()));
    }
    crate::convert::validate_key(&i.key)?;
    // A form s3s took as anonymous may still carry some signature fields.
    if let Some(missing) = crate::post_answers::missing_field(&form) {
        return Err(s3_error!(InvalidArgument, "{}", missing.message));
    }
    if i.acl.is_none()
        && let Some(acl) = form.get("acl")
    {
        i.acl = Some(ObjectCannedACL::from(acl.to_string()));
    }
    if i.tagging.is_none()
        && let Some(xml) = form.get("tagging")
    {
        i.tagging = Some(tagging_field(xml)?);
    }
    let ask = req
        .extensions
        .get::<Ask>()
        .cloned()
        .ok_or_else(|| s3_error!(AccessDenied, "Access Denied"))?
        .for_op(S3Op::PutObject);
    access.authorize_at(&ask, &i.bucket, Some(&i.key), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &[u8] = b"--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nup/${filename}\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"ACL\"\r\n\r\npublic-read\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"cat.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8data\r\n--XyZ--\r\n";

    #[test]
    fn fields_before_the_file_and_its_name_are_found() {
        let f = parse_fields(FORM, b"XyZ");
        assert!(f.file && !f.complete);
        assert_eq!(f.filename.as_deref(), Some("cat.jpg"));
        assert_eq!(f.get("key"), Some("up/${filename}"));
        assert_eq!(f.get("acl"), Some("public-read"));
    }

    #[test]
    fn a_form_streamed_in_small_chunks_keeps_only_up_to_the_file_headers() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ".parse().unwrap());
        let form = PostForm::for_request(&http::Method::POST, &headers).unwrap();
        for c in FORM.chunks(3) {
            form.observe(c);
        }
        assert_eq!(form.fields(), parse_fields(FORM, b"XyZ"));
        assert!(form.0.lock().unwrap().prefix.len() < FORM.len());
        assert!(PostForm::for_request(&http::Method::PUT, &headers).is_none());
    }

    #[test]
    fn a_cut_or_garbled_form_yields_what_it_can_without_panicking() {
        for n in 0..FORM.len() {
            let _ = parse_fields(&FORM[..n], b"XyZ");
        }
        assert_eq!(parse_fields(b"no boundary here", b"XyZ"), FormFields::default());
    }

    #[test]
    fn a_form_without_a_file_part_is_complete_at_its_closing_delimiter() {
        let form = b"--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--XyZ--\r\n";
        let f = parse_fields(form, b"XyZ");
        assert!(!f.file && f.complete);
        assert_eq!(f.get("key"), Some("k"));
        assert!(!parse_fields(&form[..form.len() - 6], b"XyZ").complete);
    }

    #[test]
    fn the_tagging_field_becomes_url_encoded_pairs() {
        let xml = "<Tagging><TagSet><Tag><Key>a b</Key><Value>1&amp;2</Value></Tag></TagSet></Tagging>";
        assert_eq!(tagging_field(xml).unwrap(), "a+b=1%262");
        assert!(tagging_field("<nope").is_err());
    }
}
