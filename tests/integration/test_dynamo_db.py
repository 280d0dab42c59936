"""DynamoDbClient against moto: every public method makes a real round trip, and what DynamoDB holds afterwards is
read back with a plain boto3 client (``ddb``) or ``scan_all``, never only through the client under test."""

import datetime
import json
import time
from decimal import Decimal

import boto3
import pytest
from botocore.exceptions import ClientError

from sosw.components.dynamo_db import DynamoDbClient, clean_dynamo_table
from sosw.exceptions import ConditionCheckFailed, TransactionCancelled
from tests.integration.conftest import scan_all

pytestmark = pytest.mark.integration

TABLE = "autotest_dynamo_db"
OTHER = "autotest_other"
WORDS = "autotest_reserved"
GSI = "autotest_by_other"

ROW_MAPPER = {
    "hash_col": "S", "range_col": "N", "other_col": "S", "some_int": "N", "some_float": "N", "some_bool": "BOOL",
    "some_map": "M", "some_list": "L", "json_col": "S", "x": "N", "foo": "N", "name": "S", "completed_at": "S",
    "status": "S", "comment": "S", "counter": "N", "payload": "S", "id": "N",
}
CONFIG = {"table_name": TABLE, "row_mapper": ROW_MAPPER, "required_fields": ["hash_col", "range_col"]}


def spec(name, keys, indexes=(), capacity=None):
    """CreateTable arguments. ``keys``: ``[(attr, type), ...]`` hash first; ``indexes``:
    ``[(index_name, keys, projection_dict)]``; ``capacity``: ``(rcu, wcu)`` for a provisioned table."""
    attrs = {}
    result = {"TableName": name, "KeySchema": []}
    for (attr, kind), key_type in zip(keys, ("HASH", "RANGE")):
        attrs[attr] = kind
        result["KeySchema"].append({"AttributeName": attr, "KeyType": key_type})
    gsis = []
    for index_name, index_keys, projection in indexes:
        gsi = {"IndexName": index_name, "KeySchema": [], "Projection": projection}
        for (attr, kind), key_type in zip(index_keys, ("HASH", "RANGE")):
            attrs[attr] = kind
            gsi["KeySchema"].append({"AttributeName": attr, "KeyType": key_type})
        if capacity:
            gsi["ProvisionedThroughput"] = {"ReadCapacityUnits": capacity[0] + 1, "WriteCapacityUnits": capacity[1] + 1}
        gsis.append(gsi)
    if gsis:
        result["GlobalSecondaryIndexes"] = gsis
    result["AttributeDefinitions"] = [{"AttributeName": a, "AttributeType": t} for a, t in attrs.items()]
    if capacity:
        result["BillingMode"] = "PROVISIONED"
        result["ProvisionedThroughput"] = {"ReadCapacityUnits": capacity[0], "WriteCapacityUnits": capacity[1]}
    else:
        result["BillingMode"] = "PAY_PER_REQUEST"
    return result


MAIN_SPEC = spec(TABLE, [("hash_col", "S"), ("range_col", "N")],
                 indexes=[(GSI, [("other_col", "S"), ("range_col", "N")], {"ProjectionType": "ALL"})])
OTHER_SPEC = spec(OTHER, [("id", "N")])
WORDS_SPEC = spec(WORDS, [("name", "S"), ("comment", "S")])


def seed(table_name, rows):
    """Write rows with plain boto3 (floats become Decimals)."""
    with boto3.resource("dynamodb").Table(table_name).batch_writer() as writer:
        for row in rows:
            writer.put_item(Item=json.loads(json.dumps(row), parse_float=Decimal))


def key(hash_value, range_value):
    """Typed key of the main table."""
    return {"hash_col": {"S": hash_value}, "range_col": {"N": str(range_value)}}


def raw(ddb, hash_value, range_value, table=TABLE):
    """The stored item in DynamoDB's typed syntax, or None."""
    return ddb.get_item(TableName=table, Key=key(hash_value, range_value), ConsistentRead=True).get("Item")


def ranges(table=TABLE, hash_value=None):
    return sorted(int(i["range_col"]) for i in scan_all(table) if hash_value in (None, i["hash_col"]))


@pytest.fixture
def table(make_table):
    return make_table(MAIN_SPEC)


@pytest.fixture
def other(make_table):
    return make_table(OTHER_SPEC)


@pytest.fixture
def words(make_table):
    return make_table(WORDS_SPEC)


@pytest.fixture
def client(table):
    return DynamoDbClient(CONFIG, test=True)


# Typing: row_mapper, dict_to_dynamo / dynamo_to_dict --------------------------------------------------------------

FULL_ROW = {
    "hash_col": "cat", "range_col": 1, "other_col": "blue", "some_int": 42, "some_float": 1.5, "some_bool": True,
    "some_map": {"a": 1, "b": 2.5, "c": {"d": "e"}}, "some_list": [1, 2.5, "three", {"four": 4}],
    "json_col": json.dumps({"k": [1, 2], "v": "w"}),
}


def test_put_stores_row_mapper_types_and_reads_them_back(client, ddb):
    client.put(FULL_ROW)

    item = raw(ddb, "cat", 1)
    assert item["hash_col"] == {"S": "cat"}
    assert item["range_col"] == {"N": "1"}
    assert item["some_int"] == {"N": "42"}
    assert item["some_float"] == {"N": "1.5"}
    assert item["some_bool"] == {"BOOL": True}
    assert item["some_map"] == {"M": {"a": {"N": "1"}, "b": {"N": "2.5"}, "c": {"M": {"d": {"S": "e"}}}}}
    assert item["some_list"] == {"L": [{"N": "1"}, {"N": "2.5"}, {"S": "three"}, {"M": {"four": {"N": "4"}}}]}
    assert item["json_col"] == {"S": FULL_ROW["json_col"]}

    result = client.get_by_key({"hash_col": "cat", "range_col": 1})
    expected = {**FULL_ROW, "json_col": {"k": [1, 2], "v": "w"}}
    assert result == expected
    assert type(result["some_int"]) is int and type(result["range_col"]) is int
    assert type(result["some_float"]) is float
    assert type(result["some_map"]["a"]) is int and type(result["some_list"][1]) is float
    assert result["some_bool"] is True


def test_row_mapper_coerces_values_to_declared_types(client, ddb):
    client.put({"hash_col": "cat", "range_col": "7", "some_int": "12", "other_col": 5, "some_bool": 1})

    item = raw(ddb, "cat", 7)
    assert item["range_col"] == {"N": "7"}
    assert item["some_int"] == {"N": "12"}
    assert item["other_col"] == {"S": "5"}
    assert item["some_bool"] == {"BOOL": True}


@pytest.mark.parametrize("dont_json_loads, expected", [
    (False, {"k": [1, 2], "v": "w"}),
    (True, json.dumps({"k": [1, 2], "v": "w"})),
])
def test_json_object_strings_decoded_unless_dont_json_loads_results(table, dont_json_loads, expected):
    seed(TABLE, [{"hash_col": "cat", "range_col": 1, "json_col": json.dumps({"k": [1, 2], "v": "w"}),
                  "other_col": "{not json}", "some_list": ["[1, 2]"]}])
    client = DynamoDbClient({**CONFIG, "dont_json_loads_results": dont_json_loads}, test=True)

    for result in (client.get_by_key({"hash_col": "cat", "range_col": 1}),
                   client.get_by_query({"hash_col": "cat"})[0],
                   client.get_by_scan()[0]):
        assert result["json_col"] == expected
        assert result["other_col"] == "{not json}"
        assert result["some_list"] == ["[1, 2]"]


@pytest.mark.parametrize("config_extra, argument, expect_extra", [
    ({}, None, False),
    ({}, False, False),
    ({}, True, True),
    ({"fetch_all_fields": True}, None, True),
    ({"fetch_all_fields": True}, False, False),
])
def test_fetch_all_fields(table, config_extra, argument, expect_extra):
    seed(TABLE, [{"hash_col": "cat", "range_col": 1, "other_col": "blue", "unmapped": "surprise"}])
    client = DynamoDbClient({**CONFIG, **config_extra}, test=True)
    wanted = {"hash_col": "cat", "range_col": 1, "other_col": "blue"}
    if expect_extra:
        wanted["unmapped"] = "surprise"

    assert client.get_by_key({"hash_col": "cat", "range_col": 1}, fetch_all_fields=argument) == wanted
    assert client.get_by_query({"hash_col": "cat"}, fetch_all_fields=argument) == [wanted]
    assert client.get_by_scan(fetch_all_fields=argument) == [wanted]
    assert client.batch_get_items_one_table([{"hash_col": "cat", "range_col": 1}],
                                            fetch_all_fields=argument) == [wanted]


def test_without_row_mapper_all_fields_are_returned(table):
    seed(TABLE, [{"hash_col": "cat", "range_col": 1, "anything": 2.5}])
    client = DynamoDbClient({"table_name": TABLE}, test=True)

    assert client.get_by_query({"hash_col": "cat"}) == [{"hash_col": "cat", "range_col": 1, "anything": 2.5}]


def test_dict_to_dynamo_round_trips_through_plain_boto3(client, ddb):
    row = {"hash_col": "cat", "range_col": 3, "some_float": 0.1, "some_bool": False, "some_map": {"n": 1.25},
           "some_list": [True, "s"], "unmapped": "dropped in strict mode"}

    typed = client.dict_to_dynamo(row)
    assert "unmapped" not in typed
    ddb.put_item(TableName=TABLE, Item=typed)

    stored = raw(ddb, "cat", 3)
    assert stored == typed
    assert client.dynamo_to_dict(stored) == {k: v for k, v in row.items() if k != "unmapped"}

    loose = client.dict_to_dynamo(row, strict=False)
    ddb.put_item(TableName=TABLE, Item=loose)
    assert raw(ddb, "cat", 3)["unmapped"] == {"S": "dropped in strict mode"}


def test_dict_to_dynamo_strict_refuses_required_fields_missing_from_row_mapper(table, ddb):
    client = DynamoDbClient({**CONFIG, "required_fields": ["hash_col", "range_col", "unmapped"]}, test=True)

    with pytest.raises(ValueError, match="unmapped"):
        client.dict_to_dynamo({"hash_col": "cat", "range_col": 1, "unmapped": "x"})
    assert client.dict_to_dynamo({"hash_col": "cat", "other_col": "x"}) == {
        "hash_col": {"S": "cat"}, "other_col": {"S": "x"}}
    assert scan_all(TABLE) == []


# get_by_query ------------------------------------------------------------------------------------------------------

def seed_cat_and_dog():
    seed(TABLE, [{"hash_col": "cat", "range_col": r, "other_col": "blue" if r % 2 else "red"} for r in range(1, 6)]
         + [{"hash_col": "dog", "range_col": r, "other_col": "blue"} for r in range(1, 4)])


def test_get_by_query_hash_only(client):
    seed_cat_and_dog()

    result = client.get_by_query({"hash_col": "cat"})

    assert [i["range_col"] for i in result] == [1, 2, 3, 4, 5]
    assert {i["hash_col"] for i in result} == {"cat"}


def test_get_by_query_hash_and_range_equality(client):
    seed_cat_and_dog()

    assert client.get_by_query({"hash_col": "cat", "range_col": 3}) == [
        {"hash_col": "cat", "range_col": 3, "other_col": "blue"}]
    assert client.get_by_query({"hash_col": "cat", "range_col": "3"}) == [
        {"hash_col": "cat", "range_col": 3, "other_col": "blue"}], "row_mapper types the key value"
    assert client.get_by_query({"hash_col": "cat", "range_col": 99}) == []
    assert client.get_by_query({"hash_col": "nobody"}) == []


@pytest.mark.parametrize("op, value, expected", [
    ("=", 3, [3]),
    ("<", 3, [1, 2]),
    ("<=", 3, [1, 2, 3]),
    (">", 3, [4, 5]),
    (">=", 3, [3, 4, 5]),
    (">", 5, []),
])
def test_get_by_query_numeric_range_comparisons(client, op, value, expected):
    seed_cat_and_dog()

    result = client.get_by_query({"hash_col": "cat", "range_col": value}, comparisons={"range_col": op})

    assert [i["range_col"] for i in result] == expected
    assert all(i["hash_col"] == "cat" for i in result)


@pytest.mark.parametrize("op, value, expected", [
    ("begins_with", "ap", ["ap", "apple", "apricot"]),
    ("begins_with", "b", ["banana"]),
    ("begins_with", "z", []),
    ("=", "apple", ["apple"]),
    ("<", "apple", ["ap"]),
    (">=", "apricot", ["apricot", "banana"]),
])
def test_get_by_query_string_range_comparisons(words, op, value, expected):
    seed(WORDS, [{"name": "marta", "comment": c} for c in ("apple", "apricot", "banana", "ap")]
         + [{"name": "john", "comment": "apple"}])
    client = DynamoDbClient({"table_name": WORDS, "row_mapper": ROW_MAPPER}, test=True)

    result = client.get_by_query({"name": "marta", "comment": value}, comparisons={"comment": op})

    assert [i["comment"] for i in result] == expected
    assert all(i["name"] == "marta" for i in result)


@pytest.mark.parametrize("low, high, expected", [
    (2, 4, [2, 3, 4]),
    (3, 3, [3]),
    (0, 100, [1, 2, 3, 4, 5]),
    ("2", "3", [2, 3]),
])
def test_get_by_query_between_on_numeric_range_key(client, low, high, expected):
    seed_cat_and_dog()

    result = client.get_by_query({"hash_col": "cat", "st_between_range_col": low, "en_between_range_col": high})

    assert [i["range_col"] for i in result] == expected


FILTER_ROWS = [
    {"range_col": 1, "x": 10, "name": "marta", "foo": 15},
    {"range_col": 2, "x": 42, "name": "john", "foo": 25, "completed_at": "2020"},
    {"range_col": 3, "x": 50, "name": "marta", "foo": 10},
    {"range_col": 4, "x": 5, "foo": 20, "completed_at": "2021"},
    {"range_col": 5, "name": "marta", "foo": 21},
]


@pytest.mark.parametrize("expression, expected", [
    ("attribute_not_exists completed_at", [1, 3, 5]),
    ("attribute_exists completed_at", [2, 4]),
    ("attribute_exists(x)", [1, 2, 3, 4]),
    ("x <= 42", [1, 2, 4]),
    ("x < 42", [1, 4]),
    ("x > 10", [2, 3]),
    ("x >= 10", [1, 2, 3]),
    ("x = 42", [2]),
    ("x <> 42", [1, 3, 4, 5]),
    ("name = marta", [1, 3, 5]),
    ("name = 'marta'", [1, 3, 5]),
    ("foo between 10 and 20", [1, 3, 4]),
    ("attribute_not_exists completed_at AND x <= 42", [1]),
    ("name = marta and foo between 10 and 20", [1, 3]),
    ("begins_with(name, ma)", [1, 3, 5]),
])
def test_get_by_query_filter_expression(client, expression, expected):
    seed(TABLE, [{"hash_col": "cat", **row} for row in FILTER_ROWS] + [{"hash_col": "dog", **FILTER_ROWS[0]}])

    result = client.get_by_query({"hash_col": "cat"}, filter_expression=expression)

    assert [i["range_col"] for i in result] == expected
    assert client.get_by_query({"hash_col": "cat"}, filter_expression=expression, return_count=True) == len(expected)


def test_get_by_query_filter_combined_with_range_comparison(client):
    seed(TABLE, [{"hash_col": "cat", **row} for row in FILTER_ROWS])

    result = client.get_by_query({"hash_col": "cat", "range_col": 2}, comparisons={"range_col": ">="},
                                 filter_expression="name = marta")

    assert [i["range_col"] for i in result] == [3, 5]


@pytest.mark.parametrize("kwargs, expected", [
    ({"max_items": 2}, [1, 2]),
    ({"max_items": 100}, [1, 2, 3, 4, 5]),
    ({"desc": True}, [5, 4, 3, 2, 1]),
    ({"desc": True, "max_items": 2}, [5, 4]),
    ({"desc": True, "filter_expression": "other_col = blue"}, [5, 3, 1]),
    ({"max_items": 2, "filter_expression": "other_col = blue"}, [1, 3]),
])
def test_get_by_query_max_items_and_desc(client, kwargs, expected):
    seed_cat_and_dog()

    assert [i["range_col"] for i in client.get_by_query({"hash_col": "cat"}, **kwargs)] == expected


@pytest.mark.parametrize("kwargs, expected", [
    ({}, 5),
    ({"filter_expression": "other_col = blue"}, 3),
    ({"max_items": 2}, 2),
    ({"max_items": 10}, 5),
    ({"comparisons": {"range_col": ">"}, "keys": {"hash_col": "cat", "range_col": 3}}, 2),
    ({"keys": {"hash_col": "nobody"}}, 0),
])
def test_get_by_query_return_count(client, kwargs, expected):
    seed_cat_and_dog()
    keys = kwargs.pop("keys", {"hash_col": "cat"})

    assert client.get_by_query(keys, return_count=True, **kwargs) == expected


def test_get_by_query_on_gsi(client):
    seed_cat_and_dog()

    result = client.get_by_query({"other_col": "blue"}, index_name=GSI)
    assert sorted((i["hash_col"], i["range_col"]) for i in result) == [
        ("cat", 1), ("cat", 3), ("cat", 5), ("dog", 1), ("dog", 2), ("dog", 3)]

    result = client.get_by_query({"other_col": "blue", "range_col": 2}, index_name=GSI,
                                 comparisons={"range_col": ">="})
    assert sorted((i["hash_col"], i["range_col"]) for i in result) == [("cat", 3), ("cat", 5), ("dog", 2), ("dog", 3)]
    assert client.get_by_query({"other_col": "red"}, index_name=GSI, return_count=True) == 2


def test_get_by_query_accepts_expr_attrs_names(words):
    seed(WORDS, [{"name": "marta", "comment": "a", "status": "done"}, {"name": "marta", "comment": "b"}])
    client = DynamoDbClient({"table_name": WORDS, "row_mapper": ROW_MAPPER}, test=True)

    result = client.get_by_query({"name": "marta"}, filter_expression="status = done",
                                 expr_attrs_names=["name", "status"])

    assert result == [{"name": "marta", "comment": "a", "status": "done"}]


def test_query_and_writes_with_reserved_word_attribute_names(words, ddb):
    seed(WORDS, [{"name": "marta", "comment": c, "status": s}
                 for c, s in (("a", "done"), ("b", "done"), ("c", "new"), ("d", "done"))]
         + [{"name": "john", "comment": "c", "status": "done"}])
    client = DynamoDbClient({"table_name": WORDS, "row_mapper": ROW_MAPPER}, test=True)

    result = client.get_by_query({"name": "marta", "comment": "b"}, comparisons={"comment": ">="},
                                 filter_expression="status = done AND attribute_exists comment")
    assert [i["comment"] for i in result] == ["b", "d"]
    assert client.get_by_query({"name": "marta"}, filter_expression="status = done", return_count=True) == 3
    assert sorted((i["name"], i["comment"]) for i in client.get_by_scan({"status": "new"})) == [("marta", "c")]

    client.patch({"name": "marta", "comment": "c"}, attributes_to_update={"status": "done"})
    client.update({"name": "marta", "comment": "a"}, attributes_to_remove=["status"],
                  condition_expression="status = done")
    stored = {(i["name"], i["comment"]): i.get("status") for i in scan_all(WORDS)}
    assert stored == {("marta", "a"): None, ("marta", "b"): "done", ("marta", "c"): "done", ("marta", "d"): "done",
                      ("john", "c"): "done"}


# Pagination over more than 1 MB -------------------------------------------------------------------------------------

BIG_PAYLOAD = "x" * 5000


def seed_big():
    seed(TABLE, [{"hash_col": "big", "range_col": i, "payload": BIG_PAYLOAD} for i in range(300)]
         + [{"hash_col": "small", "range_col": 1}])


def test_get_by_query_follows_pagination_beyond_1mb(client):
    seed_big()

    client.reset_stats()
    result = client.get_by_query({"hash_col": "big"})
    assert [i["range_col"] for i in result] == list(range(300))
    assert all(i["payload"] == BIG_PAYLOAD for i in result)
    assert client.get_stats()["dynamo_query_calls"] >= 2

    client.reset_stats()
    assert client.get_by_query({"hash_col": "big"}, return_count=True) == 300
    assert client.get_stats()["dynamo_query_calls"] >= 2

    assert client.get_by_query({"hash_col": "big"}, filter_expression="range_col >= 250", return_count=True) == 50
    assert [i["range_col"] for i in client.get_by_query({"hash_col": "big"}, desc=True, max_items=3)] == [
        299, 298, 297]


def test_get_by_scan_and_generator_follow_pagination_beyond_1mb(client):
    seed_big()

    client.reset_stats()
    result = client.get_by_scan()
    assert len(result) == 301
    assert sorted(i["range_col"] for i in result if i["hash_col"] == "big") == list(range(300))
    assert client.get_stats()["dynamo_scan_calls"] >= 2

    pages = list(client.get_by_scan_generator())
    assert len(pages) >= 2
    assert all(isinstance(page, list) for page in pages)
    assert sum(len(page) for page in pages) == 301
    assert all(isinstance(item, dict) and "hash_col" in item for page in pages for item in page)

    assert client.get_by_scan({"hash_col": "small"}) == [{"hash_col": "small", "range_col": 1}]


# get_by_scan / get_by_key -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("attrs, expected", [
    (None, [("cat", 1), ("cat", 2), ("cat", 3), ("cat", 4), ("cat", 5), ("dog", 1), ("dog", 2), ("dog", 3)]),
    ({}, [("cat", 1), ("cat", 2), ("cat", 3), ("cat", 4), ("cat", 5), ("dog", 1), ("dog", 2), ("dog", 3)]),
    ({"other_col": "red"}, [("cat", 2), ("cat", 4)]),
    ({"other_col": "blue", "hash_col": "dog"}, [("dog", 1), ("dog", 2), ("dog", 3)]),
    ({"range_col": "2"}, [("cat", 2), ("dog", 2)]),
    ({"other_col": "green"}, []),
])
def test_get_by_scan(client, attrs, expected):
    seed_cat_and_dog()

    assert sorted((i["hash_col"], i["range_col"]) for i in client.get_by_scan(attrs)) == expected
    generated = [item for page in client.get_by_scan_generator(attrs) for item in page]
    assert sorted((i["hash_col"], i["range_col"]) for i in generated) == expected


def test_get_by_scan_other_table(client, other):
    seed(OTHER, [{"id": i, "status": "done" if i % 2 else "new"} for i in range(10)])

    assert sorted(i["id"] for i in client.get_by_scan({"status": "done"}, table_name=OTHER)) == [1, 3, 5, 7, 9]


def test_get_by_key(client):
    seed_cat_and_dog()

    assert client.get_by_key({"hash_col": "dog", "range_col": 2}) == {
        "hash_col": "dog", "range_col": 2, "other_col": "blue"}
    assert client.get_by_key({"hash_col": "dog", "range_col": 2}, consistent_read=True)["range_col"] == 2
    assert client.get_by_key({"hash_col": "dog", "range_col": 9}) is None


# put ---------------------------------------------------------------------------------------------------------------

def test_put_overwrites_existing_by_default(client, ddb):
    client.put({"hash_col": "cat", "range_col": 1, "other_col": "old", "some_int": 1})
    client.put({"hash_col": "cat", "range_col": 1, "other_col": "new"})

    assert scan_all(TABLE) == [{"hash_col": "cat", "range_col": 1, "other_col": "new"}]


def test_put_without_overwrite_refuses_existing_item(client, ddb):
    client.put({"hash_col": "cat", "range_col": 1, "other_col": "old"}, overwrite_existing=False)
    before = raw(ddb, "cat", 1)

    with pytest.raises(ConditionCheckFailed) as info:
        client.put({"hash_col": "cat", "range_col": 1, "other_col": "new"}, overwrite_existing=False)

    assert isinstance(info.value, ClientError)
    assert info.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert TABLE in str(info.value)
    assert raw(ddb, "cat", 1) == before
    client.put({"hash_col": "cat", "range_col": 2, "other_col": "other"}, overwrite_existing=False)
    assert ranges() == [1, 2]


def test_put_to_other_table(client, other, ddb):
    client.put({"id": 7, "status": "new", "extra": [1, 2]}, table_name=OTHER)

    assert scan_all(OTHER) == [{"id": 7, "status": "new", "extra": [1, 2]}]
    assert scan_all(TABLE) == []


# update / patch / delete -------------------------------------------------------------------------------------------

def test_update_sets_increments_and_removes(client, ddb):
    seed(TABLE, [{"hash_col": "cat", "range_col": 1, "other_col": "old", "counter": 10, "some_int": 5}])

    client.update({"hash_col": "cat", "range_col": 1},
                  attributes_to_update={"other_col": "new", "some_bool": True, "some_map": {"a": 1.5},
                                        "some_int": "6"},
                  attributes_to_increment={"counter": 2, "fresh_counter": "3"},
                  attributes_to_remove=["some_float"])
    client.update({"hash_col": "cat", "range_col": 1}, attributes_to_increment={"counter": 0.5, "fresh_counter": 1},
                  attributes_to_remove=["other_col"])

    item = raw(ddb, "cat", 1)
    assert item == {"hash_col": {"S": "cat"}, "range_col": {"N": "1"}, "counter": {"N": "12.5"},
                    "fresh_counter": {"N": "4"}, "some_bool": {"BOOL": True},
                    "some_map": {"M": {"a": {"N": "1.5"}}}, "some_int": {"N": "6"}}


def test_update_creates_missing_item(client, ddb):
    client.update({"hash_col": "cat", "range_col": 5}, attributes_to_update={"other_col": "x"},
                  attributes_to_increment={"counter": 1})

    assert scan_all(TABLE) == [{"hash_col": "cat", "range_col": 5, "other_col": "x", "counter": 1}]


@pytest.mark.parametrize("condition", [
    "attribute_exists hash_col",
    "other_col = old",
    "counter <= 10 AND attribute_not_exists completed_at",
    "counter between 5 and 15",
])
def test_update_with_condition_expression_that_holds(client, ddb, condition):
    seed(TABLE, [{"hash_col": "cat", "range_col": 1, "other_col": "old", "counter": 10}])

    client.update({"hash_col": "cat", "range_col": 1}, attributes_to_update={"other_col": "new"},
                  condition_expression=condition)

    assert raw(ddb, "cat", 1)["other_col"] == {"S": "new"}


@pytest.mark.parametrize("condition", [
    "other_col = something_else",
    "attribute_not_exists hash_col",
    "counter > 10",
    "attribute_exists completed_at AND other_col = old",
])
def test_update_with_failing_condition_raises_and_changes_nothing(client, ddb, condition):
    seed(TABLE, [{"hash_col": "cat", "range_col": 1, "other_col": "old", "counter": 10}])
    before = raw(ddb, "cat", 1)

    with pytest.raises(ConditionCheckFailed) as info:
        client.update({"hash_col": "cat", "range_col": 1}, attributes_to_update={"other_col": "new"},
                      attributes_to_increment={"counter": 1}, condition_expression=condition)

    message = str(info.value)
    assert TABLE in message
    assert "'hash_col': 'cat'" in message and "'range_col': 1" in message
    assert info.value.table_name == TABLE
    assert info.value.keys == {"hash_col": "cat", "range_col": 1}
    assert isinstance(info.value, ClientError)
    assert raw(ddb, "cat", 1) == before
    assert len(scan_all(TABLE)) == 1


def test_update_with_failing_condition_on_missing_item_creates_nothing(client, ddb):
    with pytest.raises(ConditionCheckFailed):
        client.update({"hash_col": "cat", "range_col": 1}, attributes_to_update={"other_col": "new"},
                      condition_expression="attribute_exists hash_col")

    assert scan_all(TABLE) == []


def test_patch_updates_existing_item(client, ddb):
    seed(TABLE, [{"hash_col": "cat", "range_col": 1, "other_col": "old", "counter": 1, "some_int": 3}])

    client.patch({"hash_col": "cat", "range_col": 1}, attributes_to_update={"other_col": "new"},
                 attributes_to_increment={"counter": 4}, attributes_to_remove=["some_int"])

    assert scan_all(TABLE) == [{"hash_col": "cat", "range_col": 1, "other_col": "new", "counter": 5}]


def test_patch_missing_item_raises_and_creates_nothing(client, ddb):
    seed(TABLE, [{"hash_col": "cat", "range_col": 1}])

    with pytest.raises(ConditionCheckFailed) as info:
        client.patch({"hash_col": "cat", "range_col": 2}, attributes_to_update={"other_col": "new"})

    assert TABLE in str(info.value) and "'range_col': 2" in str(info.value)
    assert raw(ddb, "cat", 2) is None
    assert scan_all(TABLE) == [{"hash_col": "cat", "range_col": 1}]


def test_delete(client, ddb):
    seed_cat_and_dog()

    client.delete({"hash_col": "cat", "range_col": 2})
    client.delete({"hash_col": "cat", "range_col": 99})  # nothing there: no error

    assert raw(ddb, "cat", 2) is None
    assert ranges(hash_value="cat") == [1, 3, 4, 5]
    assert ranges(hash_value="dog") == [1, 2, 3]


def test_delete_from_other_table(client, other):
    seed(OTHER, [{"id": 1}, {"id": 2}])

    client.delete({"id": 1}, table_name=OTHER)

    assert scan_all(OTHER) == [{"id": 2}]


# Batches -----------------------------------------------------------------------------------------------------------

def test_batch_get_items_one_table_more_than_100_keys_some_missing(client):
    seed(TABLE, [{"hash_col": "cat", "range_col": r, "other_col": str(r)} for r in range(150)])
    keys = [{"hash_col": "cat", "range_col": r} for r in range(180)]

    client.reset_stats()
    result = client.batch_get_items_one_table(keys)

    assert sorted(i["range_col"] for i in result) == list(range(150))
    assert all(i["other_col"] == str(i["range_col"]) for i in result)
    assert client.get_stats()["dynamo_batch_get_item_calls"] == 2


def test_batch_get_items_other_table(client, other):
    seed(OTHER, [{"id": i, "status": "s"} for i in range(5)])

    result = client.batch_get_items_one_table([{"id": 1}, {"id": 3}, {"id": 42}], table_name=OTHER)

    assert sorted(i["id"] for i in result) == [1, 3]


def test_batch_put_and_batch_delete_more_than_25_items(client, other):
    calls = client.batch_put([{"hash_col": "cat", "range_col": r, "other_col": "x"} for r in range(60)])
    assert calls == 3
    assert ranges() == list(range(60))

    calls = client.batch_put([{"id": i, "status": "new"} for i in range(30)], table_name=OTHER)
    assert calls == 2
    assert sorted(int(i["id"]) for i in scan_all(OTHER)) == list(range(30))

    calls = client.batch_delete([{"hash_col": "cat", "range_col": r} for r in range(0, 60, 2)])
    assert calls == 2
    assert ranges() == list(range(1, 60, 2))

    client.batch_delete([{"id": i} for i in range(26)], table_name=OTHER)
    assert sorted(int(i["id"]) for i in scan_all(OTHER)) == [26, 27, 28, 29]


def test_batch_write_across_two_tables(client, other):
    seed(TABLE, [{"hash_col": "old", "range_col": r} for r in range(10)])
    seed(OTHER, [{"id": i} for i in range(100, 110)])
    requests = []
    for i in range(30):
        requests.append((TABLE, "put", {"hash_col": "new", "range_col": i, "some_float": 0.5}))
        requests.append((OTHER, "put", {"id": i, "status": "new"}))
    requests += [(TABLE, "delete", {"hash_col": "old", "range_col": r}) for r in range(10)]
    requests += [(OTHER, "delete", {"id": i}) for i in range(100, 105)]

    client.reset_stats()
    calls = client.batch_write(requests)

    assert calls == 3  # 75 requests, 25 a call
    assert client.get_stats()["dynamo_batch_write_item_calls"] == 3
    assert ranges(hash_value="old") == []
    assert ranges(hash_value="new") == list(range(30))
    assert all(i["some_float"] == Decimal("0.5") for i in scan_all(TABLE))
    assert sorted(int(i["id"]) for i in scan_all(OTHER)) == list(range(30)) + list(range(105, 110))


# Transactions ------------------------------------------------------------------------------------------------------

def test_transact_write_130_actions_split_in_transactions_of_100(client, other, ddb):
    seed(TABLE, [{"hash_col": "del", "range_col": r} for r in range(30)])
    seed(OTHER, [{"id": i, "counter": 0, "status": "new"} for i in range(40)])
    actions = [client.make_put_transaction_item({"hash_col": "new", "range_col": r, "some_float": 1.5},
                                                condition_expression="attribute_not_exists hash_col")
               for r in range(60)]
    actions += [client.make_update_transaction_item({"id": i}, attributes_to_update={"status": "done"},
                                                    attributes_to_increment={"counter": 1},
                                                    table_name=OTHER, condition_expression="status = new")
                for i in range(40)]
    actions += [client.make_delete_transaction_item({"hash_col": "del", "range_col": r},
                                                    condition_expression="attribute_exists range_col")
                for r in range(30)]
    assert len(actions) == 130

    client.reset_stats()
    client.transact_write(*actions)

    assert client.get_stats()["dynamo_transact_write_items_calls"] == 2
    assert ranges(hash_value="del") == []
    assert ranges(hash_value="new") == list(range(60))
    assert raw(ddb, "new", 7)["some_float"] == {"N": "1.5"}
    others = scan_all(OTHER)
    assert len(others) == 40
    assert all(i["status"] == "done" and i["counter"] == 1 for i in others)


def test_transact_write_cancelled_applies_nothing(client, ddb):
    seed(TABLE, [{"hash_col": "cat", "range_col": 1, "other_col": "x"}, {"hash_col": "cat", "range_col": 3}])
    before = sorted(scan_all(TABLE), key=lambda i: i["range_col"])
    actions = [
        client.make_put_transaction_item({"hash_col": "cat", "range_col": 2, "other_col": "new"}),
        client.make_update_transaction_item({"hash_col": "cat", "range_col": 1},
                                            attributes_to_update={"other_col": "z"},
                                            condition_expression="other_col = y"),
        client.make_delete_transaction_item({"hash_col": "cat", "range_col": 3}),
    ]

    with pytest.raises(TransactionCancelled) as info:
        client.transact_write(*actions)

    assert info.value.reasons == [None, "ConditionalCheckFailed", None]
    assert "ConditionalCheckFailed" in str(info.value)
    assert sorted(scan_all(TABLE), key=lambda i: i["range_col"]) == before


@pytest.mark.parametrize("make_failing", ["put", "delete"])
def test_transact_write_put_and_delete_conditions(client, make_failing):
    seed(TABLE, [{"hash_col": "cat", "range_col": 1, "other_col": "x"}])
    before = scan_all(TABLE)
    ok = client.make_put_transaction_item({"hash_col": "cat", "range_col": 2})
    if make_failing == "put":
        failing = client.make_put_transaction_item({"hash_col": "cat", "range_col": 1},
                                                   condition_expression="attribute_not_exists hash_col")
    else:
        failing = client.make_delete_transaction_item({"hash_col": "cat", "range_col": 1},
                                                      condition_expression="other_col = y")

    with pytest.raises(TransactionCancelled) as info:
        client.transact_write(ok, failing)

    assert info.value.reasons == [None, "ConditionalCheckFailed"]
    assert scan_all(TABLE) == before


def test_transact_write_failure_in_second_chunk_keeps_first_chunk(client):
    seed(TABLE, [{"hash_col": "cat", "range_col": 1000, "other_col": "x"}])
    actions = [client.make_put_transaction_item({"hash_col": "cat", "range_col": r}) for r in range(110)]
    actions[104] = client.make_update_transaction_item({"hash_col": "cat", "range_col": 1000},
                                                       attributes_to_update={"other_col": "z"},
                                                       condition_expression="other_col = y")

    with pytest.raises(TransactionCancelled) as info:
        client.transact_write(*actions)

    assert len(info.value.reasons) == 10
    assert info.value.reasons[4] == "ConditionalCheckFailed"
    assert [r for i, r in enumerate(info.value.reasons) if i != 4] == [None] * 9
    assert ranges() == list(range(100)) + [1000]
    assert [i["other_col"] for i in scan_all(TABLE) if i["range_col"] == 1000] == ["x"]


# Table metadata and capacity ---------------------------------------------------------------------------------------

def test_get_table_keys(client, other, words):
    assert client.get_table_keys() == ("hash_col", "range_col")
    assert client.get_table_keys(OTHER) == ("id", None)
    assert client.get_table_keys(table_name=WORDS) == ("name", "comment")


def test_get_table_indexes(make_table):
    make_table(spec("autotest_indexed", [("hash_col", "S"), ("range_col", "N")], capacity=(5, 3), indexes=[
        ("by_other", [("other_col", "S"), ("range_col", "N")],
         {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["payload"]}),
        ("by_status", [("status", "S")], {"ProjectionType": "KEYS_ONLY"}),
    ]))
    client = DynamoDbClient({"table_name": "autotest_indexed"}, test=True)

    assert client.get_table_indexes() == {
        "by_other": {"projection_type": "INCLUDE", "hash_key": "other_col", "range_key": "range_col",
                     "provisioned_throughput": {"write_capacity": 4, "read_capacity": 6}},
        "by_status": {"projection_type": "KEYS_ONLY", "hash_key": "status", "range_key": None,
                      "provisioned_throughput": {"write_capacity": 4, "read_capacity": 6}},
    }


def test_get_table_indexes_on_demand_table(client, other):
    indexes = client.get_table_indexes()
    assert list(indexes) == [GSI]
    assert indexes[GSI]["projection_type"] == "ALL"
    assert (indexes[GSI]["hash_key"], indexes[GSI]["range_key"]) == ("other_col", "range_col")
    assert client.get_table_indexes(OTHER) == {}


@pytest.mark.parametrize("capacity, expected", [
    ((5, 3), {"read": 5, "write": 3}),
    ((1, 1), {"read": 1, "write": 1}),
    (None, {"read": 0, "write": 0}),
])
def test_get_capacity(make_table, capacity, expected):
    make_table(spec("autotest_capacity", [("id", "S")], capacity=capacity))
    client = DynamoDbClient({"table_name": "autotest_capacity"}, test=True)

    assert client.get_capacity() == expected
    assert DynamoDbClient(test=True).get_capacity("autotest_capacity") == expected


def test_identify_dynamo_capacity_is_kept_for_sleep_db(make_table):
    make_table(spec("autotest_capacity", [("id", "S")], capacity=(5, 2)))
    client = DynamoDbClient({"table_name": "autotest_capacity"}, test=True)

    client.identify_dynamo_capacity()
    assert client.get_stats()["dynamo_describe_table_calls"] == 1

    long_ago = datetime.datetime.now() - datetime.timedelta(seconds=10)
    client.sleep_db(long_ago, "read")
    client.sleep_db(long_ago, "write")
    assert client.get_stats()["dynamo_describe_table_calls"] == 1
    assert client.get_stats()["dynamo_sleep_seconds"] == 0


def test_sleep_db_on_demand_returns_at_once(client):
    start = time.monotonic()
    client.sleep_db(datetime.datetime.now(), "read")
    client.sleep_db(datetime.datetime.now(), "write")

    assert time.monotonic() - start < 0.5
    assert client.get_stats()["dynamo_sleep_seconds"] == 0


def test_sleep_db_provisioned_waits_after_a_recent_action(make_table):
    make_table(spec("autotest_slow", [("id", "S")], capacity=(1, 1)))
    client = DynamoDbClient({"table_name": "autotest_slow"}, test=True)
    client.identify_dynamo_capacity()

    start = time.monotonic()
    client.sleep_db(datetime.datetime.now(), "read")
    waited = time.monotonic() - start
    assert waited >= 0.5
    assert waited < 5
    assert client.get_stats()["dynamo_sleep_seconds"] > 0.5

    start = time.monotonic()
    client.sleep_db(datetime.datetime.now() - datetime.timedelta(seconds=5), "write", table_name="autotest_slow")
    assert time.monotonic() - start < 0.5


def test_sleep_db_rejects_unknown_action(client):
    with pytest.raises(ValueError, match="action"):
        client.sleep_db(datetime.datetime.now(), "scan")


# Stats -------------------------------------------------------------------------------------------------------------

def test_get_stats_counts_calls_per_operation_and_reset_stats(client, ddb):
    client.put({"hash_col": "cat", "range_col": 1})
    client.put({"hash_col": "cat", "range_col": 2})
    client.get_by_key({"hash_col": "cat", "range_col": 1})
    client.get_by_query({"hash_col": "cat"})
    client.update({"hash_col": "cat", "range_col": 1}, attributes_to_increment={"counter": 1})
    client.delete({"hash_col": "cat", "range_col": 2})
    client.get_by_scan()

    stats = client.get_stats()
    assert stats["dynamo_put_item_calls"] == 2
    assert stats["dynamo_get_item_calls"] == 1
    assert stats["dynamo_query_calls"] == 1
    assert stats["dynamo_update_item_calls"] == 1
    assert stats["dynamo_delete_item_calls"] == 1
    assert stats["dynamo_scan_calls"] == 1
    assert scan_all(TABLE) == [{"hash_col": "cat", "range_col": 1, "counter": 1}]

    client.reset_stats()
    assert dict(client.get_stats()) == {}
    client.get_by_key({"hash_col": "cat", "range_col": 1})
    assert dict(client.get_stats()) == {"dynamo_get_item_calls": 1}


# Test mode ---------------------------------------------------------------------------------------------------------

REFUSING_CALLS = {
    "put": lambda c: c.put({"id": "1"}, table_name="sosw_prod"),
    "get_by_key": lambda c: c.get_by_key({"id": "0"}, table_name="sosw_prod"),
    "get_by_query": lambda c: c.get_by_query({"id": "0"}, table_name="sosw_prod"),
    "get_by_scan": lambda c: c.get_by_scan(table_name="sosw_prod"),
    "update": lambda c: c.update({"id": "0"}, {"v": 2}, table_name="sosw_prod"),
    "patch": lambda c: c.patch({"id": "0"}, {"v": 2}, table_name="sosw_prod"),
    "delete": lambda c: c.delete({"id": "0"}, table_name="sosw_prod"),
    "batch_put": lambda c: c.batch_put([{"id": "1"}], table_name="sosw_prod"),
    "batch_delete": lambda c: c.batch_delete([{"id": "0"}], table_name="sosw_prod"),
    "batch_write": lambda c: c.batch_write([("sosw_prod", "delete", {"id": "0"})]),
    "batch_get": lambda c: c.batch_get_items_one_table([{"id": "0"}], table_name="sosw_prod"),
    "transaction": lambda c: c.make_put_transaction_item({"id": "1"}, table_name="sosw_prod"),
    "get_table_keys": lambda c: c.get_table_keys("sosw_prod"),
    "get_capacity": lambda c: c.get_capacity("sosw_prod"),
}


@pytest.mark.parametrize("how", ["argument", "stage"])
@pytest.mark.parametrize("call", sorted(REFUSING_CALLS))
def test_test_mode_refuses_non_autotest_tables(make_table, monkeypatch, call, how):
    make_table(spec("sosw_prod", [("id", "S")]))
    seed("sosw_prod", [{"id": "0", "v": 1}])
    if how == "stage":
        monkeypatch.setenv("STAGE", "test")
    client = DynamoDbClient({"table_name": "sosw_prod"}, test=how == "argument")

    with pytest.raises(RuntimeError, match="sosw_prod.*autotest_"):
        REFUSING_CALLS[call](client)

    assert scan_all("sosw_prod") == [{"id": "0", "v": 1}]
    assert not any(k.startswith("dynamo_") and k.endswith("_calls") for k in client.get_stats())


def test_test_mode_allows_autotest_tables_and_normal_mode_allows_any(make_table):
    make_table(spec("sosw_prod", [("id", "S")]))
    make_table(spec("autotest_ok", [("id", "S")]))

    DynamoDbClient(test=True).put({"id": "a"}, table_name="autotest_ok")
    DynamoDbClient().put({"id": "b"}, table_name="sosw_prod")

    assert scan_all("autotest_ok") == [{"id": "a"}]
    assert scan_all("sosw_prod") == [{"id": "b"}]


def test_missing_table_name_is_named_in_the_error(table):
    with pytest.raises(ValueError, match="table_name"):
        DynamoDbClient({"row_mapper": ROW_MAPPER}).get_by_key({"hash_col": "cat", "range_col": 1})


# clean_dynamo_table ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["sosw_prod", "prod_autotest_x", "Autotest_x"])
def test_clean_dynamo_table_refuses_non_autotest_tables(make_table, name):
    make_table(spec(name, [("hash_col", "S"), ("range_col", "N")]))
    seed(name, [{"hash_col": "a", "range_col": 1}])

    with pytest.raises(RuntimeError, match="autotest_"):
        clean_dynamo_table(name)

    assert scan_all(name) == [{"hash_col": "a", "range_col": 1}]


def test_clean_dynamo_table_deletes_everything(table):
    seed(TABLE, [{"hash_col": h, "range_col": r, "payload": "p" * 100} for h in ("a", "b", "c") for r in range(20)])

    assert clean_dynamo_table() == 60
    assert scan_all(TABLE) == []
    assert clean_dynamo_table(TABLE) == 0


@pytest.mark.parametrize("expression, kept", [
    ("other_col = red", [1, 3, 5]),
    ("range_col <= 2", [3, 4, 5]),
    ("attribute_not_exists other_col", [2, 4]),
    ("other_col = red AND range_col between 3 and 5", [1, 2, 3, 5]),
    ("status = done", [1, 2, 3, 4]),
])
def test_clean_dynamo_table_with_filter_expression(table, expression, kept):
    seed(TABLE, [{"hash_col": "a", "range_col": 1},
                 {"hash_col": "a", "range_col": 2, "other_col": "red"},
                 {"hash_col": "a", "range_col": 3},
                 {"hash_col": "a", "range_col": 4, "other_col": "red"},
                 {"hash_col": "a", "range_col": 5, "status": "done"}])

    deleted = clean_dynamo_table(TABLE, filter_expression=expression)

    assert ranges() == kept
    assert deleted == 5 - len(kept)


def test_clean_dynamo_table_with_other_keys(other):
    seed(OTHER, [{"id": i, "status": "done" if i < 30 else "new"} for i in range(40)])

    assert clean_dynamo_table(OTHER, keys=("id",), filter_expression="status = done") == 30
    assert sorted(int(i["id"]) for i in scan_all(OTHER)) == list(range(30, 40))


@pytest.mark.parametrize("hash_value, range_value", [
    ('{"looks": "like json"}', Decimal("1")),
    ("plain", Decimal("0.12345678901234567890123")),
    ("plain", Decimal("1.0000000000000000000001")),
])
def test_clean_dynamo_table_deletes_items_whatever_their_key_values(table, ddb, hash_value, range_value):
    ddb.put_item(TableName=TABLE, Item={"hash_col": {"S": hash_value}, "range_col": {"N": str(range_value)}})
    ddb.put_item(TableName=TABLE, Item={"hash_col": {"S": hash_value}, "range_col": {"N": "1.5"}})

    assert clean_dynamo_table(TABLE) == 2
    assert scan_all(TABLE) == []
