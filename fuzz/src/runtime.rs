//! One current-thread tokio runtime per fuzz process, for the async APIs.

use std::future::Future;
use std::sync::OnceLock;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    })
}

/// Runs a future to completion; panics (a fuzz finding) if it takes over 10 s.
pub fn block_on<F: Future>(f: F) -> F::Output {
    runtime().block_on(async {
        tokio::time::timeout(std::time::Duration::from_secs(10), f)
            .await
            .expect("a request took more than 10 s")
    })
}
