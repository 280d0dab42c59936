"""COMPAT.md "MetaHandler": the event log of sosw 0.7.47 — its names, the Lambda context in every event, and the
Essentials writing it by default to ``sosw_tasks_meta``."""

import time
from types import SimpleNamespace
from unittest.mock import MagicMock, patch

import boto3
import pytest

import sosw.app
from sosw import constants
from sosw.managers import meta_handler
from sosw.managers.meta_handler import MetaHandler
from sosw.orchestrator import Orchestrator

CONTEXT = SimpleNamespace(function_name="sosw_orchestrator", aws_request_id="req-1",
                          log_stream_name="2026/11/26/[$LATEST]abc",
                          invoked_function_arn="arn:aws:lambda:us-west-2:000000000000:function:sosw_orchestrator")


@pytest.fixture(autouse=True)
def no_config_rows():
    with patch("sosw.app.get_config", return_value={}) as get_config:
        yield get_config


@pytest.fixture
def context(monkeypatch):
    monkeypatch.setattr(sosw.app.global_vars, "lambda_context", CONTEXT)
    return CONTEXT


def events(task_id: str) -> list:
    table = boto3.resource("dynamodb").Table(constants.META_TABLE)
    return sorted(table.query(KeyConditionExpression="task_id = :t", ExpressionAttributeValues={":t": task_id})
                  ["Items"], key=lambda item: item["created_at"])


def test_context_fields_mappings_and_available_actions_mapping():
    assert MetaHandler.CONTEXT_FIELDS_MAPPINGS == {"author": "function_name", "invocation_id": "aws_request_id",
                                                   "log_stream_name": "log_stream_name"}
    assert MetaHandler.AVAILABLE_ACTIONS_MAPPING == {}


def test_module_level_global_vars_is_the_one_of_sosw_app():
    assert meta_handler.global_vars is sosw.app.global_vars


def test_each_event_carries_author_invocation_id_and_log_stream_name_from_the_context(original_tables):
    handler = MetaHandler()
    sosw.app.global_vars.lambda_context = CONTEXT  # set after construction: read at call time
    try:
        handler.post(task_id="123", action="invoked", labourer_id="some_function")
    finally:
        sosw.app.global_vars.lambda_context = None

    [event] = events("123")
    assert event["action"] == "invoked" and event["labourer_id"] == "some_function"
    assert event["author"] == "sosw_orchestrator"
    assert event["invocation_id"] == "req-1"
    assert event["log_stream_name"] == "2026/11/26/[$LATEST]abc"
    assert abs(float(event["created_at"]) - time.time()) < 60


def test_context_fields_come_from_a_patched_global_vars():
    handler = MetaHandler()
    handler.dynamo_db_client = MagicMock()
    with patch("sosw.managers.meta_handler.global_vars") as global_vars:
        global_vars.lambda_context = SimpleNamespace(function_name="my_worker", aws_request_id="req-2",
                                                     log_stream_name="stream")
        handler.post(task_id="123", action="completed")

    row = handler.dynamo_db_client.put.call_args[0][0]
    assert (row["author"], row["invocation_id"], row["log_stream_name"]) == ("my_worker", "req-2", "stream")


def test_context_fields_may_not_be_passed():
    handler = MetaHandler()
    handler.dynamo_db_client = MagicMock()
    with pytest.raises(AssertionError):
        handler.post(task_id="123", action="completed", author="me")
    handler.dynamo_db_client.put.assert_not_called()


def test_essentials_write_the_event_log_by_default_to_sosw_tasks_meta(original_tables, context):
    orchestrator = Orchestrator(custom_config={"task_config": {"labourers": {"some_function": {}},
                                                               "read_labourer_timeout": False}})
    task_manager = orchestrator.task_client
    assert task_manager.meta_handler_client.table_name == constants.META_TABLE

    task_id = task_manager.create_task(task_manager.get_labourer("some_function"), payload={"n": 1})["task_id"]

    [event] = events(task_id)
    assert event["action"] == "created"
    assert (event["author"], event["invocation_id"], event["log_stream_name"]) == \
           ("sosw_orchestrator", "req-1", "2026/11/26/[$LATEST]abc")


def test_write_meta_to_ddb_false_turns_the_log_off(original_tables):
    handler = MetaHandler(custom_config={"write_meta_to_ddb": False})
    handler.post(task_id="123", action="invoked")
    assert events("123") == []


def test_meta_handler_reads_no_config_row(no_config_rows, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "my_worker")
    handler = MetaHandler(custom_config={"dynamo_db_config": {"table_name": "my_tasks_meta"}})
    no_config_rows.assert_not_called()  # the original's MetaHandler is no Processor: only its custom_config
    assert handler.table_name == "my_tasks_meta"
