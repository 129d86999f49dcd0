"""The DynamoDB endpoint around the operations: DescribeEndpoints naming this
node, the bare SerializationException and UnknownOperationException bodies
byte for byte, the CORS preflight and CORS headers a browser needs to call
the API directly, and the `/` health GET DynamoDB answers on its host name."""

import requests

from dynamo_helpers import DDB, ddb_client, raw_request

PREFLIGHT_HEADERS = "authorization,content-type,x-amz-date,x-amz-target,x-amz-user-agent"


def test_describe_endpoints_names_the_node_itself(node):
    r = ddb_client(node).describe_endpoints()
    host = node.endpoint.split("://", 1)[1]
    assert r["Endpoints"] == [{"Address": host, "CachePeriodInMinutes": 1440}]


def test_malformed_json_is_a_bare_serialization_exception(node):
    resp = raw_request(node, DDB + "ListTables", b'{"Limit": ')
    assert resp.status_code == 400
    assert resp.content == b'{"__type":"com.amazon.coral.service#SerializationException"}'
    assert resp.headers["content-type"] == "application/x-amz-json-1.0"


def test_unknown_operation_is_a_bare_unknown_operation_exception(node):
    resp = raw_request(node, DDB + "FlyToTheMoon", {})
    assert resp.status_code == 400
    assert resp.content == b'{"__type":"com.amazon.coral.service#UnknownOperationException"}'


def test_cors_preflight_allows_the_dynamodb_headers(node):
    resp = requests.options(
        node.endpoint + "/",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": PREFLIGHT_HEADERS},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    assert resp.headers["Access-Control-Allow-Headers"] == PREFLIGHT_HEADERS
    assert int(resp.headers["Access-Control-Max-Age"]) > 0
    assert resp.content == b""


def test_responses_carry_cors_headers_for_browsers(node):
    ok = raw_request(node, DDB + "ListTables", {}, extra_headers={"Origin": "https://app.example"})
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == "*"
    assert "x-amzn-RequestId" in ok.headers["Access-Control-Expose-Headers"]
    err = raw_request(node, DDB + "DescribeTable", {"TableName": "no-such-table"}, extra_headers={"Origin": "https://app.example"})
    assert err.status_code == 400 and err.headers["Access-Control-Allow-Origin"] == "*"
    plain = raw_request(node, DDB + "ListTables", {})
    assert "Access-Control-Allow-Origin" not in plain.headers


def test_health_get_on_the_dynamodb_host_name(node):
    resp = requests.get(node.endpoint + "/", headers={"Host": "dynamodb.us-east-1.amazonaws.com"}, timeout=10)
    assert resp.status_code == 200
    assert resp.text == f"healthy: dynamodb.{node.region}.amazonaws.com"
    # Elsewhere an unsigned GET / stays S3's anonymous ListBuckets, which is refused.
    assert requests.get(node.endpoint + "/", timeout=10).status_code == 403
