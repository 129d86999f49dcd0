//! The TCP listener: at most `MAX_CONNECTIONS` open at once (more are closed
//! on accept), each closed when a message (its 2-byte length and body) does
//! not arrive within the timeout or a response cannot be written within it.
//! Messages of one connection are answered in order.

use std::sync::Arc;
use std::time::Duration;

use hickory_server::net::NetError;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::rr::Record;
use hickory_server::server::{ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Mutex, Semaphore};
use tokio::time::timeout;

use crate::handler::Handler;
use crate::transport::{answer, encode};

/// Open TCP connections at once.
pub const MAX_CONNECTIONS: usize = 512;

/// Serves connections until the task is aborted.
pub async fn serve(listener: TcpListener, handler: Arc<Handler>, idle: Duration) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, src) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::debug!(error = %e, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue; // over the cap: dropping the stream closes it
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        tokio::spawn(async move {
            let (mut read, write) = stream.into_split();
            let reply = Reply {
                write: Arc::new(Mutex::new(write)),
                idle,
            };
            while let Some(message) = next_message(&mut read, idle).await {
                answer(&message, src, Protocol::Tcp, &handler, reply.clone()).await;
            }
            drop(slot);
        });
    }
}

/// The next length-prefixed message, or None on close, error or timeout.
async fn next_message(read: &mut tokio::net::tcp::OwnedReadHalf, idle: Duration) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    timeout(idle, read.read_exact(&mut len)).await.ok()?.ok()?;
    let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
    timeout(idle, read.read_exact(&mut message)).await.ok()?.ok()?;
    Some(message)
}

#[derive(Clone)]
struct Reply {
    write: Arc<Mutex<OwnedWriteHalf>>,
    idle: Duration,
}

#[async_trait::async_trait]
impl ResponseHandler for Reply {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let (info, bytes) = encode(response, u16::MAX)?;
        let len = u16::try_from(bytes.len()).map_err(|_| NetError::from("response over 64 KiB"))?;
        let mut framed = Vec::with_capacity(bytes.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&bytes);
        let mut write = self.write.lock().await;
        match timeout(self.idle, write.write_all(&framed)).await {
            Ok(done) => done?,
            Err(_) => return Err(NetError::from("response not written in time")),
        }
        Ok(info)
    }
}
