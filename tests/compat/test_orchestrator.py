"""COMPAT.md "Essentials" / api.json ``sosw.orchestrator``: the Orchestrator as users of sosw 0.7.47 test it — built
under ``patch('boto3.client')``, with a MagicMock ``task_client`` and Labourers made by hand."""

from unittest.mock import MagicMock, patch

import pytest

from sosw.labourer import Labourer
from sosw.orchestrator import Orchestrator

LABOURERS = {"some_function": {"arn": "arn:aws:lambda:us-west-2:000000000000:function:some_function",
                               "max_simultaneous_invocations": 10}}


@pytest.fixture(autouse=True)
def no_config_rows():
    with patch("sosw.app.get_config", return_value={}) as get_config:
        yield get_config


@pytest.fixture
def orchestrator():
    """As users build it: real clients under a patched ``boto3.client``, then a MagicMock ``task_client``."""
    with patch("boto3.client"):
        result = Orchestrator(custom_config={"task_config": {"labourers": LABOURERS}})
    result.task_client = MagicMock()
    result.task_client.ecology_client.get_labourer_status.return_value = 3
    result.task_client.ecology_client.count_running_tasks_for_labourer.return_value = 1
    return result


def test_get_labourers_as_in_the_original():
    with patch("boto3.client"):
        orchestrator = Orchestrator(custom_config={"task_config": {"labourers": LABOURERS}})

    labourers = orchestrator.get_labourers()

    assert [(lab.id, lab.max_simultaneous_invocations) for lab in labourers] == [("some_function", 10)]
    assert labourers[0].arn == LABOURERS["some_function"]["arn"]


def test_get_labourers_asks_the_task_client(orchestrator):
    orchestrator.task_client.get_labourers.return_value = ["a labourer"]
    assert orchestrator.get_labourers() == ["a labourer"]
    orchestrator.task_client.get_labourers.assert_called_once_with()


def test_get_desired_invocation_number_for_labourer_asks_ecology_for_a_labourer_made_by_hand(orchestrator):
    labourer = Labourer(id="some_function", max_simultaneous_invocations=10)

    # Health 3 (Good): floor(10 x 0.75) = 7, minus 1 running.
    assert orchestrator.get_desired_invocation_number_for_labourer(labourer) == 6

    orchestrator.task_client.ecology_client.get_labourer_status.assert_called_once_with(labourer=labourer)


def test_invoke_for_labourer_invokes_the_desired_number_of_next_tasks(orchestrator):
    labourer = Labourer(id="some_function", max_simultaneous_invocations=10)
    tasks = [{"task_id": f"t{i}", "labourer_id": "some_function"} for i in range(6)]
    orchestrator.task_client.get_next_for_labourer.return_value = tasks
    orchestrator.task_client.invoke_tasks.return_value = [t["task_id"] for t in tasks]

    assert orchestrator.invoke_for_labourer(labourer) == 6

    orchestrator.task_client.get_next_for_labourer.assert_called_once_with(labourer, cnt=6)
    orchestrator.task_client.invoke_tasks.assert_called_once_with(labourer, tasks)


def test_call_event_invokes_for_every_registered_labourer(orchestrator):
    first, second = Labourer(id="first", max_simultaneous_invocations=4), Labourer(id="second")
    orchestrator.task_client.register_labourers.return_value = [first, second]
    orchestrator.task_client.get_next_for_labourer.side_effect = \
        lambda labourer, cnt: [{"task_id": f"{labourer.id}_{i}"} for i in range(cnt)]
    orchestrator.task_client.invoke_tasks.side_effect = lambda labourer, tasks: [t["task_id"] for t in tasks]

    # first: floor(4 x 0.75) - 1 running; second: the default limit 10 -> floor(7.5) - 1.
    assert orchestrator(event={}) == {"first": 2, "second": 6}
    assert orchestrator.stats.get("labourer_failures", 0) == 0
