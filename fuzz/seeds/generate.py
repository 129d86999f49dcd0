#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target (fuzz/seeds/<target>/<name>).

Seeds are valid or nearly valid inputs in each target's format (fields
separated by NUL bytes, see the doc comment of each fuzz_targets/*.rs), so the
fuzzers start deep in the parsers. Run it again after changing a format:
    python3 fuzz/seeds/generate.py
"""

import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
NUL = b"\x00"


def fields(*parts) -> bytes:
    return NUL.join(p if isinstance(p, bytes) else p.encode() for p in parts)


def j(value) -> str:
    return json.dumps(value, separators=(",", ":"))


ITEM = j({"id": {"S": "a"}, "r": {"N": "1"}, "n": {"N": "-12.5e3"}, "b": {"B": "AAE="},
          "m": {"M": {"k": {"S": "v"}, "l": {"L": [{"N": "1"}, {"BOOL": True}, {"NULL": True}]}}},
          "ss": {"SS": ["p", "q"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": ["AQ==", "Ag=="]}})
NAMES = j({"#s": "status", "#n": "name", "#k": "k"})
VALUES = j({":v": {"S": "x"}, ":n": {"N": "3"}, ":l": {"L": [{"S": "z"}]}, ":ss": {"SS": ["p"]},
            ":t": {"S": "N"}, ":lo": {"N": "1"}, ":hi": {"N": "9"}})

SEEDS = {
    "expr_condition": [
        fields("attribute_exists(id) AND #s = :v", NAMES, VALUES, ITEM),
        fields("NOT (n BETWEEN :lo AND :hi) OR size(m.l) > :n", NAMES, VALUES, ITEM),
        fields("#n IN (:v, :n) AND begins_with(id, :v) AND contains(ss, :v)", NAMES, VALUES, ITEM),
        fields("attribute_type(m.l[0], :t) AND attribute_not_exists(#k.x[3])", NAMES, VALUES, ITEM),
        fields("(a = :v OR b <> :n) AND (c < :lo OR d >= :hi)", NAMES, VALUES, ITEM),
        fields("((a = :v))", "", VALUES, ITEM),
    ],
    "expr_key_condition": [
        fields("id = :v", "", VALUES, "id", "", ITEM),
        fields("id = :v AND r BETWEEN :lo AND :hi", "", VALUES, "id", "r", ITEM),
        fields("#k = :v AND begins_with(r, :v)", NAMES, VALUES, "k", "r", ITEM),
        fields("r > :n AND id = :v", "", VALUES, "id", "r", ITEM),
    ],
    "expr_update": [
        fields("SET #s = :v, n = n + :n, m.l[1] = :v REMOVE b", NAMES, VALUES, ITEM),
        fields("SET l = list_append(if_not_exists(l, :l), :l) ADD ss :ss DELETE ss :ss", NAMES, VALUES, ITEM),
        fields("SET x = :n - n ADD n :n", "", VALUES, ITEM),
        fields("REMOVE m.l[0], m.k SET m.new = :v", "", VALUES, ITEM),
    ],
    "expr_projection": [
        fields("id, m.l[1], #s", NAMES, ITEM),
        fields("m.l[2], m.l[0], m.k, ss", "", ITEM),
        fields("a.b.c[1][2].d", "", ITEM),
    ],
    "dynamo_json": [
        ITEM.encode(),
        j({"M": {"a": {"L": [{"N": "1e-130"}, {"N": "9.9999999999999999999999999999999999999E+125"}]}}}).encode(),
        j({"NS": ["0", "-0.0", "100"]}).encode(),
        j({"S": "x", "N": "1"}).encode(),
        j({"BOOL": "yes"}).encode(),
    ],
    "policy": [
        fields(j({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                                          "Resource": "arn:aws:s3:::fuzz/*"}]}),
               "s3:GetObject", "arn:aws:s3:::fuzz/k", "alice"),
        fields(j({"Statement": {"Effect": "Deny", "NotPrincipal": {"AWS": ["arn:aws:iam::1:user/bob", "AKFUZZ"]},
                                "NotAction": ["s3:Get*", "s3:?ist*"], "NotResource": "arn:aws:s3:::fuzz"}}),
               "s3:PutObject", "arn:aws:s3:::fuzz/a/b", "bob"),
        fields(j({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*",
                                 "Condition": {}}]}), "s3:ListBucket", "*", ""),
    ],
    "sigv4": [
        fields("POST", "/", "content-type: application/x-amz-json-1.0\nx-amz-target: DynamoDB_20120810.ListTables\n"
               "x-amz-date: 20260101T000000Z\nhost: 127.0.0.1:9000\n"
               "authorization: AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/dynamodb/aws4_request, "
               "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=00", "{}", "us-east-1"),
        fields("GET", "/_tandem/changes?limit=5&after=1&a=b%20c&a=x", "x-amz-content-sha256: UNSIGNED-PAYLOAD\n"
               "x-amz-meta-k:  two   spaces \nx-amz-meta-k: again", "", "eu-west-1"),
        fields("PUT", "/b/k%2Fey%20with%E2%82%AC?versionId=1&uploads", "content-type: text/plain", "body", "ap-1"),
    ],
    "replication_frame": [],
    "dynamo_request": [
        fields("PutItem", j({"TableName": "tbl", "Item": json.loads(ITEM) | {"g": {"S": "x"}},
                             "ConditionExpression": "attribute_not_exists(id)", "ReturnValues": "ALL_OLD"})),
        fields("UpdateItem", j({"TableName": "tbl", "Key": {"id": {"S": "a"}, "r": {"N": "1"}},
                                "UpdateExpression": "SET #s = :v ADD c :n", "ExpressionAttributeNames": {"#s": "s"},
                                "ExpressionAttributeValues": {":v": {"S": "x"}, ":n": {"N": "1"}},
                                "ReturnValues": "UPDATED_NEW"})),
        fields("GetItem", j({"TableName": "tbl", "Key": {"id": {"S": "a"}, "r": {"N": "1"}},
                             "ProjectionExpression": "m.l[1], id", "ConsistentRead": True})),
        fields("Query", j({"TableName": "tbl", "KeyConditionExpression": "id = :v AND r BETWEEN :a AND :b",
                           "FilterExpression": "size(m) > :a", "ExpressionAttributeValues":
                           {":v": {"S": "a"}, ":a": {"N": "0"}, ":b": {"N": "5"}}, "Limit": 2,
                           "ScanIndexForward": False})),
        fields("Query", j({"TableName": "tbl", "IndexName": "gsi", "KeyConditions": {"g": {"ComparisonOperator": "EQ",
                           "AttributeValueList": [{"S": "x"}]}}, "Select": "COUNT"})),
        fields("Scan", j({"TableName": "tbl", "ScanFilter": {"n": {"ComparisonOperator": "GT",
                          "AttributeValueList": [{"N": "1"}]}}, "Segment": 0, "TotalSegments": 2})),
        fields("DeleteItem", j({"TableName": "hsh", "Key": {"pk": {"B": "AAE="}}, "ReturnValues": "ALL_OLD"})),
        fields("BatchWriteItem", j({"RequestItems": {"tbl": [{"PutRequest": {"Item": {"id": {"S": "b"}, "r": {"N": "2"}}}},
                                    {"DeleteRequest": {"Key": {"id": {"S": "a"}, "r": {"N": "1"}}}}]}})),
        fields("BatchGetItem", j({"RequestItems": {"tbl": {"Keys": [{"id": {"S": "a"}, "r": {"N": "1"}}],
                                  "AttributesToGet": ["id"]}}})),
        fields("TransactWriteItems", j({"TransactItems": [
            {"ConditionCheck": {"TableName": "tbl", "Key": {"id": {"S": "a"}, "r": {"N": "1"}},
                                "ConditionExpression": "attribute_exists(id)"}},
            {"Update": {"TableName": "hsh", "Key": {"pk": {"B": "AAI="}}, "UpdateExpression": "SET n = :n",
                        "ExpressionAttributeValues": {":n": {"N": "1"}}}}], "ClientRequestToken": "tok"})),
        fields("TransactGetItems", j({"TransactItems": [{"Get": {"TableName": "tbl",
                                      "Key": {"id": {"S": "a"}, "r": {"N": "1"}}}}]})),
        fields("CreateTable", j({"TableName": "new", "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "N"}],
                                 "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
                                 "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}})),
        fields("UpdateTable", j({"TableName": "tbl", "StreamSpecification": {"StreamEnabled": False}})),
        fields("DescribeTable", j({"TableName": "tbl"})),
        fields("ListTables", j({"Limit": 1, "ExclusiveStartTableName": "h"})),
        fields("UpdateTimeToLive", j({"TableName": "tbl", "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "ttl"}})),
        fields("TagResource", j({"ResourceArn": "arn:aws:dynamodb:us-east:000000000000:table/tbl",
                                 "Tags": [{"Key": "k", "Value": "v"}]})),
        fields("DynamoDBStreams_20120810.ListStreams", j({"TableName": "tbl"})),
        fields("DynamoDBStreams_20120810.DescribeStream", j({"StreamArn": "arn:aws:dynamodb:us-east:000000000000:table/tbl/stream/1"})),
        fields("DynamoDBStreams_20120810.GetShardIterator", j({"StreamArn": "arn:aws:dynamodb:us-east:000000000000:table/tbl/stream/1",
                                                               "ShardId": "shardId-0", "ShardIteratorType": "TRIM_HORIZON"})),
        fields("DeleteTable", j({"TableName": "hsh"})),
    ],
    "s3_xml": [
        b"\x00" + b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag>"
        b"<ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part></CompleteMultipartUpload>",
        b"\x01" + b"<Delete><Quiet>true</Quiet><Object><Key>a</Key><VersionId>v</VersionId></Object>"
        b"<Object><Key>b&amp;c</Key></Object></Delete>",
        b"\x02" + b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>",
        b"\x03" + b"<CORSConfiguration><CORSRule><ID>r</ID><AllowedOrigin>https://*.example.com</AllowedOrigin>"
        b"<AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader>"
        b"<MaxAgeSeconds>60</MaxAgeSeconds></CORSRule></CORSConfiguration>",
        b"\x04" + b"<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status>"
        b"<MfaDelete>Disabled</MfaDelete></VersioningConfiguration>",
        b"\x05" + b"<ReplicationConfiguration><Role>r</Role><Rule><ID>all</ID><Priority>1</Priority><Status>Enabled</Status>"
        b"<Filter><Prefix>p/</Prefix></Filter>"
        b"<Destination><Bucket>arn:aws:s3:::dst</Bucket><StorageClass>STANDARD</StorageClass></Destination>"
        b"<DeleteMarkerReplication><Status>Enabled</Status></DeleteMarkerReplication></Rule>"
        b"<Rule><ID>tagged</ID><Priority>2</Priority><Status>Disabled</Status>"
        b"<Filter><And><Prefix>q/</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter>"
        b"<Destination><Bucket>arn:aws:s3:::dst</Bucket></Destination>"
        b"<DeleteMarkerReplication><Status>Disabled</Status></DeleteMarkerReplication></Rule></ReplicationConfiguration>",
        b"\x06" + b"<AccessControlPolicy><Owner><ID>o</ID></Owner><AccessControlList><Grant>"
        b"<Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\">"
        b"<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>"
        b"<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\"><ID>bob</ID>"
        b"</Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>",
        b"\x07" + b"<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>",
    ],
}

# S3 requests: signing selector (digit 0 as sent, 1 SigV2 header, 2 SigV2 query, 3 SigV4), method, target, headers, body.
S3 = [
    (3, "GET", "/fuzz/k", "range: bytes=1-3", ""),
    (1, "GET", "/fuzz/k", "", ""),
    (2, "GET", "/fuzz/k?versionId=null", "", ""),
    (1, "PUT", "/fuzz/obj", "content-type: text/plain\nx-amz-meta-a: b\nx-amz-tagging: a=b", "hello world"),
    (3, "PUT", "/fuzz/obj2", "x-amz-acl: public-read\ncontent-md5: XUFAKrxLKna5cZ2REBfFkg==", "hello"),
    (3, "GET", "/fuzz?list-type=2&prefix=k&delimiter=/&max-keys=2", "", ""),
    (3, "GET", "/fuzz?versions&key-marker=a", "", ""),
    (3, "POST", "/fuzz?delete", "content-md5: 1B2M2Y8AsgTpgAmY7PhCfg==",
     SEEDS["s3_xml"][1][1:].decode()),
    (3, "PUT", "/fuzz?versioning", "", SEEDS["s3_xml"][4][1:].decode()),
    (3, "PUT", "/fuzz?cors", "", SEEDS["s3_xml"][3][1:].decode()),
    (3, "PUT", "/fuzz?replication", "", SEEDS["s3_xml"][5][1:].decode()),
    (3, "PUT", "/fuzz?acl", "", SEEDS["s3_xml"][6][1:].decode()),
    (3, "PUT", "/fuzz/k?tagging", "", SEEDS["s3_xml"][2][1:].decode()),
    (3, "PUT", "/fuzz?policy", "", SEEDS["policy"][0].split(NUL)[0].decode()),
    (3, "POST", "/fuzz/mp?uploads", "", ""),
    (3, "POST", "/fuzz/mp?uploadId=x", "", SEEDS["s3_xml"][0][1:].decode()),
    (3, "PUT", "/fuzz/copy", "x-amz-copy-source: /fuzz/k\nx-amz-metadata-directive: REPLACE", ""),
    (3, "PUT", "/newbucket", "", SEEDS["s3_xml"][7][1:].decode()),
    (3, "HEAD", "/fuzz/k", "if-none-match: \"x\"\nif-modified-since: Tue, 27 Mar 2007 19:36:42 GMT", ""),
    (3, "DELETE", "/fuzz/k?versionId=abc", "", ""),
    (0, "GET", "/fuzz/k", "authorization: AWS FUZZACCESSKEY:bad=\ndate: Tue, 27 Mar 2007 19:36:42 +0000", ""),
    (0, "GET", "/fuzz/k?AWSAccessKeyId=FUZZACCESSKEY&Expires=99999999999&Signature=abc%3D", "", ""),
    (0, "GET", "/fuzz/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=FUZZACCESSKEY%2F20260101%2Fus-east-1%2Fs3%2F"
     "aws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00", "", ""),
    (0, "PUT", "/fuzz/chunked", "x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD\n"
     "x-amz-decoded-content-length: 5\ncontent-encoding: aws-chunked",
     "5;chunk-signature=00\r\nhello\r\n0;chunk-signature=00\r\n\r\n"),
    (1, "GET", "/?location", "host: fuzz.s3.fuzz.local", ""),
    (3, "GET", "/", "", ""),
]
SEEDS["s3_request"] = [fields(str(s), m, t, h, b) for s, m, t, h, b in S3]


def frame(header: dict, body: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(4, "big") + raw + body


VERSION = {"version_id": "v1", "etag": "\"e\"", "size": 5, "last_modified": 1, "content_type": None,
           "metadata": {}, "delete_marker": False}
SEEDS["replication_frame"] = [
    fields(b"\x03\x07", frame({"seq": 1, "origin": "us-east", "hlc": 9, "op": {"type": "bucket_claim", "name": "b",
                                "claim": {"region": "us-east", "owner": "o", "hlc": 9}}})
           + frame({"seq": 2, "origin": "us-east", "hlc": 10, "op": {"type": "bucket_release", "name": "b"}})),
    fields(b"\x40", frame({"seq": 3, "origin": "ap", "hlc": 11, "op": {"type": "item", "table": "t",
                           "keys": {"id": {"S": "a"}}, "new": {"id": {"S": "a"}}, "by_service": False}})),
    fields(b"\x01", frame({"seq": 4, "origin": "ap", "hlc": 12, "body_len": 5, "op": {"type": "version", "bucket": "b",
                           "key": "k", "version": VERSION}}, b"hello")),
    fields(b"", frame({"seq": 5, "origin": "ap", "hlc": 13, "op": {"type": "table", "definition": {"name": "t"}}})
           + frame({"seq": 6, "origin": "ap", "hlc": 14, "op": {"type": "app_state", "app": "a", "record": {}}})
           + frame({"seq": 7, "origin": "ap", "hlc": 15, "op": {"type": "replica_dropped", "table": "t"}})),
]


def main() -> None:
    for target, seeds in SEEDS.items():
        d = HERE / target
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        for i, seed in enumerate(seeds):
            (d / f"seed-{i:02}").write_bytes(seed)
    print(f"wrote {sum(len(s) for s in SEEDS.values())} seeds for {len(SEEDS)} targets")


if __name__ == "__main__":
    main()
