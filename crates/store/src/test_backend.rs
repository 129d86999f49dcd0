//! For tests: opens a store on the backend the environment selects, so the
//! same tests run on both. With `TANDEM_TEST_POSTGRES` set to the URL of a
//! PostgreSQL server (scripts/postgres.sh starts one), each data directory
//! gets a database of its own on that server, named after the directory, so
//! reopening a directory reopens its database; otherwise the embedded backend.
//! With `TANDEM_TEST_BODIES=postgres` as well, bodies go to that database too.

use std::path::Path;

use crate::db::{BodyBackend, Store, StoreBackend, StoreOptions};
use crate::error::StoreError;

/// Opens the store of `dir` on the backend under test.
pub fn open(dir: &Path, region: &str) -> Result<Store, StoreError> {
    let backend = backend_for(dir);
    let bodies = match backend {
        StoreBackend::Postgres(_) if std::env::var("TANDEM_TEST_BODIES").as_deref() == Ok("postgres") => BodyBackend::Postgres,
        _ => BodyBackend::Files,
    };
    let options = StoreOptions {
        backend,
        bodies,
        ..StoreOptions::default()
    };
    Store::open_with(dir, region, &options)
}

/// The backend a test's store of `dir` uses.
pub fn backend_for(dir: &Path) -> StoreBackend {
    match std::env::var("TANDEM_TEST_POSTGRES") {
        Ok(server) if !server.is_empty() => StoreBackend::Postgres(database_for(&server, dir)),
        _ => StoreBackend::Embedded,
    }
}

/// The URL of the database of `dir` on `server`, created if need be.
fn database_for(server: &str, dir: &Path) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    dir.hash(&mut hasher);
    let name = format!("tandem_test_{:016x}", hasher.finish());
    let (base, _) = server
        .rsplit_once('/')
        .expect("TANDEM_TEST_POSTGRES is a postgres:// URL with a database");
    let server = server.to_string();
    let create = name.clone();
    // A runtime of its own on a thread of its own: tests call this from theirs.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
                .await
                .expect("connect to TANDEM_TEST_POSTGRES");
            tokio::spawn(conn);
            let exists = client
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&create])
                .await
                .unwrap();
            if exists.is_none() {
                client.batch_execute(&format!("CREATE DATABASE {create}")).await.unwrap();
            }
        })
    })
    .join()
    .expect("create the test database");
    format!("{base}/{name}")
}
