//! The viewer side: accepts connections (capped), applies the node's
//! connection deadlines (head, idle, progress: `[server]` of tandem.toml,
//! through tandem-node's `GuardedIo`), terminates TLS when the node has
//! certificates, and serves HTTP/1.1 and HTTP/2 with bounded headers.

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
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::proxy::Proxy;

/// Accepts until `stop` turns true, then lets open connections finish (10 s at most).
pub async fn serve(
    listener: TcpListener,
    proxy: Arc<Proxy>,
    tls: Option<TlsAcceptor>,
    limits: ServerLimits,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.connection_cap()));
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
        let (proxy, activity) = (proxy.clone(), activity.clone());
        async move {
            let resp = tandem_node::request::serve(&activity, progress, req, |req| async move {
                proxy.handle(req.map(crate::body::boxed), peer).await
            });
            Ok::<_, Infallible>(resp.await)
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
