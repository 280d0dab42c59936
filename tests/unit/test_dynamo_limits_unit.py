"""DynamoDB's limits held before a request is sent: item sizes by AWS's rules, and requests cut in order to 100
actions / 4 MB a transaction and 25 items / 16 MB a batch, never splitting what must be atomic. No network: the client
gets a boto3 stand-in that fails on any use, so an error raised here was raised before any call."""

import pytest
from boto3.dynamodb.types import Binary

from sosw.components import _dynamo_calls, _dynamo_marshal
from sosw.components.dynamo_db import DynamoDbClient
from sosw.exceptions import InvalidDynamoInput
from tests.unit.test_dynamo_db_unit import CONFIG, NoNetwork


@pytest.fixture
def client():
    return DynamoDbClient(CONFIG, dynamo_client=NoNetwork())

@pytest.mark.parametrize("typed, expected", [
    ({"S": "abc"}, 3),
    ({"S": "é€"}, 5),                     # UTF-8 bytes, not characters
    ({"N": "123"}, 3),                     # a byte per two significant digits, plus one
    ({"N": "100"}, 2),                     # trailing zeros trimmed
    ({"N": "0.001"}, 2),                   # leading zeros trimmed
    ({"N": "-12"}, 3),                     # one more for the sign
    ({"N": "12345678901234567890123456789012345678"}, 20),
    ({"B": b"\x00\x01\x02"}, 3),
    ({"B": "abc"}, 3),                     # text given to a client is sent as its UTF-8 bytes
    ({"BOOL": True}, 1),
    ({"NULL": True}, 1),
    ({"SS": ["ab", "c"]}, 3),
    ({"NS": ["1", "22"]}, 4),
    ({"BS": [b"ab", b"c"]}, 3),
    ({"L": []}, 3),
    ({"M": {}}, 3),
    ({"L": [{"S": "a"}, {"BOOL": False}]}, 3 + (1 + 1) + (1 + 1)),
    ({"M": {"key": {"S": "vv"}}}, 3 + 1 + 3 + 2),
    ({"M": {"l": {"L": [{"N": "1"}]}}}, 3 + 1 + 1 + (3 + 1 + 2)),
])
def test_value_size_follows_aws_item_size_rules(typed, expected):
    assert _dynamo_marshal.value_size(typed) == expected


def test_binary_as_base64_text_counts_its_decoded_bytes():
    assert _dynamo_marshal.value_size({"B": "AAEC"}, base64_binary=True) == 3
    assert _dynamo_marshal.value_size({"BS": ["AAEC", "AA=="]}, base64_binary=True) == 4


def test_item_size_counts_names_and_values_of_what_boto3_serializes(client):
    item = client.dict_to_dynamo({"hash_col": "abc", "range_col": 1000, "some_map": {"a": [1, True]},
                                  "blob": Binary(b"12345")}, strict=False)
    assert _dynamo_marshal.item_size(item) == (8 + 3) + (9 + 2) + (8 + 3 + 1 + 1 + (3 + 1 + 2 + 1 + 1)) + (4 + 5)


def test_value_size_refuses_an_unknown_type():
    with pytest.raises(ValueError, match="'X'"):
        _dynamo_marshal.value_size({"X": "1"})


def _put(table, key, payload_bytes=0):
    item = {"task_id": {"S": key}}
    if payload_bytes:
        item["payload"] = {"S": "x" * payload_bytes}
    return {"Put": {"TableName": table, "Item": item}}


def _delete(table, key):
    return {"Delete": {"TableName": table, "Key": {"task_id": {"S": key}},
                       "ConditionExpression": "attribute_exists(#n0)", "ExpressionAttributeNames": {"#n0": "task_id"}}}


def _move(key, payload_bytes):
    """Like the Scavenger's archive: the item put into closed, deleted from tasks, an event."""
    return key, [_put("closed", key, payload_bytes), _delete("tasks", key), _put("meta", key)]


@pytest.mark.parametrize("units, expected", [
    ([], []),
    ([(1, 10)] * 5, [5]),
    ([(1, 10)] * 250, [100, 100, 50]),          # by count alone, as before
    ([(1, 400)] * 5, [2, 2, 1]),                # by bytes: 1000 a request
    ([(1, 600), (1, 400), (1, 1)], [2, 1]),     # exactly at the limit fits
    ([(40, 1), (40, 1), (40, 1)], [2, 1]),      # groups of 40 actions: 80, then 40
    ([(3, 100)] * 40, [10, 10, 10, 10]),        # groups of 3: 99 actions by count, 1000 bytes bind first
])
def test_pack_cuts_in_order_at_count_or_bytes_never_splitting_a_unit(units, expected):
    batches = _dynamo_calls.pack(units, lambda u: u[0], lambda u: u[1], 100, 1000, str)
    assert [len(b) for b in batches] == expected
    assert [u for b in batches for u in b] == units


def test_pack_refuses_a_unit_over_a_limit_on_its_own():
    with pytest.raises(InvalidDynamoInput, match="big one: 101 actions"):
        _dynamo_calls.pack([(101, 1)], lambda u: u[0], lambda u: u[1], 100, 1000, lambda u: "big one")
    with pytest.raises(InvalidDynamoInput, match="1001 bytes"):
        _dynamo_calls.pack([(1, 1001)], lambda u: u[0], lambda u: u[1], 100, 1000, str)


def test_transaction_batches_keep_25_archives_of_200_kb_under_4_mb_without_splitting_a_task():
    groups = [_move(f"t{i:02}", 200 * 1024) for i in range(25)]
    sizes = [sum(_dynamo_calls.action_size(a) for a in actions) for _, actions in groups]
    assert sum(sizes) > 5 * 1000 * 1000  # the 5.03 MB that DynamoDB refused

    batches = _dynamo_calls.transaction_batches(groups)

    assert [len(b) for b in batches] == [20, 5]
    assert [g for b in batches for g in b] == groups
    for batch in batches:
        assert sum(_dynamo_calls.action_size(a) for _, actions in batch for a in actions) <= 4 * 1024 * 1024


def test_transaction_batches_of_small_tasks_fill_100_actions_as_before():
    groups = [_move(f"t{i:03}", 100) for i in range(100)]
    assert [len(b) for b in _dynamo_calls.transaction_batches(groups)] == [33, 33, 33, 1]


def test_transaction_batches_refuse_an_item_over_400_kb_naming_the_group_and_table():
    groups = [_move("small", 10), _move("huge", 400 * 1024)]
    with pytest.raises(InvalidDynamoInput, match=r"put in closed by the actions of 'huge' is 409618 bytes") as err:
        _dynamo_calls.transaction_batches(groups)
    assert err.value.value == 409618 and err.value.field == "item"


def test_an_item_of_exactly_400_kb_is_accepted():
    item = {"p": {"S": "x" * (400 * 1024 - 1)}}
    assert _dynamo_marshal.item_size(item) == _dynamo_calls.ITEM_BYTES
    _dynamo_calls.check_item_sizes([("t", item)], lambda table, i: "never named")


def test_action_size_counts_update_values_names_and_expressions(client):
    action = client.make_update_transaction_item({"hash_col": "a", "range_col": 1},
                                                 attributes_to_update={"name": "x" * 1000},
                                                 condition_expression="attribute_exists hash_col")
    size = _dynamo_calls.action_size(action)
    request = action["Update"]
    expressions = len(request["UpdateExpression"]) + len(request["ConditionExpression"])
    names = sum(len(n) for n in request["ExpressionAttributeNames"].values())
    assert size == (8 + 1) + (9 + 2) + 1000 + names + expressions


def test_an_oversized_put_refuses_before_any_call_even_when_describe_table_fails(client):
    """The stand-in client fails any call: the size error comes out, not a connection error; the key is unknown
    as DescribeTable could not answer (and the config has no hash_key)."""
    with pytest.raises(InvalidDynamoInput, match=r"item \(key unknown\) of autotest_dynamo_db is 4096\d{2} bytes"):
        client.put({"hash_col": "a", "range_col": 1, "name": "x" * 409600})


@pytest.mark.parametrize("call", [
    lambda c, row: c.batch_put([{"hash_col": "ok", "range_col": 1}, row]),
    lambda c, row: c.transact_write(c.make_put_transaction_item({"hash_col": "ok", "range_col": 1}),
                                    c.make_put_transaction_item(row)),
])
def test_oversized_items_in_batches_and_transactions_refuse_before_any_call(call):
    client = DynamoDbClient({**CONFIG, "hash_key": "hash_col"}, dynamo_client=NoNetwork())
    with pytest.raises(InvalidDynamoInput, match=r"item \{'hash_col': 'big'\} of autotest_dynamo_db is \d+ bytes, "
                                                 r"over DynamoDB's limit of 400 KB"):
        call(client, {"hash_col": "big", "range_col": 2, "name": "x" * 409600})
    stats = client.get_stats()
    assert stats["dynamo_batch_write_item_calls"] == stats["dynamo_transact_write_items_calls"] == 0
