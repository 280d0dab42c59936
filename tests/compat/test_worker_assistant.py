"""COMPAT.md "Essentials → WorkerAssistant": JSON text ``stats`` / ``result``, the top-level ``dynamo_db_config``
and a ``dynamo_db_client`` attribute, ``get_db_field_name(field)``, and ``mark_task_as_failed`` on a queued task."""

import copy
import time
from unittest.mock import MagicMock, patch

import boto3
import pytest

from sosw import constants
from sosw.managers.task import TaskManager
from sosw.worker_assistant import WorkerAssistant

TASK_CONFIG = {"read_labourer_timeout": False, "labourers": {"some_function": {}}}


@pytest.fixture(autouse=True)
def no_config_rows():
    with patch("sosw.app.get_config", return_value={}) as get_config:
        yield get_config


@pytest.fixture
def assistant():
    with patch("boto3.client"):
        return WorkerAssistant(custom_config={"test": True})


def tasks_table():
    return boto3.resource("dynamodb").Table(constants.TASKS_TABLE)


@pytest.mark.parametrize("action", ["mark_task_as_completed", "mark_task_as_failed"])
def test_stats_and_result_may_be_json_text(assistant, action):
    event = {"action": action, "task_id": "123", "stats": '{"rows": 5}', "result": '{"total": 6}'}

    with patch(f"sosw.worker_assistant.WorkerAssistant.{action}") as method:
        assistant(event)

    method.assert_called_once_with(task_id="123", stats={"rows": 5}, result={"total": 6})


def test_call_passes_the_method_only_what_the_event_has(assistant):
    with patch("sosw.worker_assistant.WorkerAssistant.mark_task_as_completed") as method:
        assistant({"action": "mark_task_as_completed", "task_id": "123"})

    method.assert_called_once_with(task_id="123")


def test_dynamo_db_client_attribute_is_the_tasks_table_client_and_stays_assignable(assistant):
    assert assistant.dynamo_db_client is assistant.task_client.dynamo_db_client
    assistant.dynamo_db_client = MagicMock()

    assistant.mark_task_as_completed(task_id="123", result={"rows": 2})

    call = assistant.dynamo_db_client.update.call_args
    assert call.kwargs.get("keys", call.args[0] if call.args else None) == {"task_id": "123"}
    assert call.kwargs["attributes_to_update"]["result_rows"] == 2


def test_get_db_field_name_reads_field_names_of_the_top_level_dynamo_db_config():
    with patch("boto3.client"):
        assistant = WorkerAssistant(custom_config={"dynamo_db_config": {"field_names": {"task_id": "id"}}})

    assert assistant.get_db_field_name(field="task_id") == "id"
    assert assistant.get_db_field_name(field="completed_at") == "completed_at"


def test_top_level_dynamo_db_config_is_read(original_tables):
    spec = copy.deepcopy(constants.TABLE_SCHEMAS[constants.TASKS_TABLE])
    spec["TableName"] = "my_tasks"
    boto3.client("dynamodb").create_table(**spec)
    invoked = {"task_id": "t1", "labourer_id": "some_function", "created_at": 1, "attempts": 1, "payload": "{}",
               "greenfield": int(time.time()) + constants.GREENFIELD_INVOCATION_DELTA}
    boto3.resource("dynamodb").Table("my_tasks").put_item(Item=invoked)
    assistant = WorkerAssistant(custom_config={"dynamo_db_config": {"table_name": "my_tasks"}})

    answer = assistant({"action": "mark_task_as_completed", "task_id": "t1", "result": {"rows": 2}})

    assert answer == {"task_id": "t1", "status": "completed"}
    item = boto3.resource("dynamodb").Table("my_tasks").get_item(Key={"task_id": "t1"})["Item"]
    assert item["completed_at"] > 0 and item["result_rows"] == 2
    assert tasks_table().scan()["Items"] == []  # nothing written to the default table


def test_mark_task_as_failed_on_a_queued_task_records_failed_attempts_and_result(original_tables):
    task_manager = TaskManager(custom_config=TASK_CONFIG)
    [task_id] = task_manager.create_tasks(task_manager.get_labourer("some_function"), [{"n": 1}])
    queued = tasks_table().get_item(Key={"task_id": task_id})["Item"]
    assistant = WorkerAssistant(custom_config={"task_config": TASK_CONFIG})

    assistant({"action": "mark_task_as_failed", "task_id": task_id, "stats": {"rows": 1},
               "result": {"error": "HTTP 503"}})
    assistant.mark_task_as_failed(task_id=task_id, result={"error": "timeout"})

    item = tasks_table().get_item(Key={"task_id": task_id})["Item"]
    assert item["failed_attempts"] == 2
    assert item["result_error"] == "timeout" and item["stat_rows"] == 1
    assert item["greenfield"] == queued["greenfield"] and "completed_at" not in item  # still queued, in its place
    events = boto3.resource("dynamodb").Table(constants.META_TABLE).scan()["Items"]
    assert sorted(e["action"] for e in events if e["task_id"] == task_id) == ["failed", "failed"]


@pytest.mark.parametrize("call", ["event", "method"])
def test_a_task_id_that_is_no_string_raises_assertion_error_as_the_original(assistant, call):
    assistant.dynamo_db_client = MagicMock()

    with pytest.raises(AssertionError, match="task_id"):
        if call == "event":
            assistant({"action": "mark_task_as_completed", "task_id": 42})
        else:
            assistant.mark_task_as_failed(task_id=42)

    assistant.dynamo_db_client.update.assert_not_called()
