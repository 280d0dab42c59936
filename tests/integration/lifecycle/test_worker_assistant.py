"""
WorkerAssistant: a failure reported after its task left ``sosw_tasks`` writes nothing, and a completion no orphan
row (completions of tasks in every state: ``test_reliability.py``); malformed events are refused naming the field at
fault.
"""

import json
from collections import Counter

import boto3
import pytest

from sosw import constants
from sosw.exceptions import InvalidEvent
from tests.integration.conftest import scan_all
from tests.integration.lifecycle.conftest import EXPIRY, EchoWorker, SilentWorker, by_id, meta_actions

TASKS, CLOSED, RETRY = constants.TASKS_TABLE, constants.CLOSED_TASKS_TABLE, constants.RETRY_TASKS_TABLE
ACTIONS = ("mark_task_as_completed", "mark_task_as_failed")


def invoke_assistant(event) -> dict:
    """Call the registered WorkerAssistant function the way a Worker could, waiting for its answer."""
    response = boto3.client("lambda").invoke(FunctionName=constants.WORKER_ASSISTANT_LAMBDA,
                                             Payload=json.dumps(event).encode())
    assert "FunctionError" not in response, response["Payload"].read()
    return json.loads(response["Payload"].read())


@pytest.mark.parametrize("action", ACTIONS)
def test_report_after_the_task_was_archived_creates_no_orphan(lifecycle, action):
    env = lifecycle({"w": {"max_simultaneous_invocations": 5}}, workers={"w": EchoWorker})
    tm = env.task_manager()
    [task_id] = tm.create_tasks(tm.get_labourer("w"), [{"n": 1}])
    env.orchestrator()({})
    env.wait()
    env.scavenger()({})
    archived = by_id(CLOSED)[task_id]

    answer = invoke_assistant({"action": action, "task_id": task_id, "stats": {"late": 1}, "result": {"x": 2}})

    # A completion finds the task closed as completed; a failure is for the tasks table only.
    status = "already_completed" if action == "mark_task_as_completed" else "not_found"
    assert answer == {"task_id": task_id, "status": status}
    assert scan_all(TASKS) == []
    assert by_id(CLOSED)[task_id] == archived
    assert Counter(meta_actions()[task_id]) == {"created": 1, "invoked": 1, "completed": 1, "archived": 1}


def test_failure_reported_after_the_task_moved_to_retry_creates_no_orphan(lifecycle):
    # A completion closes it (tests/integration/lifecycle/test_reliability.py); a failure is recorded nowhere.
    action = "mark_task_as_failed"
    env = lifecycle({"w": {"max_simultaneous_invocations": 5}}, workers={"w": SilentWorker})
    tm = env.task_manager()
    [task_id] = tm.create_tasks(tm.get_labourer("w"), [{"n": 1}])
    env.orchestrator()({})
    env.wait()
    env.clock.advance(EXPIRY + 1)
    env.scavenger()({})
    waiting = by_id(RETRY)[task_id]

    answer = env.assistant()({"action": action, "task_id": task_id, "stats": {"late": 1}})

    assert answer == {"task_id": task_id, "status": "not_found"}
    assert scan_all(TASKS) == []
    assert by_id(RETRY)[task_id] == waiting
    assert "completed" not in meta_actions()[task_id]


def test_report_for_a_task_that_never_existed(lifecycle):
    env = lifecycle({"w": {}})
    assert env.assistant()({"action": "mark_task_as_completed", "task_id": "nope"}) == \
        {"task_id": "nope", "status": "not_found"}
    assert scan_all(TASKS) == [] and scan_all(constants.META_TABLE) == []


def test_second_completion_changes_nothing(lifecycle):
    env = lifecycle({"w": {"max_simultaneous_invocations": 5}}, workers={"w": SilentWorker})
    tm = env.task_manager()
    [task_id] = tm.create_tasks(tm.get_labourer("w"), [{"n": 1}])
    env.clock.advance(1)
    env.orchestrator()({})
    env.wait()
    assistant = env.assistant()

    env.clock.advance(1)
    first = assistant({"action": "mark_task_as_completed", "task_id": task_id, "result": {"rows": 3}})
    completed = by_id(TASKS)[task_id]
    env.clock.advance(5)
    second = assistant({"action": "mark_task_as_completed", "task_id": task_id, "result": {"rows": 4}})
    failed = assistant({"action": "mark_task_as_failed", "task_id": task_id})

    assert first["status"] == "completed"
    assert second["status"] == "already_completed"
    assert failed["status"] not in ("failed", "not_found")  # a completed task is not failed afterwards
    assert by_id(TASKS)[task_id] == completed
    assert completed["result_rows"] == 3 and int(completed["completed_at"]) == env.clock.now - 5
    env.scavenger()({})
    assert by_id(CLOSED)[task_id]["labourer_id_task_status"] == "w_1"
    assert meta_actions()[task_id] == ["created", "invoked", "completed", "archived"]


def test_late_completion_of_a_task_back_in_the_queue_neither_strands_it_nor_blocks_the_queue(lifecycle):
    """Attempt 1 runs long: the task expires, goes to the retry table and back to the head of the queue; then
    attempt 1 reports completion. The task exists, so the completion is recorded; it must then be archived (or run
    again), and must not sit at the head of the queue where the Orchestrator can neither invoke nor skip it."""
    env = lifecycle({"w": {"max_simultaneous_invocations": 1}}, workers={"w": SilentWorker})
    tm = env.task_manager()
    ids = tm.create_tasks(tm.get_labourer("w"), [{"n": i} for i in range(3)])
    orchestrator, scavenger = env.orchestrator(), env.scavenger()
    assert orchestrator({}) == {"w": 1}
    env.wait()
    env.clock.advance(EXPIRY + 1)
    scavenger({})
    env.clock.advance(3600)
    scavenger({})
    assert tm.get_next_for_labourer(tm.register_labourers()[0], only_ids=True) == [ids[0]]  # back at the head

    assert env.assistant()({"action": "mark_task_as_completed", "task_id": ids[0]})["status"] == "completed"

    env.register_worker("w", EchoWorker)  # from now on the Worker completes its tasks
    for _ in range(4):
        env.clock.advance(1)
        orchestrator({})
        env.wait()
        env.clock.advance(1)
        scavenger({})
    assert by_id(TASKS) == {}, "tasks stranded in sosw_tasks"
    closed = by_id(CLOSED)
    assert sorted(closed) == sorted(ids)
    assert {t["labourer_id_task_status"] for t in closed.values()} == {"w_1"}


@pytest.mark.parametrize("event, field", [
    ({"task_id": "t1"}, "action"),
    ({"action": "mark_task_as_done", "task_id": "t1"}, "action"),
    ({"action": "mark_task_as_completed"}, "task_id"),
    ({"action": "mark_task_as_completed", "task_id": ""}, "task_id"),
    ({"action": "mark_task_as_completed", "task_id": 42}, "task_id"),
    ({"action": "mark_task_as_completed", "task_id": "t1", "stats": [1, 2]}, "stats"),
    ({"action": "mark_task_as_failed", "task_id": "t1", "result": "fine"}, "result"),
    ('{"action": "mark_task_as_completed", ', "event"),
    ("[1, 2]", "event"),
], ids=["no_action", "unknown_action", "no_task_id", "empty_task_id", "int_task_id", "stats_list", "result_str",
        "not_json", "json_list"])
def test_malformed_event_is_refused_naming_the_field(lifecycle, event, field):
    env = lifecycle({"w": {}})
    tm = env.task_manager()
    [task_id] = tm.create_tasks(tm.get_labourer("w"), [{"n": 1}])
    if isinstance(event, dict) and event.get("task_id") == "t1":
        event = {**event, "task_id": task_id}  # a real task: the refusal is about the event, not the task
    before = by_id(TASKS)

    with pytest.raises(InvalidEvent) as raised:
        env.assistant()(event)

    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")
    assert by_id(TASKS) == before
