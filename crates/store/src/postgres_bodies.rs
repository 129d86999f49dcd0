//! Bodies as chunks in PostgreSQL (`bodies = "postgres"`), in the database
//! of the `postgres` backend: every node of a region reads the bodies any
//! of them wrote.
//!
//! A body is the rows `tandem_bodies (id, off, data)` of its id, each at
//! most [`ROW_MAX`] bytes starting at byte `off`, stored uncompressed
//! (object bodies rarely compress, and pglz would only spend the CPU).
//! - Writing inserts each piece's rows in one statement, committed with
//!   `synchronous_commit = on`: a body is durable as it is written, so
//!   syncing it asks nothing more.
//! - Reading takes a pooled connection per read, held by no reader. A freed
//!   body is removed [`REMOVAL_GRACE`] after the commit that freed it, so a
//!   download or a shipment that opened the body before then has that long
//!   to read it (a file outlives its unlink while it is open; rows do not).
//!   One slower than that fails with an error and is not cut short quietly.
//! - Removing deletes the rows in the background; a removal that fails
//!   leaves an orphan for the next sweep.
//! - The startup sweep considers only bodies whose newest row is over 15
//!   minutes old: another node of the region may be writing a younger one.

use std::sync::Arc;

use crate::body_store::{BodyReader, BodySink, BodyStore};
use crate::error::StoreError;
use crate::postgres_backend::{Inner, Param, pg_error};

/// The largest row of a body.
pub const ROW_MAX: usize = 1024 * 1024;
/// How long a freed body stays readable.
pub const REMOVAL_GRACE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

const SCHEMA: &str = "BEGIN; SELECT pg_advisory_xact_lock(7263951);
CREATE TABLE IF NOT EXISTS tandem_bodies (
    id bytea NOT NULL,
    off int8 NOT NULL,
    data bytea NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, off)
);
ALTER TABLE tandem_bodies ALTER COLUMN data SET STORAGE EXTERNAL;
COMMIT;";
const INSERT: &str = "INSERT INTO tandem_bodies (id, off, data) SELECT $1, o, d FROM unnest($2::int8[], $3::bytea[]) AS t(o, d)";
const READ: &str = "SELECT off, data FROM tandem_bodies WHERE id = $1 AND off > $2 AND off < $3 ORDER BY off";
const DELETE: &str = "DELETE FROM tandem_bodies WHERE id = $1";
const ORPHAN_CANDIDATES: &str = "SELECT id FROM tandem_bodies GROUP BY id HAVING max(created) < now() - interval '15 minutes'";

fn key(id: u128) -> Vec<u8> {
    id.to_be_bytes().to_vec()
}

/// The body store of one database.
pub(crate) struct PgBodies {
    inner: Arc<Inner>,
    described: String,
}

impl PgBodies {
    /// Creates the body relation if it does not exist yet.
    pub(crate) fn open(inner: Arc<Inner>, database: &str) -> Result<Self, StoreError> {
        let conn = inner.checkout()?;
        inner.execute(&conn, SCHEMA)?;
        inner.give_back(conn);
        Ok(Self {
            inner,
            described: format!("postgres chunks in {database}"),
        })
    }
}

/// Runs one statement on a pooled connection.
fn pooled_query(inner: &Inner, sql: &str, params: Vec<Param>) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    let conn = inner.checkout()?;
    let rows = inner.query(&conn, sql.to_string(), params);
    inner.give_back(conn);
    rows
}

impl BodyStore for PgBodies {
    fn describe(&self) -> String {
        self.described.clone()
    }

    fn create(&self, id: u128) -> Result<Box<dyn BodySink>, StoreError> {
        Ok(Box::new(PgSink {
            inner: Arc::clone(&self.inner),
            id,
            written: 0,
        }))
    }

    fn sync(&self, _id: u128) -> Result<(), StoreError> {
        Ok(())
    }

    fn before_commit(&self, _ids: &[u128]) -> Result<(), StoreError> {
        Ok(())
    }

    fn open(&self, id: u128) -> Result<Box<dyn BodyReader>, StoreError> {
        Ok(Box::new(PgReader {
            inner: Arc::clone(&self.inner),
            id,
        }))
    }

    fn removal_grace(&self) -> std::time::Duration {
        REMOVAL_GRACE
    }

    fn remove(&self, id: u128) {
        let inner = Arc::clone(&self.inner);
        self.inner.spawn(async move {
            let removed = async {
                let conn = inner.checkout_async().await?;
                conn.query(DELETE, &[Param::Bytes(key(id))]).await.map_err(pg_error)?;
                inner.give_back(conn);
                Ok::<_, StoreError>(())
            };
            if let Err(e) = removed.await {
                tracing::warn!(blob = %format!("{id:032x}"), error = %e, "could not remove a body from postgres; the next sweep will");
            }
        });
    }

    fn check(&self) -> Result<(), StoreError> {
        pooled_query(&self.inner, "SELECT 1", vec![]).map(|_| ())
    }

    fn orphan_candidates(&self) -> Result<Vec<u128>, StoreError> {
        pooled_query(&self.inner, ORPHAN_CANDIDATES, vec![])?
            .iter()
            .map(|row| {
                let id: Vec<u8> = row.get(0);
                <[u8; 16]>::try_from(id.as_slice())
                    .map(u128::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt(format!("a body id of {} bytes in tandem_bodies", id.len())))
            })
            .collect()
    }
}

/// A body being written: each piece becomes rows of at most [`ROW_MAX`].
struct PgSink {
    inner: Arc<Inner>,
    id: u128,
    written: u64,
}

impl BodySink for PgSink {
    fn write(&mut self, piece: &[u8]) -> Result<(), StoreError> {
        let (mut offsets, mut rows) = (Vec::new(), Vec::new());
        for row in piece.chunks(ROW_MAX) {
            offsets.push(self.written as i64);
            rows.push(row.to_vec());
            self.written += row.len() as u64;
        }
        pooled_query(
            &self.inner,
            INSERT,
            vec![Param::Bytes(key(self.id)), Param::IntList(offsets), Param::BytesList(rows)],
        )?;
        Ok(())
    }

    /// Each write is committed durably already.
    fn sync(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// An opened body.
struct PgReader {
    inner: Arc<Inner>,
    id: u128,
}

impl BodyReader for PgReader {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), StoreError> {
        let end = offset + buf.len() as u64;
        let rows = pooled_query(
            &self.inner,
            READ,
            vec![
                Param::Bytes(key(self.id)),
                Param::Int(offset as i64 - ROW_MAX as i64),
                Param::Int(end as i64),
            ],
        )?;
        let mut filled = 0u64;
        for row in rows {
            let (off, data): (i64, Vec<u8>) = (row.get(0), row.get(1));
            let (row_start, row_end) = (off as u64, off as u64 + data.len() as u64);
            let (from, to) = (offset.max(row_start), end.min(row_end));
            if from < to {
                buf[(from - offset) as usize..(to - offset) as usize]
                    .copy_from_slice(&data[(from - row_start) as usize..(to - row_start) as usize]);
                filled += to - from;
            }
        }
        if filled != buf.len() as u64 {
            return Err(StoreError::Corrupt(format!(
                "body {:032x} has {filled} of the {} bytes from offset {offset}",
                self.id,
                buf.len()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::blobs::BodyWriter;
    use crate::db::{BodyBackend, Store, StoreOptions};
    use crate::test_backend::backend_for;

    /// A store with its bodies in PostgreSQL, when the tests have a server.
    fn store(dir: &std::path::Path) -> Option<Store> {
        let backend = backend_for(dir);
        if backend == crate::db::StoreBackend::Embedded {
            return None;
        }
        let options = StoreOptions {
            backend,
            bodies: BodyBackend::Postgres,
            ..StoreOptions::default()
        };
        Some(Store::open_with(dir, "r", &options).unwrap())
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_body_written_in_pieces_reads_back_at_any_offset_and_goes_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let Some(store) = store(dir.path()) else { return };
        let body: Vec<u8> = (0..(2 * super::ROW_MAX + 12_345)).map(|i| (i % 251) as u8).collect();
        let mut writer = BodyWriter::new();
        for piece in body.chunks(300_000) {
            writer.write(store.blobs(), piece).await.unwrap();
        }
        let staged = writer.finish(store.blobs()).await.unwrap();
        let id = staged.segment.id;
        assert!(!staged.segment.inline && staged.segment.len == body.len() as u64);
        assert!(store.blobs().orphan_candidates().unwrap().is_empty(), "a young body is no orphan");
        let mut reader = staged.open().unwrap().unwrap();
        for (offset, len) in [(0, 10), (super::ROW_MAX - 3, 7), (super::ROW_MAX * 2, 12_345), (5, body.len() - 5)] {
            let mut buf = vec![0u8; len];
            reader.read_at(offset as u64, &mut buf).unwrap();
            assert_eq!(buf, body[offset..offset + len], "{len} bytes at {offset}");
        }
        let mut past_the_end = vec![0u8; 2];
        assert!(reader.read_at(body.len() as u64 - 1, &mut past_the_end).is_err());
        drop(staged);
        // The rows go in the background.
        for _ in 0..100 {
            if store.blobs().open(id).unwrap().read_at(0, &mut [0u8; 1]).is_err() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the dropped body's rows are still there");
    }
}
