"""Pure logic of sosw.components.dynamo_db: construction, condition parsing, type conversion, request building and
the errors that name the field at fault. Nothing here reaches a network: the clients get a boto3 stand-in that fails
on any use (or a botocore ``Stubber`` that answers instead)."""

import datetime
import json
import re
import subprocess
import sys
from decimal import Decimal
from unittest.mock import MagicMock, patch

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from sosw.components.dynamo_db import DynamoDbClient, describe_condition, parse_condition
from sosw.exceptions import ConditionCheckFailed

ROW_MAPPER = {"hash_col": "S", "range_col": "N", "some_int": "N", "some_float": "N", "some_bool": "BOOL",
              "some_map": "M", "some_list": "L", "name": "S", "status": "S"}
CONFIG = {"table_name": "autotest_dynamo_db", "row_mapper": ROW_MAPPER, "required_fields": ["hash_col", "range_col"]}


def NoNetwork():
    """A real boto3 client aimed at a closed port: building requests works, any call fails at once."""
    return boto3.client("dynamodb", endpoint_url="http://127.0.0.1:9",
                        config=Config(retries={"total_max_attempts": 1}, connect_timeout=0.2))


@pytest.fixture
def client():
    return DynamoDbClient(CONFIG, dynamo_client=NoNetwork())


def shape(condition):
    """A comparable form of a boto3 condition that, unlike ``==``, also tells ``True`` from ``Decimal(1)``."""
    if isinstance(condition, ConditionBase):
        expression = condition.get_expression()
        return (expression["operator"], expression["format"], tuple(shape(v) for v in expression["values"]))
    name = getattr(condition, "name", None)
    if name is not None and not isinstance(condition, str):
        return ("attr", name)
    return (type(condition).__name__, condition)


# Construction ------------------------------------------------------------------------------------------------------

class RecordingSession:
    """A boto3 session that records the clients asked of it."""

    def __init__(self):
        self.calls = []
        self.made = []

    def client(self, service, config=None):
        self.calls.append((service, config))
        self.made.append(MagicMock(name=f"{service} client"))
        return self.made[-1]


def test_a_passed_dynamo_client_wins_and_nothing_is_built():
    given, legacy = NoNetwork(), NoNetwork()
    with patch("boto3.client") as boto3_client:
        assert DynamoDbClient(CONFIG, client=legacy, dynamo_client=given).dynamo_client is given
        assert DynamoDbClient(CONFIG, legacy).dynamo_client is legacy  # the 0.7.47 spelling, positional too

    boto3_client.assert_not_called()


def test_the_default_client_comes_from_the_given_session_with_the_given_botocore_config():
    session = RecordingSession()

    client = DynamoDbClient({**CONFIG, "region_name": "eu-west-1"}, boto3_session=session,
                            boto_config=Config(connect_timeout=3))

    (service, config), = session.calls
    assert service == "dynamodb"
    assert (config.region_name, config.connect_timeout, config.retries["mode"]) == ("eu-west-1", 3, "standard")
    assert session.made == [client.dynamo_client]


def test_an_explicit_botocore_config_beats_the_config_region():
    session = RecordingSession()

    DynamoDbClient({**CONFIG, "region_name": "eu-west-1"}, boto3_session=session,
                   boto_config=Config(region_name="us-west-2"))

    assert session.calls[0][1].region_name == "us-west-2"


def test_the_exceptions_module_imports_nothing_from_components():
    code = "import sys, sosw.exceptions; print(sorted(m for m in sys.modules if m.startswith('sosw.components')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert result.stdout.strip() == "[]"


def test_a_failed_create_names_the_table_the_row_and_the_condition_as_text():
    client = DynamoDbClient({**CONFIG, "hash_key": "hash_col"}, dynamo_client=NoNetwork())
    with Stubber(client.dynamo_client) as stubber:
        stubber.add_client_error("put_item", service_error_code="ConditionalCheckFailedException")
        with pytest.raises(ConditionCheckFailed) as info:
            client.create({"hash_col": "cat", "range_col": 1})

    assert isinstance(info.value, ClientError)
    assert str(info.value) == ("condition failed on autotest_dynamo_db item {'hash_col': 'cat', 'range_col': 1}: "
                               "attribute_not_exists(hash_col)")
    assert info.value.condition == Attr("hash_col").not_exists()


def test_condition_check_failed_without_a_text_prints_the_condition_given():
    error = ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "no"}}, "UpdateItem")

    assert str(ConditionCheckFailed(error, "t", {"id": 1}, "attribute_exists id")).endswith(": attribute_exists id")
    assert str(ConditionCheckFailed(error, "t", {"id": 1}, Attr("id").exists(), condition_text="attribute_exists(id)")
               ).endswith(": attribute_exists(id)")


# parse_condition ---------------------------------------------------------------------------------------------------

D = Decimal


@pytest.mark.parametrize("expression, row_mapper, expected", [
    ("attribute_not_exists completed_at", None, Attr("completed_at").not_exists()),
    ("attribute_exists completed_at", None, Attr("completed_at").exists()),
    ("attribute_exists(completed_at)", None, Attr("completed_at").exists()),
    ("attribute_not_exists( completed_at )", None, Attr("completed_at").not_exists()),
    ("ATTRIBUTE_EXISTS x", None, Attr("x").exists()),
    ("x <= 42", None, Attr("x").lte(D("42"))),
    ("x<=42", None, Attr("x").lte(D("42"))),
    ("x < -1.5", None, Attr("x").lt(D("-1.5"))),
    ("x > 1e3", None, Attr("x").gt(D("1e3"))),
    ("x >= 0", None, Attr("x").gte(D("0"))),
    ("x = 42", None, Attr("x").eq(D("42"))),
    ("x <> 42", None, Attr("x").ne(D("42"))),
    ("x != 42", None, Attr("x").ne(D("42"))),
    ("x = 42", {"x": "S"}, Attr("x").eq("42")),
    ("x = 42", {"x": "N"}, Attr("x").eq(D("42"))),
    ("x = '42'", None, Attr("x").eq("42")),
    ('x = "42"', {"x": "N"}, Attr("x").eq("42")),
    ("name = marta", None, Attr("name").eq("marta")),
    ("name = 'marta smith'", None, Attr("name").eq("marta smith")),
    ("name = 007", {"name": "S"}, Attr("name").eq("007")),
    ("flag = true", None, Attr("flag").eq(True)),
    ("flag = FALSE", None, Attr("flag").eq(False)),
    ("flag = false", {"flag": "BOOL"}, Attr("flag").eq(False)),
    ("flag = true", {"flag": "S"}, Attr("flag").eq("true")),
    ("foo between 10 and 20", None, Attr("foo").between(D("10"), D("20"))),
    ("foo BETWEEN 10 AND 20", None, Attr("foo").between(D("10"), D("20"))),
    ("foo between a and c", None, Attr("foo").between("a", "c")),
    ("foo between 10 and 20", {"foo": "S"}, Attr("foo").between("10", "20")),
    ("begins_with(name, ma)", None, Attr("name").begins_with("ma")),
    ("begins_with(code, 12)", None, Attr("code").begins_with("12")),
    ("begins_with( name , 'ma rt' )", None, Attr("name").begins_with("ma rt")),
    ("attribute_not_exists completed_at AND greenfield <= 42", None,
     Attr("completed_at").not_exists() & Attr("greenfield").lte(D("42"))),
    ("name = marta and foo between 10 and 20", None,
     Attr("name").eq("marta") & Attr("foo").between(D("10"), D("20"))),
    ("a = 1 And b = x AND attribute_exists c", None,
     (Attr("a").eq(D("1")) & Attr("b").eq("x")) & Attr("c").exists()),
    ("  x = 1  ", None, Attr("x").eq(D("1"))),
    ("attribute_exists_flag = 1", None, Attr("attribute_exists_flag").eq(D("1"))),
    ("attribute_not_exists_since >= 3", None, Attr("attribute_not_exists_since").gte(D("3"))),
])
def test_parse_condition(expression, row_mapper, expected):
    assert shape(parse_condition(expression, row_mapper)) == shape(expected)


@pytest.mark.parametrize("condition", [None, Attr("x").eq(1), Key("k").eq("v"), Attr("a").exists() & Attr("b").lt(2)])
def test_parse_condition_passes_condition_objects_and_none_through(condition):
    assert parse_condition(condition) is condition


@pytest.mark.parametrize("expression, row_mapper, field, fragment", [
    ("", None, "filter_expression", "non-empty"),
    ("   ", None, "filter_expression", "non-empty"),
    (42, None, "condition_expression", "42"),
    (["x = 1"], None, "filter_expression", "x = 1"),
    ("x ~ 3", None, "filter_expression", "x ~ 3"),
    ("x ~ 3", None, "condition_expression", "x ~ 3"),
    ("a = 1 b = 2", None, "filter_expression", "AND"),
    ("a = 1 OR b = 2", None, "filter_expression", "OR b = 2"),
    ("foo between 10", None, "filter_expression", "between"),
    ("x = abc", {"x": "N"}, "filter_expression", "abc"),
    ("x = abc", {"x": "N"}, "condition_expression", "abc"),
])
def test_parse_condition_errors_name_the_field(expression, row_mapper, field, fragment):
    with pytest.raises(ValueError) as info:
        parse_condition(expression, row_mapper, field=field)

    message = str(info.value)
    assert message.startswith(f"{field}:"), message
    assert fragment in message


# describe_condition ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("condition, expected", [
    (Attr("x").not_exists(), "attribute_not_exists(x)"),
    (Attr("x").exists(), "attribute_exists(x)"),
    (Attr("x").eq("a"), "x = 'a'"),
    (Attr("x").lte(D("42")), "x <= 42"),
    (Attr("x").between(D("1"), D("2")), "x BETWEEN 1 AND 2"),
    (Attr("name").begins_with("ma"), "begins_with(name, 'ma')"),
    (Attr("x").eq("a") & Attr("y").lt(D("3")), "(x = 'a' AND y < 3)"),
    ("status = done", "status = done"),
    (None, "None"),
])
def test_describe_condition(condition, expected):
    assert describe_condition(condition) == expected


def test_describe_condition_of_parsed_string():
    text = describe_condition(parse_condition("attribute_not_exists completed_at AND greenfield <= 42"))
    assert text == "(attribute_not_exists(completed_at) AND greenfield <= 42)"


# dict_to_dynamo ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("row, strict, expected", [
    ({"hash_col": "cat", "range_col": 3}, True, {"hash_col": {"S": "cat"}, "range_col": {"N": "3"}}),
    ({"hash_col": "cat", "range_col": 1.5, "some_float": 0.1}, True,
     {"hash_col": {"S": "cat"}, "range_col": {"N": "1.5"}, "some_float": {"N": "0.1"}}),
    ({"hash_col": 12, "range_col": "7", "some_int": True}, True,
     {"hash_col": {"S": "12"}, "range_col": {"N": "7"}, "some_int": {"N": "1"}}),
    ({"hash_col": {"a": 1}, "range_col": 1}, True, {"hash_col": {"S": '{"a": 1}'}, "range_col": {"N": "1"}}),
    ({"hash_col": "c", "range_col": 1, "some_bool": False}, True,
     {"hash_col": {"S": "c"}, "range_col": {"N": "1"}, "some_bool": {"BOOL": False}}),
    ({"hash_col": "c", "range_col": 1, "some_map": {"a": 1.25, "b": [2, "x"], "c": None}}, True,
     {"hash_col": {"S": "c"}, "range_col": {"N": "1"},
      "some_map": {"M": {"a": {"N": "1.25"}, "b": {"L": [{"N": "2"}, {"S": "x"}]}, "c": {"NULL": True}}}}),
    ({"hash_col": "c", "range_col": 1, "some_list": [1, 2.5, True, {"k": "v"}]}, True,
     {"hash_col": {"S": "c"}, "range_col": {"N": "1"},
      "some_list": {"L": [{"N": "1"}, {"N": "2.5"}, {"BOOL": True}, {"M": {"k": {"S": "v"}}}]}}),
    ({"hash_col": "c", "range_col": 1, "unmapped": "x"}, True, {"hash_col": {"S": "c"}, "range_col": {"N": "1"}}),
    ({"hash_col": "c", "range_col": 1, "unmapped": "x", "n": 2, "f": 0.5, "b": True}, False,
     {"hash_col": {"S": "c"}, "range_col": {"N": "1"}, "unmapped": {"S": "x"}, "n": {"N": "2"},
      "f": {"N": "0.5"}, "b": {"BOOL": True}}),
    ({"hash_col": "c", "range_col": 1, "some_int": None, "unmapped": None}, False,
     {"hash_col": {"S": "c"}, "range_col": {"N": "1"}}),
    ({"other": "x"}, False, {"other": {"S": "x"}}),
])
def test_dict_to_dynamo(client, row, strict, expected):
    assert client.dict_to_dynamo(row, strict=strict) == expected


def test_dict_to_dynamo_add_prefix(client):
    assert client.dict_to_dynamo({"hash_col": "c", "range_col": 1}, add_prefix=":") == {
        ":hash_col": {"S": "c"}, ":range_col": {"N": "1"}}


def test_dict_to_dynamo_without_row_mapper_types_by_value():
    client = DynamoDbClient({}, dynamo_client=NoNetwork())
    assert client.dict_to_dynamo({"s": "x", "n": 3, "f": 1.5, "b": False, "l": [1], "m": {"k": 2}}) == {
        "s": {"S": "x"}, "n": {"N": "3"}, "f": {"N": "1.5"}, "b": {"BOOL": False}, "l": {"L": [{"N": "1"}]},
        "m": {"M": {"k": {"N": "2"}}}}


@pytest.mark.parametrize("row, strict, field", [
    ({"hash_col": "c", "range_col": "abc"}, True, "range_col"),
    ({"hash_col": "c", "range_col": 1, "some_int": "12x"}, True, "some_int"),
    ({"hash_col": "c", "range_col": 1, "some_int": datetime.date(2020, 1, 1)}, True, "some_int"),
    ({"hash_col": "c", "range_col": 1, "some_int": datetime.datetime(2020, 1, 1)}, True, "some_int"),
    ({"hash_col": "c", "range_col": 1, "some_float": float("nan")}, True, "some_float"),
    ({"hash_col": "c", "range_col": 1, "some_float": float("inf")}, True, "some_float"),
    ({"hash_col": "c", "range_col": 1, "weird": object()}, False, "weird"),
    ({"hash_col": "c", "range_col": 1, "some_map": {"a": object()}}, True, "some_map"),
])
def test_dict_to_dynamo_errors_name_the_field(client, row, strict, field):
    with pytest.raises(ValueError) as info:
        client.dict_to_dynamo(row, strict=strict)

    assert str(info.value).startswith(f"{field}:"), str(info.value)


def test_dict_to_dynamo_required_fields_not_checked_when_not_strict(client):
    assert client.dict_to_dynamo({"hash_col": "c"}, strict=False) == {"hash_col": {"S": "c"}}


def test_dict_to_dynamo_strict_accepts_a_row_without_its_required_fields(client):
    assert client.dict_to_dynamo({"hash_col": "c"}) == {"hash_col": {"S": "c"}}


def test_dict_to_dynamo_strict_refuses_a_required_field_missing_from_row_mapper():
    client = DynamoDbClient({**CONFIG, "required_fields": ["hash_col", "extra"]}, dynamo_client=NoNetwork())

    with pytest.raises(ValueError, match="^extra: "):
        client.dict_to_dynamo({"hash_col": "c", "extra": 1})
    assert client.dict_to_dynamo({"hash_col": "c", "unmapped": 1}) == {"hash_col": {"S": "c"}}


# dynamo_to_dict ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, expected", [
    ({"range_col": {"N": "3"}}, {"range_col": 3}),
    ({"range_col": {"N": "-3.25"}}, {"range_col": -3.25}),
    ({"range_col": {"N": "3.0"}}, {"range_col": 3}),
    ({"range_col": {"N": "12345678901234567890"}}, {"range_col": 12345678901234567890}),
    ({"hash_col": {"S": "value"}}, {"hash_col": "value"}),
    ({"some_bool": {"BOOL": False}}, {"some_bool": False}),
    ({"some_map": {"M": {"a": {"N": "1"}, "b": {"L": [{"N": "2.5"}, {"S": "x"}]}}}},
     {"some_map": {"a": 1, "b": [2.5, "x"]}}),
    ({"some_list": {"L": [{"N": "1"}, {"M": {"k": {"N": "0.5"}}}, {"NULL": True}]}},
     {"some_list": [1, {"k": 0.5}, None]}),
    ({"name": {"S": '{"a": 1, "b": [1, 2]}'}}, {"name": {"a": 1, "b": [1, 2]}}),
    ({"name": {"S": "{not json}"}}, {"name": "{not json}"}),
    ({"name": {"S": "[1, 2]"}}, {"name": "[1, 2]"}),
    ({"name": {"S": "42"}}, {"name": "42"}),
])
def test_dynamo_to_dict(client, typed, expected):
    result = client.dynamo_to_dict(typed)

    assert result == expected
    for name, value in expected.items():
        assert type(result[name]) is type(value), name


def test_dynamo_to_dict_int_and_float_types(client):
    result = client.dynamo_to_dict({"some_int": {"N": "7"}, "some_float": {"N": "7.5"}})
    assert type(result["some_int"]) is int and type(result["some_float"]) is float


def test_dynamo_to_dict_dont_json_loads_results():
    client = DynamoDbClient({**CONFIG, "dont_json_loads_results": True}, dynamo_client=NoNetwork())
    assert client.dynamo_to_dict({"name": {"S": '{"a": 1}'}}) == {"name": '{"a": 1}'}


@pytest.mark.parametrize("config, argument, expected_keys", [
    (CONFIG, None, {"hash_col", "range_col"}),
    (CONFIG, False, {"hash_col", "range_col"}),
    (CONFIG, True, {"hash_col", "range_col", "unmapped"}),
    ({**CONFIG, "fetch_all_fields": True}, None, {"hash_col", "range_col", "unmapped"}),
    ({**CONFIG, "fetch_all_fields": True}, False, {"hash_col", "range_col"}),
    ({}, None, {"hash_col", "range_col", "unmapped"}),
])
def test_dynamo_to_dict_fetch_all_fields(config, argument, expected_keys):
    client = DynamoDbClient(config, dynamo_client=NoNetwork())
    typed = {"hash_col": {"S": "c"}, "range_col": {"N": "1"}, "unmapped": {"S": "u"}}

    assert set(client.dynamo_to_dict(typed, fetch_all_fields=argument)) == expected_keys


@pytest.mark.parametrize("row", [
    {"hash_col": "cat", "range_col": 1, "some_float": 2.5, "some_bool": True, "some_list": [1, "a", [2.5]],
     "some_map": {"n": {"deep": 1}}},
    {"hash_col": "x", "range_col": -7, "some_int": 0},
])
def test_dict_to_dynamo_and_back(client, row):
    assert client.dynamo_to_dict(client.dict_to_dynamo(row)) == row


# Request building and argument errors (no request is sent) ---------------------------------------------------------

def test_config_must_be_a_dict():
    with pytest.raises(ValueError, match="^config: "):
        DynamoDbClient(["not", "a", "dict"])


@pytest.mark.parametrize("call, field", [
    (lambda c: c.get_by_query({"hash_col": "c", "range_col": 1}, comparisons={"range_col": "!="}), "comparisons"),
    (lambda c: c.get_by_query({"hash_col": "c", "st_between_range_col": 1}), "keys"),
    (lambda c: c.get_by_query({"hash_col": "c", "en_between_range_col": 1}), "keys"),
    (lambda c: c.get_by_query({}), "keys"),
    (lambda c: c.get_by_query({"hash_col": "c"}, filter_expression="x ~ 1"), "filter_expression"),
    (lambda c: c.get_by_query({"hash_col": "c"}, filter_expression=""), "filter_expression"),
    (lambda c: c.update({"hash_col": "c", "range_col": 1}), "attributes_to_update"),
    (lambda c: c.update({"hash_col": "c", "range_col": 1}, attributes_to_increment={"n": "many"}),
     "attributes_to_increment"),
    (lambda c: c.update({"hash_col": "c", "range_col": 1}, {"a": 1}, condition_expression="a ~ 1"),
     "condition_expression"),
    (lambda c: c.update({"hash_col": "c", "range_col": 1}, {"some_int": "x"}), "some_int"),
    (lambda c: c.update([], {"a": 1}), "keys"),
    (lambda c: c.update({}, {"a": 1}), "keys"),
    (lambda c: c.make_delete_transaction_item({}), "keys"),
    (lambda c: c.make_put_transaction_item({"hash_col": "c"}, condition_expression="nonsense"),
     "condition_expression"),
    (lambda c: c.batch_write([("autotest_t", "upsert", {"a": 1})]), "requests"),
    (lambda c: c.batch_put([{"hash_col": "c", "range_col": 1, "weird": object()}]), "weird"),
    (lambda c: c.sleep_db(datetime.datetime.now(), "scan"), "action"),
    (lambda c: DynamoDbClient(dynamo_client=NoNetwork()).make_put_transaction_item({"a": 1}), "table_name"),
])
def test_argument_errors_name_the_field(client, call, field):
    with pytest.raises(ValueError) as info:
        call(client)

    assert str(info.value).startswith(f"{field}:"), str(info.value)


@pytest.mark.parametrize("test_flag, stage, refused", [
    (True, None, True),
    (False, "test", True),
    (False, "autotest", True),
    (False, "production", False),
    (False, None, False),
])
def test_test_mode_refuses_non_autotest_tables(monkeypatch, test_flag, stage, refused):
    if stage:
        monkeypatch.setenv("STAGE", stage)
    client = DynamoDbClient(dynamo_client=NoNetwork(), test=test_flag)

    assert client.make_put_transaction_item({"a": 1}, table_name="autotest_x")["Put"]["TableName"] == "autotest_x"
    if refused:
        with pytest.raises(RuntimeError, match="'sosw_tasks'.*autotest_"):
            client.make_put_transaction_item({"a": 1}, table_name="sosw_tasks")
    else:
        assert client.make_put_transaction_item({"a": 1}, table_name="sosw_tasks")["Put"]["TableName"] == "sosw_tasks"


def placeholders(request):
    """Placeholders referenced by the expressions of a request, and those it defines."""
    text = " ".join(request.get(k, "") for k in ("UpdateExpression", "ConditionExpression", "KeyConditionExpression",
                                                    "FilterExpression"))
    used = set(re.findall(r"[#:][A-Za-z0-9_]+", text))
    defined = set(request.get("ExpressionAttributeNames", {})) | set(request.get("ExpressionAttributeValues", {}))
    return used, defined, text


def test_update_transaction_item_escapes_every_name_and_defines_exactly_what_it_uses(client):
    item = client.make_update_transaction_item(
        {"hash_col": "c", "range_col": 1}, attributes_to_update={"status": "done", "name": "x", "some_float": 0.5},
        attributes_to_increment={"counter": 2, "comment": 1.5}, attributes_to_remove=["size", "data"],
        condition_expression="status = new AND attribute_exists name AND counter between 1 and 9")
    request = item["Update"]

    used, defined, text = placeholders(request)
    assert used == defined
    for word in ("status", "name", "counter", "comment", "size", "data", "some_float"):
        assert not re.search(rf"\b{word}\b", text), f"{word} not escaped in {text!r}"
    assert set(request["ExpressionAttributeNames"].values()) == {
        "status", "name", "some_float", "counter", "comment", "size", "data"}
    values = {json.dumps(v, sort_keys=True) for v in request["ExpressionAttributeValues"].values()}
    assert values >= {json.dumps(v, sort_keys=True) for v in (
        {"S": "done"}, {"S": "x"}, {"N": "0.5"}, {"N": "2"}, {"N": "1.5"}, {"S": "new"}, {"N": "1"}, {"N": "9"})}
    assert request["Key"] == {"hash_col": {"S": "c"}, "range_col": {"N": "1"}}
    assert request["TableName"] == "autotest_dynamo_db"
    assert request["UpdateExpression"].startswith("SET ") and " ADD " in request["UpdateExpression"]
    assert " REMOVE " in request["UpdateExpression"]


@pytest.mark.parametrize("make", [
    lambda c: c.make_put_transaction_item({"hash_col": "c", "range_col": 1, "status": "x"},
                                          condition_expression="attribute_not_exists hash_col"),
    lambda c: c.make_delete_transaction_item({"hash_col": "c", "range_col": 1},
                                             condition_expression=Attr("status").eq("x") & Attr("name").exists()),
    lambda c: c.make_put_transaction_item({"hash_col": "c", "range_col": 1}),
    lambda c: c.make_delete_transaction_item({"hash_col": "c", "range_col": 1}),
])
def test_put_and_delete_transaction_items_define_exactly_what_they_use(client, make):
    item = make(client)
    (action, request), = item.items()

    assert action in ("Put", "Delete")
    used, defined, _ = placeholders(request)
    assert used == defined
    assert request["TableName"] == "autotest_dynamo_db"
