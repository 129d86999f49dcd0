//! Authorization of DynamoDB and Streams requests on the shared policy
//! engine: every table, index and stream a request touches is named as its
//! ARN (`arn:aws:dynamodb:REGION:ACCOUNT:table/NAME`, `.../index/NAME`,
//! `.../stream/LABEL`) and must be allowed for the request's action. Batch
//! operations need their action on every table; a transaction needs each
//! item's own action (`PutItem`, `UpdateItem`, `DeleteItem`,
//! `ConditionCheckItem`, `GetItem`) on its table, as in DynamoDB. Keys
//! without an identity policy keep DynamoDB's old rule here: any table.

use serde_json::Value;
use tandem_iam::{Caller, Context, Decision, Request, Verdict};

use crate::api::DynamoApi;
use crate::api_error::{DynamoError, DynamoResult, ErrorKind};
use crate::operation::DynamoOp;

/// On whose behalf a request runs.
pub enum Authority<'a> {
    /// The node itself (`tandem apply` creating an app's tables): trusted.
    Node,
    /// A client, with the request's condition keys.
    Client { caller: &'a Caller, context: &'a Context },
}

/// The actions of a transaction's items, by their member name.
const TRANSACT_ACTIONS: [(&str, &str); 5] = [
    ("Put", "dynamodb:PutItem"),
    ("Update", "dynamodb:UpdateItem"),
    ("Delete", "dynamodb:DeleteItem"),
    ("ConditionCheck", "dynamodb:ConditionCheckItem"),
    ("Get", "dynamodb:GetItem"),
];

impl DynamoApi {
    /// The ARN of a table of this region.
    fn table_arn(&self, table: &str) -> String {
        format!("arn:aws:dynamodb:{}:{}:table/{table}", self.region, tandem_iam::decide::ACCOUNT)
    }

    /// Every (action, resource ARN) a request needs allowed.
    fn needs(&self, op: DynamoOp, req: &Value) -> Vec<(&'static str, String)> {
        let str_of = |v: &Value, field: &str| v.get(field).and_then(Value::as_str).map(str::to_string);
        let on = |resource: String| vec![(op.action(), resource)];
        match op {
            DynamoOp::ListTables => on("*".into()),
            DynamoOp::ListStreams => match str_of(req, "TableName") {
                Some(t) => on(format!("{}/stream/*", self.table_arn(&t))),
                None => on("*".into()),
            },
            DynamoOp::TagResource | DynamoOp::UntagResource | DynamoOp::ListTagsOfResource => {
                str_of(req, "ResourceArn").map(on).unwrap_or_default()
            }
            DynamoOp::BatchGetItem | DynamoOp::BatchWriteItem => req
                .get("RequestItems")
                .and_then(Value::as_object)
                .map(|items| items.keys().map(|t| (op.action(), self.table_arn(t))).collect())
                .unwrap_or_default(),
            DynamoOp::TransactWriteItems | DynamoOp::TransactGetItems => req
                .get("TransactItems")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|item| {
                    TRANSACT_ACTIONS
                        .iter()
                        .filter_map(|(member, action)| Some((*action, self.table_arn(&str_of(item.get(*member)?, "TableName")?))))
                })
                .collect(),
            DynamoOp::Query | DynamoOp::Scan => match (str_of(req, "TableName"), str_of(req, "IndexName")) {
                (Some(t), Some(i)) => on(format!("{}/index/{i}", self.table_arn(&t))),
                (Some(t), None) => on(self.table_arn(&t)),
                _ => vec![],
            },
            DynamoOp::DescribeStream | DynamoOp::GetShardIterator => str_of(req, "StreamArn").map(on).unwrap_or_default(),
            DynamoOp::GetRecords => str_of(req, "ShardIterator")
                .and_then(|it| crate::ops::streams::decode_iterator(&it).ok())
                .map(|(arn, _)| on(arn))
                .unwrap_or_default(),
            _ => str_of(req, "TableName").map(|t| on(self.table_arn(&t))).unwrap_or_default(),
        }
    }

    /// Refuses the request unless the caller may perform it on everything it names.
    pub(crate) fn authorize(&self, op: DynamoOp, req: &Value, authority: &Authority<'_>) -> DynamoResult<()> {
        let Authority::Client { caller, context } = authority else {
            return Ok(());
        };
        if caller.admin || (caller.policy.is_none() && caller.session_policy.is_none()) {
            return Ok(());
        }
        for (action, resource) in self.needs(op, req) {
            let request = Request {
                action,
                resource: &resource,
                who: caller.who(),
                context,
            };
            if let Decision::Deny { explicit } = tandem_iam::decide(Some(caller), &request, Verdict::Silent, || true) {
                let why = match explicit {
                    true => "with an explicit deny in an identity-based policy",
                    false => "because no identity-based policy allows it",
                };
                return Err(DynamoError::new(
                    ErrorKind::AccessDenied,
                    format!(
                        "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
                        caller.arn
                    ),
                ));
            }
        }
        Ok(())
    }
}
