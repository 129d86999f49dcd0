//! The replication wire format: a batch is one HTTP body holding a sequence of
//! frames. Each frame is a 4-byte big-endian length, a JSON header describing
//! one change ([`Shipped`]), then `body_len` raw bytes of object body. Bodies
//! are streamed through without being buffered whole on either side.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body::Body;
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tandem_store::ObjectVersion;
use tandem_store::replica::RegistryEntry;

use crate::error::ReplicationError;

/// Largest JSON header accepted (an item is at most 400 KB; headers are far smaller).
const MAX_HEADER: usize = 4 << 20;

/// One change as shipped to a peer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shipped {
    /// Sequence number in the origin's change log.
    pub seq: u64,
    /// Region where the change was first accepted.
    pub origin: String,
    /// Hybrid-logical-clock time of the change.
    pub hlc: u64,
    pub op: Op,
    /// Bytes of object body following the header.
    #[serde(default)]
    pub body_len: u64,
}

/// What a shipped change does at the receiver.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Op {
    /// A new object version (or delete marker) for the destination bucket.
    Version {
        bucket: String,
        key: String,
        version: ObjectVersion,
    },
    /// A metadata edit (tags, ACL) of a version the receiver holds.
    VersionEdit {
        bucket: String,
        key: String,
        version: ObjectVersion,
    },
    /// The origin created a bucket: it claims the name deployment-wide.
    BucketClaim { name: String, claim: RegistryEntry },
    /// The origin deleted a bucket: it releases the name.
    BucketRelease { name: String },
    /// A global table's definition.
    Table { definition: Value },
    /// An application's state record (it goes to every region).
    AppState { app: String, record: Value },
    /// The origin deleted its replica of a global table.
    ReplicaDropped { table: String },
    /// An identity record (user, group membership, revocation; it goes to every region).
    Identity { key: String, record: Value },
    /// A put (`new`) or delete of one item of a global table.
    Item {
        table: String,
        keys: Value,
        new: Option<Value>,
        #[serde(default)]
        by_service: bool,
    },
}

impl Op {
    /// The bucket or table the change belongs to (for status breakdowns).
    pub fn resource(&self) -> String {
        match self {
            Op::Version { bucket, .. } | Op::VersionEdit { bucket, .. } => format!("bucket/{bucket}"),
            Op::BucketClaim { .. } | Op::BucketRelease { .. } => "registry".to_string(),
            Op::AppState { app, .. } => format!("app/{app}"),
            Op::Identity { key, .. } => format!("identity/{}", key.split('/').next().unwrap_or_default()),
            Op::Table { definition } => format!("table/{}", definition.get("name").and_then(Value::as_str).unwrap_or_default()),
            Op::Item { table, .. } | Op::ReplicaDropped { table } => format!("table/{table}"),
        }
    }

    /// Whether applying it changes where the receiver's own changes route:
    /// the bucket registry, or a table's replicas.
    pub fn reroutes(&self) -> bool {
        matches!(
            self,
            Op::BucketClaim { .. } | Op::BucketRelease { .. } | Op::ReplicaDropped { .. } | Op::Table { .. }
        )
    }
}

/// Encodes a frame header (length prefix and JSON).
pub fn encode_header(shipped: &Shipped) -> Bytes {
    let json = serde_json::to_vec(shipped).unwrap_or_default();
    let mut out = BytesMut::with_capacity(4 + json.len());
    out.put_u32(json.len() as u32);
    out.extend_from_slice(&json);
    out.freeze()
}

/// Reads frames from a streamed request body.
pub struct FrameReader<B> {
    body: B,
    buf: BytesMut,
    ended: bool,
}

impl<B> FrameReader<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::fmt::Display,
{
    pub fn new(body: B) -> Self {
        Self {
            body,
            buf: BytesMut::new(),
            ended: false,
        }
    }

    /// Pulls more of the body into the buffer; `false` at the end of the body.
    async fn fill(&mut self) -> Result<bool, ReplicationError> {
        while !self.ended {
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                        return Ok(true);
                    }
                }
                Some(Err(e)) => return Err(ReplicationError::Wire(format!("reading the batch failed: {e}"))),
                None => self.ended = true,
            }
        }
        Ok(false)
    }

    /// The next frame's header, or `None` at a clean end of the batch.
    pub async fn next_header(&mut self) -> Result<Option<Shipped>, ReplicationError> {
        while self.buf.len() < 4 {
            if !self.fill().await? {
                return match self.buf.is_empty() {
                    true => Ok(None),
                    false => Err(ReplicationError::Wire("the batch ends inside a frame length".into())),
                };
            }
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len > MAX_HEADER {
            return Err(ReplicationError::Wire(format!("frame header of {len} bytes is too large")));
        }
        while self.buf.len() < 4 + len {
            if !self.fill().await? {
                return Err(ReplicationError::Wire("the batch ends inside a frame header".into()));
            }
        }
        self.buf.advance(4);
        let header = self.buf.split_to(len);
        serde_json::from_slice(&header)
            .map(Some)
            .map_err(|e| ReplicationError::Wire(format!("bad frame header: {e}")))
    }

    /// The next piece of a frame's body; `remaining` counts down to zero.
    pub async fn body_chunk(&mut self, remaining: &mut u64) -> Result<Bytes, ReplicationError> {
        if self.buf.is_empty() && !self.fill().await? {
            return Err(ReplicationError::Wire(format!(
                "the batch ends {remaining} bytes before the end of a body"
            )));
        }
        let take = (*remaining).min(self.buf.len() as u64) as usize;
        *remaining -= take as u64;
        Ok(self.buf.split_to(take).freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    fn claim(name: &str) -> Shipped {
        Shipped {
            seq: 7,
            origin: "us-east".into(),
            hlc: 42,
            op: Op::BucketClaim {
                name: name.into(),
                claim: RegistryEntry {
                    region: "us-east".into(),
                    owner: "dev".into(),
                    hlc: 42,
                },
            },
            body_len: 0,
        }
    }

    #[tokio::test]
    async fn frames_round_trip_with_bodies_between_headers() {
        let mut with_body = claim("a");
        with_body.body_len = 5;
        let mut wire = BytesMut::new();
        wire.extend_from_slice(&encode_header(&with_body));
        wire.extend_from_slice(b"hello");
        wire.extend_from_slice(&encode_header(&claim("b")));
        let mut reader = FrameReader::new(Full::new(wire.freeze()));
        let first = reader.next_header().await.unwrap().unwrap();
        let mut remaining = first.body_len;
        let mut body = Vec::new();
        while remaining > 0 {
            body.extend_from_slice(&reader.body_chunk(&mut remaining).await.unwrap());
        }
        assert_eq!(body, b"hello");
        let second = reader.next_header().await.unwrap().unwrap();
        assert!(matches!(second.op, Op::BucketClaim { name, .. } if name == "b"));
        assert!(reader.next_header().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_truncated_batch_is_an_error_not_a_short_batch() {
        let wire = encode_header(&claim("a"));
        let cut = wire.slice(..wire.len() - 3);
        let mut reader = FrameReader::new(Full::new(cut));
        assert!(reader.next_header().await.is_err());
    }
}
