//! Every DynamoDB and DynamoDB Streams operation, as one typed enum parsed
//! once per request from `X-Amz-Target`: its metrics label, its IAM action
//! (`dynamodb:PutItem`; Streams actions are `dynamodb:` too, as in AWS), which
//! protocol it belongs to, and whether it writes. The router, authorization,
//! metrics and the fencing test read it; an unrecognised target is the one
//! value `Unknown`, so clients cannot create metric series.

use crate::api::{DYNAMODB_TARGET, STREAMS_TARGET};

/// The two JSON protocols served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    DynamoDb,
    Streams,
}

/// An operation's row: its protocol, IAM action, whether it writes.
#[derive(Debug, Clone, Copy)]
pub struct OpInfo {
    pub protocol: Protocol,
    pub action: &'static str,
    pub writes: bool,
}

const fn db(action: &'static str, writes: bool) -> OpInfo {
    OpInfo {
        protocol: Protocol::DynamoDb,
        action,
        writes,
    }
}

const fn streams(action: &'static str) -> OpInfo {
    OpInfo {
        protocol: Protocol::Streams,
        action,
        writes: false,
    }
}

tandem_iam::operations! {
    /// One operation of the DynamoDB or Streams API.
    pub enum DynamoOp: OpInfo {
        CreateTable => db("dynamodb:CreateTable", true),
        DescribeTable => db("dynamodb:DescribeTable", false),
        ListTables => db("dynamodb:ListTables", false),
        DeleteTable => db("dynamodb:DeleteTable", true),
        UpdateTable => db("dynamodb:UpdateTable", true),
        TagResource => db("dynamodb:TagResource", true),
        UntagResource => db("dynamodb:UntagResource", true),
        ListTagsOfResource => db("dynamodb:ListTagsOfResource", false),
        UpdateTimeToLive => db("dynamodb:UpdateTimeToLive", true),
        DescribeTimeToLive => db("dynamodb:DescribeTimeToLive", false),
        PutItem => db("dynamodb:PutItem", true),
        GetItem => db("dynamodb:GetItem", false),
        UpdateItem => db("dynamodb:UpdateItem", true),
        DeleteItem => db("dynamodb:DeleteItem", true),
        Query => db("dynamodb:Query", false),
        Scan => db("dynamodb:Scan", false),
        BatchGetItem => db("dynamodb:BatchGetItem", false),
        BatchWriteItem => db("dynamodb:BatchWriteItem", true),
        TransactWriteItems => db("dynamodb:TransactWriteItems", true),
        TransactGetItems => db("dynamodb:TransactGetItems", false),
        DescribeEndpoints => db("dynamodb:DescribeEndpoints", false),
        ListStreams => streams("dynamodb:ListStreams"),
        DescribeStream => streams("dynamodb:DescribeStream"),
        GetShardIterator => streams("dynamodb:GetShardIterator"),
        GetRecords => streams("dynamodb:GetRecords"),
    }
}

impl DynamoOp {
    /// The operation a full `X-Amz-Target` value names.
    pub fn from_target(target: &str) -> Self {
        let (protocol, name) = match (target.strip_prefix(DYNAMODB_TARGET), target.strip_prefix(STREAMS_TARGET)) {
            (Some(name), _) => (Protocol::DynamoDb, name),
            (_, Some(name)) => (Protocol::Streams, name),
            _ => return DynamoOp::Unknown,
        };
        let op = DynamoOp::from_name(name);
        match op.protocol() == Some(protocol) {
            true => op,
            false => DynamoOp::Unknown,
        }
    }

    /// The protocol whose target prefix names it (`None`: unknown).
    pub fn protocol(self) -> Option<Protocol> {
        self.info().map(|i| i.protocol)
    }

    /// The IAM action, as in policies.
    pub fn action(self) -> &'static str {
        self.info().map_or("dynamodb:Unknown", |i| i.action)
    }

    /// Whether it changes state (fencing, metrics).
    pub fn writes(self) -> bool {
        self.info().is_some_and(|i| i.writes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_to_their_operation_and_nothing_else() {
        for op in DynamoOp::ALL {
            let prefix = match op.protocol() {
                Some(Protocol::DynamoDb) => DYNAMODB_TARGET,
                _ => STREAMS_TARGET,
            };
            assert_eq!(DynamoOp::from_target(&format!("{prefix}{}", op.name())), *op);
            assert_eq!(
                op.action().strip_prefix("dynamodb:"),
                Some(op.name()),
                "the action is named after the operation"
            );
        }
        assert_eq!(DynamoOp::from_target("DynamoDB_20120810.GetRecords"), DynamoOp::Unknown);
        assert_eq!(DynamoOp::from_target("DynamoDB_20120810.Nope"), DynamoOp::Unknown);
        assert_eq!(DynamoOp::from_target("garbage"), DynamoOp::Unknown);
    }
}
