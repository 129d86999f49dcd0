//! The UDP listener: each task receives a datagram, answers it and sends the
//! reply itself, with no hand-off between tasks (hickory's own UDP loop
//! spawns a task per datagram and sends through a channel, which halves the
//! rate on two cores). Decoding, encoding and truncation to the requestor's
//! payload size stay hickory's.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_server::net::NetError;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::rr::Record;
use hickory_server::server::{ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use tokio::net::UdpSocket;

use crate::handler::Handler;
use crate::transport::{answer, encode};

/// Largest datagram read; longer ones are cut and then fail to decode.
const RECEIVE_BUFFER: usize = 4096;
/// Reply size without EDNS (RFC 1035 4.2.1).
const PLAIN_UDP: u16 = 512;

/// Serves datagrams of `socket` until the task is aborted.
pub async fn serve(socket: Arc<UdpSocket>, handler: Arc<Handler>) {
    let mut buf = vec![0u8; RECEIVE_BUFFER];
    loop {
        let (len, src) = match socket.recv_from(&mut buf).await {
            Ok(got) => got,
            Err(e) => {
                tracing::debug!(error = %e, "UDP receive failed");
                continue;
            }
        };
        let reply = Reply {
            socket: socket.clone(),
            dst: src,
        };
        answer(&buf[..len], src, Protocol::Udp, &handler, reply).await;
    }
}

/// Sends a response to the datagram's source, within its payload size.
#[derive(Clone)]
struct Reply {
    socket: Arc<UdpSocket>,
    dst: SocketAddr,
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
        let max = response.edns().map(|e| e.max_payload()).unwrap_or(PLAIN_UDP);
        let (info, bytes) = encode(response, max)?;
        self.socket.send_to(&bytes, self.dst).await?;
        Ok(info)
    }
}
