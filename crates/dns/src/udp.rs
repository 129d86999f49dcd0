//! The UDP listener: each task receives a datagram, answers it and sends the
//! reply itself, with no hand-off between tasks (hickory's own UDP loop
//! spawns a task per datagram and sends through a channel, which halves the
//! rate on two cores). Decoding, encoding and truncation to the payload size
//! stay hickory's.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Header, MessageType, Metadata, ResponseCode};
use hickory_server::proto::rr::Record;
use hickory_server::proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};
use tokio::net::UdpSocket;

use crate::handler::Handler;

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
        answer(&buf[..len], src, &handler, reply).await;
    }
}

async fn answer(datagram: &[u8], src: SocketAddr, handler: &Handler, mut reply: Reply) {
    match Request::from_bytes(datagram.to_vec(), src, Protocol::Udp) {
        Ok(request) if request.metadata.message_type == MessageType::Query => {
            handler.handle_request::<_, TokioTime>(&request, reply).await;
        }
        // A response sent to a server is never answered (no reflection loops).
        Ok(_) => {}
        Err(_) => {
            // The header decodes but the rest does not: FORMERR; less than a header: nothing.
            let Ok(header) = Header::read(&mut BinDecoder::new(datagram)) else {
                return;
            };
            if header.metadata.message_type != MessageType::Query {
                return;
            }
            handler.metrics.query(ResponseCode::FormErr, None);
            let mut metadata = Metadata::response_from_request(&header.metadata);
            metadata.response_code = ResponseCode::FormErr;
            let Ok(queries) = Queries::read(&mut BinDecoder::new(&[]), 0) else {
                return;
            };
            let message = MessageResponseBuilder::new(&queries, None).build_no_records(metadata);
            let _ = reply.send_response(message).await;
        }
    }
}

/// Sends a response to the datagram's source, encoded within its payload size.
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
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(response.edns().map(|e| e.max_payload()).unwrap_or(PLAIN_UDP));
        let info = response.destructive_emit(&mut encoder)?;
        self.socket.send_to(&bytes, self.dst).await?;
        Ok(info)
    }
}
