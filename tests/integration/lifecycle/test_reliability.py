"""
Reliability under races, on the moto server: a Worker's completion lands whatever state its task is in and whatever
moves race it (issue 12, item 1); ``max_simultaneous_invocations`` holds however many Orchestrators run at once
(item 3); a run in which a Labourer's work failed raises, naming it, after the other Labourers (item 6).
"""

import time

import boto3
import pytest
from botocore.exceptions import ClientError

from sosw import constants
from sosw.managers import _greenfield as rules
from sosw.managers._failures import LabourersFailed
from sosw.managers.task import TaskManager
from tests.integration.conftest import scan_all
from tests.integration.lifecycle.conftest import EXPIRY, SilentWorker, by_id, meta_actions, run_together

TASKS, CLOSED, RETRY = constants.TASKS_TABLE, constants.CLOSED_TASKS_TABLE, constants.RETRY_TASKS_TABLE
LEASE = f"{rules.LEASE_PREFIX}w"


def complete(env, task_id, rows=3):
    return env.assistant()({"action": "mark_task_as_completed", "task_id": task_id, "result": {"rows": rows}})["status"]


def make_tasks(env, count=1, state="running"):
    """``count`` tasks of Labourer ``w`` in ``state``: queued, running, expired, retry or dead."""
    boto3.client("sns").create_topic(Name=constants.DEAD_SNS_TOPIC)  # where the Scavenger announces dead tasks
    tm = env.task_manager()
    ids = tm.create_tasks(tm.get_labourer("w"), [{"n": i} for i in range(count)])
    if state == "queued":
        env.clock.advance(1)
        return ids
    env.clock.advance(1)
    assert env.orchestrator()({}) == {"w": count}
    env.wait()
    if state == "running":
        return ids
    env.clock.advance(EXPIRY + 1)
    if state in ("retry", "dead"):
        env.scavenger()({})
    return ids


def assert_closed_completed_once(env, task_id, history):
    """The task is closed as completed, in the closed table only, with the Worker's result, and its log says so."""
    assert task_id not in by_id(TASKS) and task_id not in by_id(RETRY)
    closed = by_id(CLOSED)[task_id]
    assert closed["labourer_id_task_status"] == "w_1"
    assert closed["result_rows"] == 3 and "completed_at" in closed
    assert meta_actions()[task_id] == history


# Completions always land ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", ["queued", "running", "expired"])
def test_a_completion_of_a_task_in_the_tasks_table_closes_it_as_completed(lifecycle, state):
    env = lifecycle({"w": {"max_simultaneous_invocations": 5}}, workers={"w": SilentWorker})
    [task_id] = make_tasks(env, state=state)

    assert complete(env, task_id) == "completed"
    assert complete(env, task_id, rows=4) == "already_completed"
    assert by_id(TASKS)[task_id]["result_rows"] == 3
    env.clock.advance(1)
    assert env.orchestrator()({}) == {"w": 0}  # a queued task that completed left the queue: it is not run again
    env.scavenger()({})

    invoked = [] if state == "queued" else ["invoked"]
    assert_closed_completed_once(env, task_id, ["created", *invoked, "completed", "archived"])


def test_a_completion_of_a_task_in_the_retry_table_closes_it_as_completed(lifecycle):
    env = lifecycle({"w": {"max_simultaneous_invocations": 5}}, workers={"w": SilentWorker})
    [task_id] = make_tasks(env, state="retry")
    assert task_id in by_id(RETRY)

    assert complete(env, task_id) == "completed"
    assert complete(env, task_id, rows=4) == "already_completed"

    assert_closed_completed_once(env, task_id, ["created", "invoked", "moved_to_retry", "completed", "archived"])
    env.clock.advance(3600)
    env.scavenger()({})  # nothing left to return to the queue
    assert by_id(TASKS) == {} and by_id(RETRY) == {}


def test_a_completion_of_a_task_closed_as_dead_re_closes_it_as_completed(lifecycle):
    env = lifecycle({"w": {"max_simultaneous_invocations": 5, "max_attempts": 1}}, workers={"w": SilentWorker})
    [task_id] = make_tasks(env, state="dead")
    assert by_id(CLOSED)[task_id]["labourer_id_task_status"] == "w_0"

    assert complete(env, task_id) == "completed"
    assert complete(env, task_id, rows=4) == "already_completed"

    assert_closed_completed_once(env, task_id, ["created", "invoked", "archived_dead", "completed", "archived"])
    tm = env.task_manager()
    counts = tm.count_tasks_by_state(tm.register_labourers(health=False)[0])
    assert (counts["closed"], counts["dead"]) == (1, 0)


def test_a_completion_of_a_task_that_never_existed_is_not_found_and_writes_nothing(lifecycle):
    env = lifecycle({"w": {}})
    assert complete(env, "nope") == "not_found"
    assert scan_all(TASKS) == scan_all(CLOSED) == scan_all(RETRY) == scan_all(constants.META_TABLE) == []


# Races, injected: another Essential moves the task just before the completion writes ----------------------------------


def before_first(monkeypatch, store, method, race):
    """Run ``race`` once, just before the first call of ``store.<method>``."""
    original = getattr(store, method)
    pending = [race]

    def wrapped(*args, **kwargs):
        if pending:
            pending.pop()()
        return original(*args, **kwargs)

    monkeypatch.setattr(store, method, wrapped)


@pytest.mark.parametrize("max_attempts, moved_to", [(3, "retry"), (1, "dead")])
def test_a_completion_racing_the_scavenger_that_moves_its_expired_task_lands(lifecycle, monkeypatch, max_attempts,
                                                                             moved_to):
    env = lifecycle({"w": {"max_simultaneous_invocations": 5, "max_attempts": max_attempts}},
                    workers={"w": SilentWorker})
    [task_id] = make_tasks(env, state="expired")
    assistant = env.assistant()
    before_first(monkeypatch, assistant.task_client._store, "write", lambda: env.scavenger()({}))

    status = assistant({"action": "mark_task_as_completed", "task_id": task_id, "result": {"rows": 3}})["status"]

    assert status == "completed"
    moved = "moved_to_retry" if moved_to == "retry" else "archived_dead"
    assert_closed_completed_once(env, task_id, ["created", "invoked", moved, "completed", "archived"])


def test_a_late_completion_racing_the_orchestrator_that_invokes_its_task_again_lands(lifecycle, monkeypatch):
    env = lifecycle({"w": {"max_simultaneous_invocations": 5}}, workers={"w": SilentWorker})
    [task_id] = make_tasks(env, state="retry")
    env.clock.advance(3600)
    env.scavenger()({})  # back at the head of the queue
    assistant = env.assistant()
    store = assistant.task_client._store
    # The completion finds the task queued; the Orchestrator invokes it before the completion is written.
    original_write, writes = store.write, []

    def write(action):
        writes.append(action)
        if len(writes) == 2:  # the late completion of the queued task: an Orchestrator got there first
            assert env.orchestrator()({}) == {"w": 1}
        return original_write(action)

    monkeypatch.setattr(store, "write", write)

    assert assistant({"action": "mark_task_as_completed", "task_id": task_id, "result": {"rows": 3}})["status"] == \
        "completed"

    assert by_id(TASKS)[task_id]["attempts"] == 2 and "completed_at" in by_id(TASKS)[task_id]
    env.wait()
    env.scavenger()({})
    assert_closed_completed_once(env, task_id, ["created", "invoked", "moved_to_retry", "retried", "invoked",
                                                "completed", "archived"])


def test_a_completion_racing_the_scavenger_that_returns_its_task_to_the_queue_lands(lifecycle, monkeypatch):
    env = lifecycle({"w": {"max_simultaneous_invocations": 5}}, workers={"w": SilentWorker})
    [task_id] = make_tasks(env, state="retry")
    assistant = env.assistant()

    def requeue():
        env.clock.advance(3600)
        env.scavenger()({})
        assert task_id in by_id(TASKS)

    before_first(monkeypatch, assistant.task_client._store, "apply", requeue)

    assert assistant({"action": "mark_task_as_completed", "task_id": task_id, "result": {"rows": 3}})["status"] == \
        "completed"

    env.clock.advance(1)
    assert env.orchestrator()({}) == {"w": 0}
    env.scavenger()({})
    assert_closed_completed_once(env, task_id, ["created", "invoked", "moved_to_retry", "retried", "completed",
                                                "archived"])


# Races, in threads ----------------------------------------------------------------------------------------------------


def test_completions_racing_two_scavengers_all_land_exactly_once(lifecycle):
    env = lifecycle({"w": {"max_simultaneous_invocations": 30, "max_attempts": 2}}, workers={"w": SilentWorker})
    ids = make_tasks(env, count=24, state="expired")
    assistants = [env.assistant() for _ in range(4)]
    scavengers = [env.scavenger(), env.scavenger()]
    calls = [lambda s=s: s({}) for s in scavengers]
    for index, task_id in enumerate(ids):
        calls.append(lambda a=assistants[index % 4], t=task_id: a({"action": "mark_task_as_completed", "task_id": t,
                                                                      "result": {"rows": 3}})["status"])
        calls.append(lambda a=assistants[(index + 1) % 4], t=task_id: a({
            "action": "mark_task_as_completed", "task_id": t, "result": {"rows": 3}})["status"])

    answers = run_together(calls)[2:]

    for task_id, pair in zip(ids, zip(answers[::2], answers[1::2])):
        assert sorted(pair) == ["already_completed", "completed"], (task_id, pair)
    env.clock.advance(1)
    env.scavenger()({})
    assert by_id(TASKS) == {} and by_id(RETRY) == {}
    closed = by_id(CLOSED)
    assert sorted(closed) == sorted(ids)
    assert {t["labourer_id_task_status"] for t in closed.values()} == {"w_1"}
    assert all(meta_actions()[t].count("completed") == 1 for t in ids)


# Limits hold under concurrency ----------------------------------------------------------------------------------------


def running_now(env):
    """Tasks of ``w`` the tasks table says are running: invoked, not completed, not expired."""
    tm = env.task_manager()
    return tm.get_count_of_running_tasks_for_labourer(tm.register_labourers(health=False)[0])


@pytest.mark.parametrize("orchestrators", [2, 5])
def test_concurrent_orchestrators_never_exceed_the_limit(lifecycle, monkeypatch, orchestrators):
    env = lifecycle({"w": {"max_simultaneous_invocations": 4}}, workers={"w": SilentWorker})
    tm = env.task_manager()
    tm.create_tasks(tm.get_labourer("w"), [{"n": i} for i in range(60)])
    team = [env.orchestrator() for _ in range(orchestrators)]
    for index, member in enumerate(team):
        # Each reads the queue a little later than the one before, after counting at the same moment: without a
        # lease, each would invoke the next tasks of the queue, up to the whole limit.
        read = member.task_client.get_next_for_labourer
        monkeypatch.setattr(member.task_client, "get_next_for_labourer",
                            lambda labourer, cnt, read=read, index=index: time.sleep(0.05 * index) or read(
                                labourer, cnt=cnt))

    for round_ in range(6):
        fresh = round_ % 2 == 0
        env.clock.advance(EXPIRY + 1 if fresh else 1)  # every other round the running ones have expired
        invoked = run_together([lambda o=o: o({}) for o in team])
        env.wait()
        assert running_now(env) == 4, (round_, invoked)
        assert sum(result["w"] for result in invoked) == (4 if fresh else 0), (round_, invoked)
    assert LEASE not in by_id(TASKS)  # every lease was given back


def test_an_orchestrator_that_counted_before_another_invoked_does_not_fill_the_limit_again(lifecycle, monkeypatch):
    env = lifecycle({"w": {"max_simultaneous_invocations": 4}}, workers={"w": SilentWorker})
    tm = env.task_manager()
    tm.create_tasks(tm.get_labourer("w"), [{"n": i} for i in range(20)])
    env.clock.advance(1)
    first, second = env.orchestrator(), env.orchestrator()
    # The first counts no running task; then the second runs whole; then the first reads the queue and invokes.
    original = first.task_client.get_next_for_labourer

    def get_next(labourer, cnt):
        assert second({}) == {"w": 4}
        return original(labourer, cnt=cnt)

    monkeypatch.setattr(first.task_client, "get_next_for_labourer", get_next)

    assert first({}) == {"w": 0}
    assert first.task_client.stats["invocations_held_by_limit"] == 4
    env.wait()
    assert running_now(env) == 4


def test_a_crashed_lease_holder_blocks_dispatch_no_longer_than_the_lease(lifecycle):
    env = lifecycle({"w": {"max_simultaneous_invocations": 3}}, workers={"w": SilentWorker}, dispatch_lease_seconds=30)
    tm = env.task_manager()
    tm.create_tasks(tm.get_labourer("w"), [{"n": i} for i in range(5)])
    env.clock.advance(1)
    tm._store.write(rules.lease_acquire(tm.fields, "w", "crashed", env.clock.now, 30))  # and never released
    orchestrator = env.orchestrator()

    assert orchestrator({}) == {"w": 0}
    env.clock.advance(30)
    assert orchestrator({}) == {"w": 0}
    assert orchestrator.task_client.stats["dispatch_lease_busy"] == 2
    env.clock.advance(1)
    assert orchestrator({}) == {"w": 3}
    env.wait()
    assert running_now(env) == 3
    assert LEASE not in by_id(TASKS)


def test_the_lease_is_one_update_one_count_and_one_release_per_labourer_and_run(lifecycle):
    env = lifecycle({"w": {"max_simultaneous_invocations": 3}}, workers={"w": SilentWorker})
    tm = env.task_manager()
    tm.create_tasks(tm.get_labourer("w"), [{"n": i} for i in range(5)])
    env.clock.advance(1)
    orchestrator = env.orchestrator()
    calls = orchestrator.task_client.dynamo_db_client.stats
    before = dict(calls)

    assert orchestrator({}) == {"w": 3}

    made = {k: v - before.get(k, 0) for k, v in calls.items() if v - before.get(k, 0)}
    # The Orchestrator's count and queue read, then the lease, the TaskManager's count, the marks, the release.
    assert made == {"dynamo_query_calls": 3, "dynamo_update_item_calls": 1, "dynamo_transact_write_items_calls": 2}


# Failing loudly -------------------------------------------------------------------------------------------------------


def access_denied(action):
    def refuse(*args, **kwargs):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": f"User: arn:aws:sts::000000000000:"
                                     f"assumed-role/sosw/x is not authorized to perform: {action}"}}, "Query")
    return refuse


def test_an_orchestrator_run_with_a_failed_labourer_raises_after_the_others(lifecycle, monkeypatch):
    env = lifecycle({"broken": {"max_simultaneous_invocations": 2}, "w": {"max_simultaneous_invocations": 2}},
                    workers={"w": SilentWorker, "broken": SilentWorker})
    tm = env.task_manager()
    for name in ("broken", "w"):
        tm.create_tasks(tm.get_labourer(name), [{"n": 1}, {"n": 2}])
    env.clock.advance(1)
    orchestrator = env.orchestrator()
    original = orchestrator.task_client.get_next_for_labourer
    monkeypatch.setattr(orchestrator.task_client, "get_next_for_labourer", lambda labourer, cnt: access_denied(
        "dynamodb:Query")() if labourer.id == "broken" else original(labourer, cnt=cnt))

    with pytest.raises(LabourersFailed) as raised:
        orchestrator({})

    assert isinstance(raised.value, RuntimeError)
    assert "broken: AccessDeniedException on Query" in str(raised.value)
    assert "dynamodb:Query" in str(raised.value) and "w:" not in str(raised.value)
    assert set(raised.value.failures) == {"broken"}
    env.wait()
    assert sorted(t["labourer_id"] for t in by_id(TASKS).values() if t["attempts"] == 1) == ["w", "w"]


def test_a_scavenger_run_with_a_failed_labourer_raises_after_the_others(lifecycle, monkeypatch):
    env = lifecycle({"broken": {"max_simultaneous_invocations": 2}, "w": {"max_simultaneous_invocations": 2}},
                    workers={"w": SilentWorker, "broken": SilentWorker})
    tm = env.task_manager()
    for name in ("broken", "w"):
        tm.create_tasks(tm.get_labourer(name), [{"n": 1}])
    env.clock.advance(1)
    env.orchestrator()({})
    env.wait()
    env.clock.advance(EXPIRY + 1)
    scavenger = env.scavenger()
    original = scavenger.task_client.get_tasks_in_flight_for_labourer
    monkeypatch.setattr(scavenger.task_client, "get_tasks_in_flight_for_labourer", lambda labourer: access_denied(
        "dynamodb:Query")() if labourer.id == "broken" else original(labourer))

    with pytest.raises(LabourersFailed, match=r"Scavenger: the work of 1 Labourer failed: broken: "
                                              r"AccessDeniedException on Query .*dynamodb:Query"):
        scavenger({})

    assert [t["labourer_id"] for t in by_id(RETRY).values()] == ["w"]  # the other Labourer was scavenged
    assert [t["labourer_id"] for t in by_id(TASKS).values()] == ["broken"]


def test_task_manager_default_config_names_the_lease():
    assert TaskManager.DEFAULT_CONFIG["dispatch_lease_seconds"] == 60


# Lambda's own retries -------------------------------------------------------------------------------------------------


def test_the_orchestrator_logs_once_a_labourer_whose_lambda_retries_async_invocations(lifecycle, caplog):
    env = lifecycle({"w": {"max_simultaneous_invocations": 5}, "quiet": {"max_simultaneous_invocations": 5}},
                    workers={"w": SilentWorker, "quiet": SilentWorker}, read_labourer_timeout=True)
    boto3.client("lambda").put_function_event_invoke_config(FunctionName="quiet", MaximumRetryAttempts=0)
    orchestrator = env.orchestrator()

    with caplog.at_level("WARNING", logger="sosw.orchestrator"):
        orchestrator({})
        orchestrator({})  # a warm container: not asked again

    warnings = [r.getMessage() for r in caplog.records if "retries its asynchronous invocations" in r.getMessage()]
    assert warnings == ["Labourer w: Lambda retries its asynchronous invocations 2 time(s), on top of sosw's retries; "
                        "set EventInvokeConfig MaximumRetryAttempts: 0 on its function (the Worker templates do)"]
    assert orchestrator.stats["labourers_with_async_retries"] == 1
