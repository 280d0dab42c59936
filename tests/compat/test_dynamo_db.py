"""COMPAT.md "DynamoDbClient": ``create`` / ``build_put_query`` / ``build_delete_query`` /
``make_delete_transaction_item(row, table_name)``, ``consistent_read=`` and ``index_name=`` on reads, ``patch`` through
``update``, the 0.7.47 typing of ``dict_to_dynamo`` / ``dynamo_to_dict``, the original's exception types, and a
``dynamo_client`` that is built in ``__init__`` and stays assignable.

Written the way users test their code against sosw: ``patch('boto3.client')``, MagicMocks assigned to
``dynamo_client``, and the moto server with the original's tables for what reads or writes DynamoDB."""

import datetime
from unittest.mock import MagicMock, patch

import boto3
import pytest

from sosw import constants
from sosw.components.dynamo_db import DynamoDbClient, clean_dynamo_table
from sosw.exceptions import ConditionCheckFailed, TransactionCancelled

TASKS = constants.TASKS_TABLE
CONFIG = {
    "table_name": TASKS,
    "hash_key": "task_id",
    "row_mapper": {"task_id": "S", "labourer_id": "S", "greenfield": "N", "attempts": "N", "payload": "S"},
    "required_fields": ["task_id", "labourer_id"],
}
TASK = {"task_id": "t1", "labourer_id": "some_lambda", "greenfield": 1000, "attempts": 0}


@pytest.fixture
def mocked():
    """A client whose boto3 client is the MagicMock of ``patch('boto3.client')``, as in users' unit tests."""
    with patch("boto3.client"):
        client = DynamoDbClient(CONFIG)
    client.dynamo_client.get_paginator.return_value.paginate.return_value = [{"Items": [], "Count": 0}]
    client.dynamo_client.batch_get_item.return_value = {"Responses": {TASKS: []}}
    return client


@pytest.fixture
def tasks(original_tables):
    """A client of the original's ``sosw_tasks`` table on the moto server."""
    return DynamoDbClient(CONFIG)


def stored(task_id):
    """The raw item of ``sosw_tasks``, read with plain boto3."""
    return boto3.client("dynamodb").get_item(TableName=TASKS, Key={"task_id": {"S": task_id}},
                                             ConsistentRead=True).get("Item")


# create, build_put_query, build_delete_query, make_delete_transaction_item -----------------------------------------

def test_create_refuses_to_overwrite(tasks):
    tasks.create(TASK)

    with pytest.raises(tasks.dynamo_client.exceptions.ConditionalCheckFailedException):
        tasks.create({**TASK, "attempts": 5})

    assert stored("t1")["attempts"] == {"N": "0"}


def test_create_conditions_the_put_on_the_config_hash_key(mocked):
    mocked.create(TASK, table_name="autotest_tasks")

    request = mocked.dynamo_client.put_item.call_args.kwargs
    assert request["TableName"] == "autotest_tasks"
    assert request["Item"]["task_id"] == {"S": "t1"}
    assert request["ConditionExpression"].startswith("attribute_not_exists(")
    assert list(request["ExpressionAttributeNames"].values()) == ["task_id"]
    mocked.dynamo_client.describe_table.assert_not_called()


def test_build_put_query(mocked):
    assert mocked.build_put_query(TASK) == {"TableName": TASKS, "Item": {
        "task_id": {"S": "t1"}, "labourer_id": {"S": "some_lambda"}, "greenfield": {"N": "1000"},
        "attempts": {"N": "0"}}}

    query = mocked.build_put_query(row=TASK, table_name="other", overwrite_existing=False)
    assert query["TableName"] == "other"
    assert query["ExpressionAttributeNames"] == {"#n0": "task_id"}
    assert query["ConditionExpression"] == "attribute_not_exists(#n0)"


def test_build_delete_query(mocked):
    assert mocked.build_delete_query(delete_keys={"task_id": "t1"}) == {
        "TableName": TASKS, "Key": {"task_id": {"S": "t1"}}}
    assert mocked.build_delete_query({"task_id": "t1"}, "other")["TableName"] == "other"


def test_make_delete_transaction_item(tasks):
    tasks.put(TASK)
    tasks.put({**TASK, "task_id": "t2"})

    delete = tasks.make_delete_transaction_item(row={"task_id": "t1"}, table_name=TASKS)
    assert delete == {"Delete": {"TableName": TASKS, "Key": {"task_id": {"S": "t1"}}}}
    tasks.transact_write(delete, tasks.make_put_transaction_item({**TASK, "task_id": "t3"}, TASKS))

    assert stored("t1") is None
    assert stored("t2") is not None and stored("t3") is not None


# consistent_read and index_name --------------------------------------------------------------------------------------

def test_get_by_query_consistent_read(mocked):
    mocked.get_by_query({"task_id": "t1"}, consistent_read=True)

    assert mocked.dynamo_client.get_paginator.return_value.paginate.call_args.kwargs["ConsistentRead"] is True
    mocked.get_by_query({"task_id": "t1"})
    assert "ConsistentRead" not in mocked.dynamo_client.get_paginator.return_value.paginate.call_args.kwargs


def test_get_by_query_consistent_read_with_index_name_raises_value_error(mocked):
    with pytest.raises(ValueError, match="consistent_read"):
        mocked.get_by_query({"labourer_id": "some_lambda"}, index_name=constants.TASKS_GREENFIELD_INDEX,
                            consistent_read=True)

    mocked.dynamo_client.get_paginator.return_value.paginate.assert_not_called()


@pytest.mark.parametrize("method", ["get_by_scan", "get_by_scan_generator"])
def test_scans_consistent_read_and_index_name(tasks, method):
    tasks.put(TASK)
    tasks.put({"task_id": "no_greenfield", "labourer_id": "some_lambda"})

    def scan(**kwargs):
        result = getattr(tasks, method)(**kwargs)
        return result if method == "get_by_scan" else [item for page in result for item in page]

    assert [i["task_id"] for i in scan(consistent_read=True)] != []
    assert [i["task_id"] for i in scan(index_name=constants.TASKS_GREENFIELD_INDEX)] == ["t1"]
    assert [i["task_id"] for i in scan(attrs={"labourer_id": "some_lambda"}, table_name=TASKS,
                                       index_name=constants.TASKS_GREENFIELD_INDEX, strict=None,
                                       fetch_all_fields=False, consistent_read=False)] == ["t1"]
    tasks.config["index_name"] = constants.TASKS_GREENFIELD_INDEX
    assert [i["task_id"] for i in scan()] == ["t1"]


def test_scans_pass_consistent_read(mocked):
    mocked.get_by_scan(consistent_read=True)
    assert mocked.dynamo_client.get_paginator.return_value.paginate.call_args.kwargs["ConsistentRead"] is True

    list(mocked.get_by_scan_generator(consistent_read=False))
    assert mocked.dynamo_client.get_paginator.return_value.paginate.call_args.kwargs["ConsistentRead"] is False


def test_batch_get_items_one_table_consistent_read(mocked):
    mocked.batch_get_items_one_table(keys_list=[{"task_id": "t1"}], table_name=TASKS, max_retries=0,
                                     retry_wait_base_time=0.1, strict=None, fetch_all_fields=True,
                                     consistent_read=True)

    request = mocked.dynamo_client.batch_get_item.call_args.kwargs["RequestItems"][TASKS]
    assert request == {"Keys": [{"task_id": {"S": "t1"}}], "ConsistentRead": True}


# patch -------------------------------------------------------------------------------------------------------------

def test_patch_goes_through_update_with_the_hash_key_condition(mocked):
    mocked.update = MagicMock()

    mocked.patch({"task_id": "t1"}, attributes_to_update={"attempts": 1})

    mocked.update.assert_called_once_with(
        keys={"task_id": "t1"}, attributes_to_update={"attempts": 1}, attributes_to_increment=None, table_name=None,
        condition_expression="attribute_exists task_id", attributes_to_remove=None)


def test_patch_of_a_missing_item_raises_the_conditional_check_exception(tasks):
    with pytest.raises(tasks.dynamo_client.exceptions.ConditionalCheckFailedException):
        tasks.patch({"task_id": "nope"}, attributes_to_update={"attempts": 1})

    assert stored("nope") is None


# dict_to_dynamo / dynamo_to_dict -------------------------------------------------------------------------------------

def test_dict_to_dynamo_not_strict_stores_numeric_looking_strings_as_numbers(tasks):
    row = {"task_id": "t1", "labourer_id": "42", "count": "42", "ratio": "1.5", "flag": "True", "name": "abc",
           "negative": "-5"}

    assert tasks.dict_to_dynamo(row, strict=False) == {
        "task_id": {"S": "t1"}, "labourer_id": {"S": "42"}, "count": {"N": "42"}, "ratio": {"N": "1.5"},
        "flag": {"BOOL": True}, "name": {"S": "abc"}, "negative": {"S": "-5"}}

    tasks.put(row)
    item = stored("t1")
    assert item["count"] == {"N": "42"} and item["flag"] == {"BOOL": True} and item["labourer_id"] == {"S": "42"}
    assert tasks.get_by_scan(attrs={"count": "42"}, fetch_all_fields=True)[0]["count"] == 42


def test_dict_to_dynamo_strict_raises_only_for_a_required_field_absent_from_row_mapper(mocked):
    assert mocked.dict_to_dynamo({"task_id": "t1", "unmapped": 1}) == {"task_id": {"S": "t1"}}

    mocked.config["required_fields"] = ["task_id", "unmapped"]
    with pytest.raises(ValueError, match="unmapped"):
        mocked.dict_to_dynamo({"task_id": "t1", "unmapped": 1})
    assert mocked.dict_to_dynamo({"task_id": "t1"}, strict=True) == {"task_id": {"S": "t1"}}


def test_dynamo_to_dict_raises_value_error_when_a_stored_type_differs_from_row_mapper(mocked):
    with pytest.raises(ValueError, match="greenfield"):
        mocked.dynamo_to_dict({"task_id": {"S": "t1"}, "greenfield": {"S": "1000"}})

    assert mocked.dynamo_to_dict({"task_id": {"S": "t1"}, "greenfield": {"N": "1000"}}) == {
        "task_id": "t1", "greenfield": 1000}


# Exception types -----------------------------------------------------------------------------------------------------

def test_bad_comparison_is_an_assertion_error(mocked):
    with pytest.raises(AssertionError):
        mocked.get_by_query({"task_id": "t1", "greenfield": 5}, comparisons={"greenfield": "!="})


def test_bad_filter_expression_is_an_assertion_error(mocked):
    with pytest.raises(AssertionError):
        mocked.get_by_query({"task_id": "t1"}, filter_expression="greenfield ~ 5")


def test_sleep_db_bad_action_is_a_key_error(mocked):
    with pytest.raises(KeyError):
        mocked.sleep_db(datetime.datetime.now(), "scan")


def test_config_that_is_not_a_dict_is_an_assertion_error():
    with patch("boto3.client"), pytest.raises(AssertionError):
        DynamoDbClient(["table_name", TASKS])


def test_missing_table_name_is_a_runtime_error():
    with patch("boto3.client"):
        client = DynamoDbClient({"row_mapper": CONFIG["row_mapper"]})

    with pytest.raises(RuntimeError, match="table_name"):
        client.get_by_query({"task_id": "t1"})


def test_test_mode_refusal_is_an_assertion_error_and_the_config_table_is_allowed(monkeypatch):
    monkeypatch.setenv("STAGE", "test")
    with patch("boto3.client"):
        client = DynamoDbClient(CONFIG)

    with pytest.raises(AssertionError, match=TASKS):
        client.get_by_query({"task_id": "t1"})
    with pytest.raises(AssertionError):
        clean_dynamo_table(TASKS)
    client.get_by_query({"env": "production"}, table_name=constants.DEFAULT_CONFIG_TABLE)


def test_failed_conditional_write_is_catchable_as_both(tasks):
    tasks.put(TASK)

    with pytest.raises(tasks.dynamo_client.exceptions.ConditionalCheckFailedException) as info:
        tasks.update({"task_id": "t1"}, attributes_to_update={"attempts": 1}, condition_expression="attempts > 0")

    assert isinstance(info.value, ConditionCheckFailed)
    assert isinstance(info.value, boto3.client("dynamodb").exceptions.ConditionalCheckFailedException)
    assert info.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    assert stored("t1")["attempts"] == {"N": "0"}


def test_cancelled_transaction_is_catchable_as_both(tasks):
    tasks.put(TASK)
    put = tasks.make_put_transaction_item({**TASK, "task_id": "t2"}, TASKS)
    refused = tasks.make_put_transaction_item(TASK, TASKS, condition_expression="attribute_not_exists task_id")

    with pytest.raises(tasks.dynamo_client.exceptions.TransactionCanceledException) as info:
        tasks.transact_write(put, refused)

    assert isinstance(info.value, TransactionCancelled)
    assert info.value.reasons == [None, "ConditionalCheckFailed"]
    assert stored("t2") is None


# dynamo_client -------------------------------------------------------------------------------------------------------

def test_dynamo_client_is_built_in_init_under_patched_boto3_client():
    with patch("boto3.client") as boto3_client:
        client = DynamoDbClient({**CONFIG, "region_name": "eu-west-1"})

    assert client.dynamo_client is boto3_client.return_value
    assert boto3_client.call_args.args == ("dynamodb",)
    assert boto3_client.call_args.kwargs["config"].region_name == "eu-west-1"


def test_dynamo_client_stays_a_plain_assignable_attribute(tasks):
    tasks.dynamo_client = MagicMock()
    tasks.dynamo_client.get_paginator.return_value.paginate.return_value = [
        {"Items": [{"task_id": {"S": "t1"}, "greenfield": {"N": "7"}}], "Count": 1}]

    assert tasks.get_by_query({"task_id": "t1"}) == [{"task_id": "t1", "greenfield": 7}]
    tasks.put(TASK)

    tasks.dynamo_client.get_paginator.assert_called_once_with("query")
    tasks.dynamo_client.put_item.assert_called_once()
    assert "dynamo_client" in vars(tasks)
