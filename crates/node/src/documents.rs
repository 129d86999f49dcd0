//! Request bodies S3 reads as XML documents (bucket and object configuration,
//! ACLs, tagging, DeleteObjects, CompleteMultipartUpload) are checked as they
//! stream into s3s ([`CheckedDocument`]): one holding a character XML 1.0
//! forbids (a raw NUL or control character, U+FFFE, U+FFFF) is not
//! well-formed, so the read fails and the request is answered 400
//! `MalformedXML`, as S3 does. s3s's parser would accept it, and tandem would
//! store a tag, origin or key that every later response echoing it could not
//! carry. Nothing is buffered here: s3s reads the body only after the
//! signature and access checks.
//!
//! s3s reports any failed read of such a body as a 500; the node turns it
//! into the body's recorded fault ([`crate::progress::BodyFaults`]):
//! `MalformedXML`, or `RequestTimeout` for a stalled body.
//!
//! Object data (PutObject, UploadPart, POST form uploads) is not a document;
//! bucket policies are JSON, whose parser refuses raw control characters.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::{Method, Uri};
use tandem_s3::refusal::Refusal;

use crate::progress::{BodyError, BodyFault, BodyFaults};

/// PUT subresources whose body is an XML document.
const PUT_DOCUMENTS: &[&str] = &[
    "acl",
    "cors",
    "lifecycle",
    "replication",
    "tagging",
    "versioning",
    "website",
    "notification",
    "logging",
    "encryption",
    "ownershipControls",
    "publicAccessBlock",
    "object-lock",
    "retention",
    "legal-hold",
    "accelerate",
    "requestPayment",
    "analytics",
    "metrics",
    "inventory",
    "intelligent-tiering",
];

/// POST subresources whose body is an XML document.
const POST_DOCUMENTS: &[&str] = &["delete", "uploadId", "restore", "select"];

/// Whether S3 reads this request's body as an XML document.
pub(crate) fn is_document(method: &Method, uri: &Uri) -> bool {
    let list = match *method {
        Method::PUT => PUT_DOCUMENTS,
        Method::POST => POST_DOCUMENTS,
        _ => return false,
    };
    form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).any(|(k, _)| list.contains(&k.as_ref()))
}

/// The answer to a body fault, in S3's terms.
pub(crate) fn refusal(fault: BodyFault) -> Refusal {
    match fault {
        BodyFault::NotXml => Refusal::new(
            400,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published schema.",
        ),
        BodyFault::Stalled => Refusal::new(
            400,
            "RequestTimeout",
            "Your socket connection to the server was not read from or written to within the timeout period.",
        ),
    }
}

/// Finds bytes XML forbids: C0 controls other than tab, LF and CR (never part
/// of a multi-byte UTF-8 sequence), and U+FFFE/U+FFFF (`EF BF BE`/`EF BF BF`),
/// which may straddle chunks.
#[derive(Default)]
struct CharScan {
    /// The last two bytes of the previous chunk.
    tail: [u8; 2],
}

impl CharScan {
    fn clean(&mut self, chunk: &[u8]) -> bool {
        if chunk.iter().any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) {
            return false;
        }
        let nonchar = |bytes: &[u8]| bytes.windows(3).any(|w| matches!(w, [0xEF, 0xBF, 0xBE | 0xBF]));
        let mut joined = self.tail.to_vec();
        joined.extend_from_slice(&chunk[..chunk.len().min(2)]);
        let found = nonchar(&joined) || nonchar(chunk);
        match chunk.len() {
            0 => {}
            1 => self.tail = [self.tail[1], chunk[0]],
            n => self.tail = [chunk[n - 2], chunk[n - 1]],
        }
        !found
    }
}

/// The error of a document body: its transport's, or a forbidden character.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("the XML document holds a character XML does not allow")]
    NotXml,
}

/// A document body whose characters are checked as it streams.
pub struct CheckedDocument<B> {
    inner: B,
    scan: CharScan,
    faults: BodyFaults,
}

impl<B> CheckedDocument<B> {
    pub fn new(inner: B, faults: BodyFaults) -> Self {
        Self {
            inner,
            scan: CharScan::default(),
            faults,
        }
    }
}

impl<B> Body for CheckedDocument<B>
where
    B: Body<Data = Bytes, Error = BodyError> + Unpin,
{
    type Data = Bytes;
    type Error = DocumentError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, DocumentError>>> {
        let this = self.get_mut();
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        if let Some(data) = frame.data_ref()
            && !this.scan.clean(data)
        {
            this.faults.record(BodyFault::NotXml);
            return Poll::Ready(Some(Err(DocumentError::NotXml)));
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_and_batch_bodies_are_documents_object_data_is_not() {
        let doc = |m: Method, u: &str| is_document(&m, &u.parse().unwrap());
        assert!(doc(Method::PUT, "/b/k?tagging"));
        assert!(doc(Method::PUT, "/b?cors"));
        assert!(doc(Method::POST, "/b?delete"));
        assert!(doc(Method::POST, "/b/k?uploadId=abc"));
        assert!(!doc(Method::PUT, "/b/k"));
        assert!(!doc(Method::PUT, "/b/k?partNumber=1&uploadId=abc"));
        assert!(!doc(Method::PUT, "/b/k?X-Amz-Signature=ab&X-Amz-SignedHeaders=host"));
        assert!(!doc(Method::POST, "/b/k?uploads"));
        assert!(!doc(Method::PUT, "/b?policy"));
        assert!(!doc(Method::GET, "/b?tagging"));
    }

    fn clean_in_chunks(doc: &[u8], size: usize) -> bool {
        let mut scan = CharScan::default();
        doc.chunks(size).all(|c| scan.clean(c))
    }

    #[test]
    fn forbidden_characters_are_found_wherever_the_chunks_split() {
        let good = "<Tagging><TagSet><Tag><Key>a</Key><Value>ü\t日本😀\u{FFFD}</Value></Tag></TagSet></Tagging>".as_bytes();
        for bad in [
            &b"<Key>a\x00</Key>"[..],
            b"<Key>a\x01</Key>",
            b"<Key>\xef\xbf\xbe</Key>",
            b"<K>\xef\xbf\xbf</K>",
        ] {
            for size in 1..=bad.len() {
                assert!(!clean_in_chunks(bad, size), "{bad:?} in chunks of {size}");
            }
        }
        for size in 1..=good.len() {
            assert!(clean_in_chunks(good, size), "chunks of {size}");
        }
    }
}
