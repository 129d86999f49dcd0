//! What the UDP and TCP listeners share: decode a message with hickory,
//! answer a query (FORMERR when only the header decodes, nothing for a
//! response or less than a header), and encode a response within a size.

use std::net::SocketAddr;

use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Header, MessageType, Metadata, ResponseCode};
use hickory_server::proto::rr::Record;
use hickory_server::proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};

use crate::handler::Handler;

/// Answers one message received from `src` through `reply`.
pub async fn answer(message: &[u8], src: SocketAddr, protocol: Protocol, handler: &Handler, mut reply: impl ResponseHandler) {
    match Request::from_bytes(message.to_vec(), src, protocol) {
        Ok(request) if request.metadata.message_type == MessageType::Query => {
            handler.handle_request::<_, TokioTime>(&request, reply).await;
        }
        // A response sent to a server is never answered (no reflection loops).
        Ok(_) => {}
        Err(_) => {
            let Ok(header) = Header::read(&mut BinDecoder::new(message)) else {
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

/// The wire form of `response`, truncated (TC) to fit `max_size` bytes.
pub fn encode<'a>(
    response: MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    max_size: u16,
) -> Result<(ResponseInfo, Vec<u8>), NetError> {
    let mut bytes = Vec::with_capacity(512);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_max_size(max_size);
    let info = response.destructive_emit(&mut encoder)?;
    Ok((info, bytes))
}
