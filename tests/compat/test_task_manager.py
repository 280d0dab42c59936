"""COMPAT.md "TaskManager": the single-task methods as users of sosw 0.7.47 call and mock them, and the queries
of the original against its tables (the moto server)."""

import json
import time
from unittest.mock import MagicMock, call, patch

import boto3
import pytest
from botocore.exceptions import ClientError

from sosw import constants
from sosw.labourer import Labourer
from sosw.managers.task import TaskManager

DELTA = constants.GREENFIELD_INVOCATION_DELTA
ARN = "arn:aws:lambda:us-west-2:000000000000:function:some_function"
LABOURERS = {"some_function": {"arn": ARN, "max_simultaneous_invocations": 10}}


@pytest.fixture(autouse=True)
def no_config_rows():
    with patch("sosw.app.get_config", return_value={}) as get_config:
        yield get_config


def manager_with_mocks(**config) -> TaskManager:
    """A TaskManager as users' unit tests build it: boto3 patched, then MagicMocks as clients."""
    with patch("boto3.client"):
        manager = TaskManager(custom_config={"labourers": LABOURERS, **config})
    manager.dynamo_db_client = MagicMock()
    manager.lambda_client = MagicMock()
    manager.ecology_client = MagicMock()
    return manager


def registered_labourer(start: int = None) -> Labourer:
    labourer = Labourer(id="some_function", arn=ARN)
    start = start or int(time.time())
    labourer.set_custom_attribute("start", start)
    labourer.set_custom_attribute("invoked", start + DELTA)
    labourer.set_custom_attribute("expired", start + DELTA - 1200)
    return labourer


def a_task(**fields) -> dict:
    return {"task_id": "123", "labourer_id": "some_function", "created_at": 1000, "greenfield": 1000,
            "attempts": 0, "payload": {"file": "a.csv"}, **fields}


def conditional_check_failed() -> ClientError:
    return ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "failed"}}, "UpdateItem")


def items(table: str) -> dict:
    return {item["task_id"]: item for item in boto3.resource("dynamodb").Table(table).scan()["Items"]}


def put_items(table: str, *rows: dict) -> None:
    for row in rows:
        boto3.resource("dynamodb").Table(table).put_item(Item=row)


@pytest.fixture
def manager(original_tables):
    """A real TaskManager on the original's tables (moto)."""
    return TaskManager(custom_config={"labourers": LABOURERS, "read_labourer_timeout": False})


# Single tasks, with mocks ---------------------------------------------------------------------------------------------


def test_is_valid_task():
    manager = manager_with_mocks()
    assert manager.is_valid_task({"task_id": "1", "labourer_id": "some_function", "created_at": 1}) is True
    assert manager.is_valid_task({"task_id": "1", "labourer_id": "some_function"}) is False
    assert manager.is_valid_task({}) is False


def test_invoke_task_is_is_valid_task_then_mark_task_invoked_then_lambda_invoke():
    manager = manager_with_mocks()
    steps = MagicMock()
    steps.attach_mock(manager.dynamo_db_client.update, "update")
    steps.attach_mock(manager.lambda_client.invoke, "invoke")
    labourer = registered_labourer()

    with patch.object(manager, "is_valid_task", wraps=manager.is_valid_task) as is_valid_task:
        manager.invoke_task(labourer=labourer, task=a_task())

    is_valid_task.assert_called_once()
    assert [step[0] for step in steps.mock_calls] == ["update", "invoke"]
    _, kwargs = manager.lambda_client.invoke.call_args
    assert kwargs["FunctionName"] == ARN and kwargs["InvocationType"] == "Event"
    assert json.loads(kwargs["Payload"]) == {"file": "a.csv", "task_id": "123"}
    manager.dynamo_db_client.transact_write.assert_not_called()


def test_invoke_task_refuses_an_invalid_task_and_bad_arguments():
    manager = manager_with_mocks()
    labourer = registered_labourer()
    with pytest.raises(ValueError):
        manager.invoke_task(labourer, task={"task_id": "123", "labourer_id": "some_function"})
    with pytest.raises(AttributeError):
        manager.invoke_task(labourer)
    with pytest.raises(AttributeError):
        manager.invoke_task(labourer, task_id="123", task=a_task())
    manager.dynamo_db_client.update.assert_not_called()
    manager.lambda_client.invoke.assert_not_called()


def test_invoke_task_skips_a_task_another_orchestrator_invoked():
    manager = manager_with_mocks()
    manager.dynamo_db_client.update.side_effect = conditional_check_failed()

    assert not manager.invoke_task(registered_labourer(), task=a_task())

    manager.lambda_client.invoke.assert_not_called()
    assert manager.stats["concurrent_task_invocations_skipped"] == 1


def test_mark_task_invoked_is_one_update_conditioned_on_greenfield_below_start(manager):
    labourer = registered_labourer()
    put_items(constants.TASKS_TABLE, a_task(payload=json.dumps({"file": "a.csv"})))
    with patch.object(manager.dynamo_db_client, "update", wraps=manager.dynamo_db_client.update) as update, \
            patch.object(manager.dynamo_db_client, "transact_write") as transact_write:
        manager.mark_task_invoked(labourer, a_task())
        update.assert_called_once()
        transact_write.assert_not_called()

        # The condition refuses a task that is not queued any more (greenfield above the start of the run).
        with pytest.raises(ClientError) as raised:
            manager.mark_task_invoked(labourer, a_task())
        assert raised.value.response["Error"]["Code"] == "ConditionalCheckFailedException"

    stored = items(constants.TASKS_TABLE)["123"]
    assert stored["attempts"] == 1
    assert labourer.get_attr("start") + DELTA <= stored["greenfield"] <= int(time.time()) + DELTA

    with pytest.raises(AssertionError):  # a task of another Labourer
        manager.mark_task_invoked(labourer, a_task(labourer_id="other_function"))


def test_create_task_writes_with_put():
    manager = manager_with_mocks()
    manager.dynamo_db_client.get_by_query.return_value = []  # an empty queue
    manager.meta_handler_client = None

    task = manager.create_task(registered_labourer(), payload={"file": "a.csv"}, rows=3)

    manager.dynamo_db_client.put.assert_called_once()
    written = manager.dynamo_db_client.put.call_args[0][0]
    assert written == task
    assert written["labourer_id"] == "some_function" and json.loads(written["payload"]) == {"file": "a.csv", "rows": 3}
    manager.dynamo_db_client.batch_write.assert_not_called()


def test_create_task_writes_the_event_log_when_on():
    manager = manager_with_mocks()
    manager.dynamo_db_client.get_by_query.return_value = []
    manager.meta_handler_client = MagicMock()

    task = manager.create_task(registered_labourer(), payload={"file": "a.csv"})

    manager.meta_handler_client.post.assert_called_once_with(task["task_id"], "created", labourer_id="some_function")


def test_register_labourers_registers_task_manager_in_ecology_and_max_duration():
    manager = manager_with_mocks()
    manager.ecology_client.get_max_labourer_duration.return_value = 300
    manager.ecology_client.get_labourer_status.return_value = 3

    [labourer] = manager.register_labourers()

    manager.ecology_client.register_task_manager.assert_called_once_with(manager)
    assert labourer.get_attr("max_duration") == 300
    assert labourer.get_attr("health") == 3
    assert labourer.get_attr("expired") == labourer.get_attr("invoked") - (labourer.duration + labourer.cooldown)


def test_register_labourers_takes_max_simultaneous_invocations_of_task_config():
    with patch("boto3.client"):
        manager = TaskManager(custom_config={"labourers": {"some_function": {}, "other_function": {
            "max_simultaneous_invocations": 5}}, "max_simultaneous_invocations": 1})
    manager.ecology_client = MagicMock()

    first, other = manager.register_labourers(health=False)

    assert first.get_attr("max_simultaneous_invocations") == 1
    assert other.get_attr("max_simultaneous_invocations") == 5


# Against the original's tables ----------------------------------------------------------------------------------------


def test_labourer_id_is_text_wherever_it_becomes_a_key(original_tables):
    manager = TaskManager(custom_config={"labourers": {1: {}}, "read_labourer_timeout": False})
    [labourer] = manager.register_labourers(health=False)
    assert labourer.id == 1

    task = manager.create_task(labourer, payload={"n": 1})
    [queued] = manager.get_next_for_labourer(labourer)

    assert items(constants.TASKS_TABLE)[task["task_id"]]["labourer_id"] == "1"
    assert queued["task_id"] == task["task_id"]
    assert manager.get_labourer("1").id == 1


def test_archive_task_archives_any_task_by_its_state(manager):
    now = int(time.time())
    put_items(constants.TASKS_TABLE,
              a_task(task_id="done", greenfield=now + DELTA, completed_at=now, payload="{}"),
              a_task(task_id="unfinished", greenfield=now + DELTA - 5000, attempts=3, payload="{}"))

    manager.archive_task("done")
    manager.archive_task("unfinished")

    closed = items(constants.CLOSED_TASKS_TABLE)
    assert closed["done"]["labourer_id_task_status"] == "some_function_1"
    assert closed["unfinished"]["labourer_id_task_status"] == "some_function_0"
    assert items(constants.TASKS_TABLE) == {}


def test_retry_task_takes_task_labourer_id_and_greenfield(manager):
    row = a_task(task_id="again", desired_launch_time=1, payload="{}")
    put_items(constants.RETRY_TASKS_TABLE, row)

    with pytest.raises(AssertionError):
        manager.retry_task(task=dict(row), labourer_id="other_function", greenfield=500)
    manager.retry_task(task=dict(row), labourer_id="some_function", greenfield=500)

    assert items(constants.RETRY_TASKS_TABLE) == {}
    queued = items(constants.TASKS_TABLE)["again"]
    assert queued["greenfield"] == 500 and "desired_launch_time" not in queued


def test_get_average_labourer_duration_counts_each_failed_attempt_at_max_duration(manager):
    now = int(time.time())
    invoked_at = now - 100
    put_items(constants.CLOSED_TASKS_TABLE,
              a_task(task_id="ok", greenfield=invoked_at + DELTA, completed_at=invoked_at + 10, closed_at=now,
                     labourer_id_task_status="some_function_1", payload="{}"),
              a_task(task_id="dead", greenfield=invoked_at + DELTA, attempts=3, closed_at=now,
                     labourer_id_task_status="some_function_0", payload="{}"))
    labourer = registered_labourer()
    labourer.set_custom_attribute("max_duration", 100)

    # (10 + 3 x 100) / 4 attempts
    assert manager.get_average_labourer_duration(labourer) == 78
    assert manager.get_average_labourer_duration(labourer=labourer) == 78


def test_get_tasks_to_retry_for_labourer_compares_desired_launch_time_with_start(manager):
    now = int(time.time())
    put_items(constants.RETRY_TASKS_TABLE, a_task(task_id="soon", desired_launch_time=now - 10, payload="{}"))

    assert manager.get_tasks_to_retry_for_labourer(registered_labourer(start=now - 100)) == []
    assert [t["task_id"] for t in manager.get_tasks_to_retry_for_labourer(registered_labourer(start=now))] == ["soon"]


def test_oldest_and_newest_greenfield_use_the_current_time_as_queue_line(manager):
    put_items(constants.TASKS_TABLE, a_task(task_id="first", greenfield=5000, payload="{}"),
              a_task(task_id="last", greenfield=6000, payload="{}"))
    labourer = registered_labourer(start=1500)  # an old start: the queue line is now, not the start

    assert manager.get_oldest_greenfield_for_labourer(labourer) == 5000
    assert manager.get_newest_greenfield_for_labourer(labourer) == 6000
    assert manager.get_length_of_queue_for_labourer(labourer) == 2


def test_invoke_task_by_id_against_the_tables(manager):
    put_items(constants.TASKS_TABLE, a_task(payload=json.dumps({"file": "a.csv"})))
    manager.lambda_client = MagicMock()
    labourer = registered_labourer()

    manager.invoke_task(labourer, task_id="123")
    manager.invoke_task(labourer, task_id="123")  # taken already: skipped

    payload = json.dumps({"file": "a.csv", "task_id": "123"}).encode()
    assert manager.lambda_client.invoke.call_args_list == [
        call(FunctionName=ARN, InvocationType="Event", Payload=payload)]
    assert items(constants.TASKS_TABLE)["123"]["attempts"] == 1
