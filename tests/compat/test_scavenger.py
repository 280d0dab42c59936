"""COMPAT.md "Essentials → Scavenger": called without an event, and a retry delay of ``max_duration × attempts``
(a floor only when configured); with the original's ``sns_client`` built in ``__init__``."""

import time
from unittest.mock import MagicMock, patch

import boto3
import pytest

from sosw.components.sns import SnsManager
from sosw.labourer import Labourer
from sosw.managers.ecology import EcologyManager
from sosw.managers.task import TaskManager
from sosw.scavenger import Scavenger

TASK_CONFIG = {"read_labourer_timeout": False, "labourers": {"some_function": {"duration": 10, "cooldown": 5}}}


@pytest.fixture(autouse=True)
def no_config_rows():
    with patch("sosw.app.get_config", return_value={}) as get_config:
        yield get_config


def scavenger_with_mocks(**config) -> Scavenger:
    with patch("boto3.client"):
        scavenger = Scavenger(custom_config=config)
    scavenger.task_client = MagicMock()
    scavenger.task_client.get_db_field_name.side_effect = lambda key: key
    scavenger.sns_client = MagicMock()
    return scavenger


def labourer_with(max_duration: int, max_attempts: int = 3) -> Labourer:
    labourer = Labourer(id="some_function")
    labourer.set_custom_attribute("max_duration", max_duration)
    labourer.set_custom_attribute("max_attempts", max_attempts)
    return labourer


def test_call_needs_no_event():
    scavenger = scavenger_with_mocks()
    labourer = labourer_with(max_duration=30)
    scavenger.task_client.register_labourers.return_value = [labourer]

    scavenger()

    scavenger.task_client.get_tasks_in_flight_for_labourer.assert_called_once_with(labourer)
    scavenger.task_client.get_tasks_to_retry_for_labourer.assert_called_once()
    assert scavenger.stats.get("labourer_failures", 0) == 0


@pytest.mark.parametrize("attempts, delay", [(1, 30), (2, 60), (3, 90)])
def test_retry_delay_is_max_duration_times_attempts_by_default(attempts, delay):
    scavenger = scavenger_with_mocks()
    task = {"task_id": "t1", "labourer_id": "some_function", "attempts": attempts}

    assert scavenger.calculate_delay_for_task_retry(labourer_with(max_duration=30), task) == delay


def test_retry_delay_floor_stays_configurable_and_is_off_by_default():
    task = {"task_id": "t1", "labourer_id": "some_function", "attempts": 2}
    labourer = labourer_with(max_duration=5)

    assert scavenger_with_mocks().calculate_delay_for_task_retry(labourer, task) == 10
    assert scavenger_with_mocks(min_retry_delay=60).calculate_delay_for_task_retry(labourer, task) == 120


def test_sns_client_is_built_in_init_and_a_mock_assigned_to_it_gets_dead_tasks():
    with patch("boto3.client"):
        assert isinstance(Scavenger().sns_client, SnsManager)

    scavenger = scavenger_with_mocks()
    dead = {"task_id": "t1", "labourer_id": "some_function", "attempts": 3, "greenfield": 1}
    scavenger.task_client.archive_many.return_value = ["t1"]

    scavenger.process_expired_task(labourer_with(max_duration=30, max_attempts=3), dead)

    scavenger.task_client.archive_many.assert_called_once_with([dead], dead=True)
    scavenger.sns_client.send_message.assert_called_once()
    assert '"task_id": "t1"' in scavenger.sns_client.send_message.call_args.args[0]
    assert scavenger.stats["closed_dead_tasks"] == 1


def test_retry_delay_of_an_expired_task_in_the_retry_table(original_tables):
    """End to end on the original's tables: the task waits ``max_duration × attempts`` in ``sosw_retry_tasks``."""
    task_manager = TaskManager(custom_config=TASK_CONFIG)
    [task_id] = task_manager.create_tasks(task_manager.get_labourer("some_function"), [{"n": 1}])
    [labourer] = task_manager.register_labourers(health=False)
    [task] = task_manager.get_next_for_labourer(labourer)
    task_manager.mark_task_invoked(labourer, task)
    later = int(time.time()) + 10 + 5 + 10  # past duration + cooldown: expired

    with patch.object(TaskManager, "now", return_value=later), \
            patch.object(EcologyManager, "get_max_labourer_duration", return_value=10):
        assert Scavenger(custom_config={"task_config": TASK_CONFIG})({}) == {"tasks_moved_to_retry": 1}

    [item] = boto3.resource("dynamodb").Table("sosw_retry_tasks").scan()["Items"]
    assert item["task_id"] == task_id and item["attempts"] == 1
    assert item["desired_launch_time"] == later + 10 * 1
