"""
sosw.local._moto_limits: moto's DynamoDB refuses what DynamoDB refuses for its size limits. Each test shows what moto
does unpatched (why the patch exists) and patched, in process with ``moto.mock_aws``, and what the tables hold after.
"""

import base64

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from sosw.local import _moto_limits

TABLE = {
    "TableName": "tasks",
    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}
KB = 1024


@pytest.fixture
def ddb(monkeypatch):
    """moto's DynamoDB in this process, with the ``tasks`` table."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-west-2")
        client.create_table(**TABLE)
        yield client


def item(item_id: str, payload_bytes: int) -> dict:
    return {"id": {"S": item_id}, "payload": {"S": "x" * payload_bytes}}


def ids(client) -> list:
    pages = client.get_paginator("scan").paginate(TableName="tasks")
    return sorted(i["id"]["S"] for page in pages for i in page["Items"])


def five_mb_transaction() -> list:
    return [{"Put": {"TableName": "tasks", "Item": item(f"t{i:02}", 200 * KB)}} for i in range(25)]


def test_unpatched_moto_accepts_a_transaction_over_4_mb(ddb):
    ddb.transact_write_items(TransactItems=five_mb_transaction())
    assert len(ids(ddb)) == 25


def test_a_transaction_over_4_mb_is_refused_whole(ddb, monkeypatch):
    _moto_limits.apply(monkeypatch.setattr)
    with pytest.raises(ClientError) as err:
        ddb.transact_write_items(TransactItems=five_mb_transaction())
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert err.value.response["Error"]["Message"] == _moto_limits.TRANSACTION_TOO_LARGE
    assert ids(ddb) == []


def test_a_transaction_of_4_mb_exactly_is_accepted(ddb, monkeypatch):
    _moto_limits.apply(monkeypatch.setattr)
    actions = [{"Put": {"TableName": "tasks", "Item": item(f"t{i:02}", 200 * KB)}} for i in range(20)]
    actions.append({"Put": {"TableName": "tasks", "Item": item("last", 0)}})
    room = 4 * KB * KB - _moto_limits.transaction_size(actions)
    actions[-1]["Put"]["Item"]["payload"]["S"] = "x" * room
    assert _moto_limits.transaction_size(actions) == 4 * KB * KB
    ddb.transact_write_items(TransactItems=actions)
    assert len(ids(ddb)) == 21


def test_transaction_size_counts_keys_and_expression_values_and_decoded_binary():
    actions = [
        {"Put": {"TableName": "t", "Item": {"id": {"S": "a"}, "b": {"B": base64.b64encode(b"123456").decode()}}}},
        {"Update": {"TableName": "t", "Key": {"id": {"S": "bb"}}, "UpdateExpression": "SET #p = :p",
                    "ExpressionAttributeNames": {"#p": "payload"}, "ExpressionAttributeValues": {":p": {"S": "xyz"}}}},
        {"Delete": {"TableName": "t", "Key": {"id": {"S": "ccc"}}}},
    ]
    assert _moto_limits.transaction_size(actions) == (2 + 1) + (1 + 6) + (2 + 2) + 3 + (2 + 3)


def list_heavy_item(item_id: str) -> dict:
    """Over 400 KB by AWS's rules (3 bytes a list plus a byte per element) though under moto's own measure (which
    counts neither)."""
    return {"id": {"S": item_id}, "payload": {"S": "x" * 398_000}, "flags": {"L": [{"BOOL": True}] * 6000}}


def test_unpatched_moto_accepts_an_item_over_400_kb_by_aws_rules(ddb):
    ddb.put_item(TableName="tasks", Item=list_heavy_item("a"))
    assert ids(ddb) == ["a"]


@pytest.mark.parametrize("write", [
    lambda c, i: c.put_item(TableName="tasks", Item=i),
    lambda c, i: c.transact_write_items(TransactItems=[{"Put": {"TableName": "tasks", "Item": i}}]),
])
def test_an_item_over_400_kb_by_aws_rules_is_refused(ddb, monkeypatch, write):
    _moto_limits.apply(monkeypatch.setattr)
    with pytest.raises(ClientError, match="Item size has exceeded the maximum allowed size"):
        write(ddb, list_heavy_item("a"))
    assert ids(ddb) == []


def batch(items: list) -> dict:
    return {"tasks": [{"PutRequest": {"Item": i}} for i in items]}


def test_unpatched_moto_writes_a_batch_up_to_an_oversized_item_and_takes_26_writes(ddb):
    with pytest.raises(ClientError):
        ddb.batch_write_item(RequestItems=batch([item("first", 1), item("big", 410 * KB)]))
    assert ids(ddb) == ["first"]
    ddb.batch_write_item(RequestItems=batch([item(f"t{i:02}", 1) for i in range(26)]))
    assert len(ids(ddb)) == 27


def test_a_batch_with_an_oversized_item_is_refused_whole(ddb, monkeypatch):
    _moto_limits.apply(monkeypatch.setattr)
    with pytest.raises(ClientError, match="Item size has exceeded the maximum allowed size"):
        ddb.batch_write_item(RequestItems=batch([item("first", 1), list_heavy_item("big")]))
    assert ids(ddb) == []


def test_a_batch_of_26_writes_is_refused(ddb, monkeypatch):
    _moto_limits.apply(monkeypatch.setattr)
    with pytest.raises(ClientError, match=_moto_limits.TOO_MANY_WRITES):
        ddb.batch_write_item(RequestItems=batch([item(f"t{i:02}", 1) for i in range(26)]))
    assert ids(ddb) == []
    ddb.batch_write_item(RequestItems=batch([item(f"t{i:02}", 1) for i in range(25)]))
    assert len(ids(ddb)) == 25
