//! The query path: rate limiting (UDP), EDNS(0), the checks that end in an
//! error code (opcode, query count, class, zone), the zone lookup with the
//! dynamic answers, and the response. hickory's server layers do the wire
//! format, UDP/TCP framing and truncation to the requestor's payload size.

use std::iter;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Edns, Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_server::proto::rr::{DNSClass, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;

use crate::choose::{self, Rule};
use crate::metrics::Metrics;
use crate::rrl::{RateLimiter, Verdict};
use crate::state::State;
use crate::zone::{Lookup, Zones};

/// Largest UDP payload the server offers (the DNS flag day 2020 value).
const MAX_UDP_PAYLOAD: u16 = 1232;

pub struct Handler {
    pub zones: Zones,
    pub state: Arc<State>,
    pub rrl: RateLimiter,
    pub metrics: Arc<Metrics>,
}

/// What a query gets.
enum Outcome {
    Error(ResponseCode),
    Found(Lookup),
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, mut response: R) -> ResponseInfo {
        let mut metadata = Metadata::response_from_request(&request.metadata);
        if request.protocol() == Protocol::Udp {
            match self.rrl.check(request.src().ip(), Instant::now()) {
                Verdict::Answer => {}
                Verdict::Drop => {
                    self.metrics.rate_limited(false);
                    return info(metadata);
                }
                Verdict::Slip => {
                    self.metrics.rate_limited(true);
                    metadata.truncation = true;
                    let message = MessageResponseBuilder::new(&request.queries, None).build_no_records(metadata);
                    return response.send_response(message).await.unwrap_or(info(metadata));
                }
            }
        }
        let edns = response_edns(request);
        let qtype = request.queries.queries().first().map(|q| q.query_type());
        let outcome = self.decide(request);
        let empty = Vec::new();
        let (answers, authority) = match &outcome {
            Outcome::Error(code) => {
                metadata.response_code = *code;
                (&empty, &empty)
            }
            Outcome::Found(lookup) => {
                metadata.authoritative = true;
                if lookup.nxdomain {
                    metadata.response_code = ResponseCode::NXDomain;
                }
                (&lookup.answers, &lookup.authority)
            }
        };
        self.metrics.query(metadata.response_code, qtype);
        let message = MessageResponseBuilder::new(&request.queries, edns.as_ref()).build(
            metadata,
            answers.iter(),
            authority.iter(),
            iter::empty::<&Record>(),
            iter::empty::<&Record>(),
        );
        match response.send_response(message).await {
            Ok(sent) => sent,
            Err(e) => {
                tracing::debug!(error = %e, "response not sent");
                info(metadata)
            }
        }
    }
}

impl Handler {
    fn decide(&self, request: &Request) -> Outcome {
        if request.metadata.message_type != MessageType::Query {
            return Outcome::Error(ResponseCode::FormErr);
        }
        if request.edns.as_ref().is_some_and(|e| e.version() > 0) {
            return Outcome::Error(ResponseCode::BADVERS);
        }
        if request.metadata.op_code != OpCode::Query {
            return Outcome::Error(ResponseCode::NotImp);
        }
        let [query] = request.queries.queries() else {
            return Outcome::Error(ResponseCode::FormErr);
        };
        if !matches!(query.query_class(), DNSClass::IN | DNSClass::ANY) {
            return Outcome::Error(ResponseCode::Refused);
        }
        if matches!(query.query_type(), RecordType::AXFR | RecordType::IXFR) {
            return Outcome::Error(ResponseCode::Refused);
        }
        let Some(zone) = self.zones.find(query.name()) else {
            return Outcome::Error(ResponseCode::Refused);
        };
        let resolve = |rule: &Rule| self.addresses(rule);
        Outcome::Found(zone.lookup(query.name(), query.query_type(), &resolve))
    }

    /// The addresses of the regions `rule` picks now.
    fn addresses(&self, rule: &Rule) -> Vec<IpAddr> {
        choose::regions(rule, &*self.state, |n| rand::random_range(0..n.max(1)))
            .iter()
            .filter_map(|name| self.state.region(name))
            .flat_map(|r| r.addresses.iter().copied())
            .collect()
    }
}

/// The response's OPT record when the query had one: version 0, and the
/// smaller of the requestor's payload size and ours (never under 512).
fn response_edns(request: &Request) -> Option<Edns> {
    let asked = request.edns.as_ref()?;
    let mut edns = Edns::new();
    edns.set_version(0);
    edns.set_max_payload(asked.max_payload().clamp(512, MAX_UDP_PAYLOAD));
    Some(edns)
}

/// The record of a response that was not (or could not be) sent.
fn info(metadata: Metadata) -> ResponseInfo {
    ResponseInfo::from(Header {
        metadata,
        counts: HeaderCounts::default(),
    })
}
