//! The viewer side: accepts connections (capped), applies the node's
//! connection deadlines (head, idle, progress: `[server]` of tandem.toml,
//! through tandem-node's `GuardedIo`), terminates TLS when the node has
//! certificates, and serves HTTP/1.1 and HTTP/2 with bounded headers.
//!
//! One worker thread per core, each with its own single-threaded runtime
//! and its own listener on the same port (`SO_REUSEPORT`): the kernel
//! spreads new connections over the listeners, and each connection is
//! accepted, read, answered and written on one thread, so serving a cached
//! object wakes no other thread (as nginx's worker processes). The cap on
//! connections is shared by the workers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tandem_node::ServerLimits;
use tandem_node::conn::{Activity, GuardedIo, Timeouts};
use tandem_node::progress::{ProgressBody, TrackedBody};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::proxy::Proxy;

/// What every worker serves with.
#[derive(Clone)]
pub struct Serving {
    pub proxy: Arc<Proxy>,
    pub tls: Option<TlsAcceptor>,
    pub limits: ServerLimits,
    pub stop: watch::Receiver<bool>,
}

/// A listener on `addr` that other listeners may share (`SO_REUSEPORT`).
fn shared_listener(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)?.into_std()
}

/// Binds `addr` once per worker (one per core) and starts the workers.
/// Returns the bound address and, per worker, a task that ends when the
/// worker has stopped (after `stop`, and its connections have finished).
pub fn start_workers(addr: SocketAddr, serving: Serving) -> Result<(SocketAddr, Vec<tokio::task::JoinHandle<()>>), String> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let first = shared_listener(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = first.local_addr().map_err(|e| e.to_string())?;
    let mut listeners = vec![first];
    for _ in 1..workers {
        listeners.push(shared_listener(bound).map_err(|e| format!("cannot listen on {bound} again: {e}"))?);
    }
    let slots = Arc::new(Semaphore::new(serving.limits.connection_cap()));
    let mut done = Vec::new();
    for (n, listener) in listeners.into_iter().enumerate() {
        let (serving, slots) = (serving.clone(), slots.clone());
        let (finished, wait) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start an edge worker: {e}"))?;
        std::thread::Builder::new()
            .name(format!("edge-worker-{n}"))
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(listener) => serve(listener, serving, slots).await,
                        Err(e) => tracing::error!(error = %e, "edge worker cannot use its listener"),
                    }
                });
                let _ = finished.send(());
            })
            .map_err(|e| format!("cannot start an edge worker: {e}"))?;
        done.push(tokio::spawn(async move {
            let _ = wait.await;
        }));
    }
    Ok((bound, done))
}

/// Accepts until `stop` turns true, then lets open connections finish (10 s at most).
async fn serve(listener: TcpListener, serving: Serving, slots: Arc<Semaphore>) {
    let Serving { proxy, tls, limits, mut stop } = serving;
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "connection over the cap closed");
            continue;
        };
        let (proxy, tls, limits, watcher) = (proxy.clone(), tls.clone(), limits.clone(), graceful.watcher());
        tokio::spawn(async move {
            let _slot = slot;
            connection(stream, peer, proxy, tls, &limits, watcher).await;
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(Duration::from_secs(10)) => tracing::warn!("edge connections still open after 10 s; closing"),
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    proxy: Arc<Proxy>,
    tls: Option<TlsAcceptor>,
    limits: &ServerLimits,
    watcher: Watcher,
) {
    let _ = stream.set_nodelay(true);
    let activity = Activity::new();
    let timeouts = Timeouts {
        header_read: limits.header_read_timeout,
        idle: limits.idle_timeout,
        progress: limits.body_progress_timeout,
    };
    let io = GuardedIo::new(stream, activity.clone(), timeouts);
    let progress = limits.body_progress_timeout;
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let request = activity.begin();
        if tandem_node::expect::owes_continue(&req) {
            activity.owe_continue();
        }
        let proxy = proxy.clone();
        async move {
            let req = req.map(|body| crate::body::boxed(ProgressBody::new(body, progress)));
            let resp = proxy.handle(req, peer).await;
            Ok::<_, Infallible>(resp.map(|body| TrackedBody::new(body, request)))
        }
    });
    let builder = tandem_node::connection_builder(limits);
    let result = match tls {
        None => {
            watcher
                .watch(builder.serve_connection(TokioIo::new(io), service).into_owned())
                .await
        }
        Some(acceptor) => {
            // The handshake reads under the head deadline of GuardedIo.
            let tls = match acceptor.accept(io).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            watcher
                .watch(builder.serve_connection(TokioIo::new(tls), service).into_owned())
                .await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "viewer connection ended with an error");
    }
}
